"""An app stand-in: a separate process holding one database connection open (SQLite, PostgreSQL, MySQL).

It reads JSON commands on stdin, one per line, runs them on its connection
(autocommit, as an app's pool would), and answers each with a JSON line:
``{"sql": "...", "params": [...]}`` -> ``{"rows": [[...], ...]}`` or ``{"error": "..."}``.
``{"begin": true}`` opens a transaction that stays open until ``{"commit": true}``.
"""

from __future__ import annotations

import json
import sqlite3
import sys


def connect(kind: str, target: str):
    if kind == "sqlite":
        conn = sqlite3.connect(target, isolation_level=None, timeout=10)
        conn.execute("PRAGMA foreign_keys = ON")
        return conn, "?"
    if kind == "mysql":
        return MySQLConnection(target), "%s"
    import psycopg

    return psycopg.connect(target, autocommit=True), "%s"


class MySQLConnection:
    """PyMySQL behind the small part of psycopg's connection interface the worker uses."""

    def __init__(self, url: str) -> None:
        from urllib.parse import urlsplit

        import pymysql

        parts = urlsplit(url)
        self.conn = pymysql.connect(
            host=parts.hostname,
            port=parts.port or 3306,
            user=parts.username or "root",
            password=parts.password or "",
            database=parts.path.lstrip("/"),
            autocommit=True,
            charset="utf8mb4",
        )

    def execute(self, sql, params=()):
        cursor = self.conn.cursor()
        cursor.execute(sql, tuple(params) or None)
        return cursor


def main() -> None:
    kind, target = sys.argv[1], sys.argv[2]
    conn, _ = connect(kind, target)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        try:
            if command.get("begin"):
                conn.execute("BEGIN")
                rows = []
            elif command.get("commit"):
                conn.execute("COMMIT")
                rows = []
            else:
                cursor = conn.execute(command["sql"], command.get("params") or ())
                rows = [list(r) for r in cursor.fetchall()] if cursor.description else []
            print(json.dumps({"rows": rows}, default=str), flush=True)
        except Exception as exc:
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)


if __name__ == "__main__":
    main()
