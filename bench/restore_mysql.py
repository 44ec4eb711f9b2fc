"""MySQL/MariaDB restore: snapshot tables (the backend) vs a row-level undo log vs mysqldump.

    python -m bench.restore_mysql            # 1k, 100k and 1M rows; sessions changing 10 / 1,000 / 100,000
    python -m bench.restore_mysql --quick    # 1k and 100k rows; 10 and 1,000 changed

A real MariaDB is started from Debian's package. For every technique and
session size: take the checkpoint, let the app change rows through its own
connection, restore, and check the table and its AUTO_INCREMENT are back.

The undo log is a prototype written here for the measurement (typed
per-table log, AFTER row triggers, a set-based undo: delete every touched
key, re-insert each key's first old image). It is not a backend because
InnoDB fires no trigger for cascaded foreign-key actions or TRUNCATE.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pymysql

from bench.common import arguments, emit, machine
from replayqa.state import open_state
from tests.support.mariadb import MariaDBServer, start_mariadb

SCHEMA = [
    "CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40) NOT NULL, "
    "price INT NOT NULL)",
    "INSERT INTO items (name, price) SELECT CONCAT('item ', seq), seq % 1000 FROM seq_1_to_{size}",
]
UNDO = [
    "CREATE TABLE undo_items (seq BIGINT AUTO_INCREMENT PRIMARY KEY, kind CHAR(1) NOT NULL, "
    "id BIGINT, name VARCHAR(40), price INT, KEY (id, seq))",
    "CREATE TRIGGER undo_ins AFTER INSERT ON items FOR EACH ROW IF @restoring IS NULL THEN "
    "INSERT INTO undo_items (kind, id, name, price) VALUES ('N', NEW.id, NEW.name, NEW.price); END IF",
    "CREATE TRIGGER undo_upd AFTER UPDATE ON items FOR EACH ROW IF @restoring IS NULL THEN "
    "INSERT INTO undo_items (kind, id, name, price) VALUES ('O', OLD.id, OLD.name, OLD.price), "
    "('N', NEW.id, NEW.name, NEW.price); END IF",
    "CREATE TRIGGER undo_del AFTER DELETE ON items FOR EACH ROW IF @restoring IS NULL THEN "
    "INSERT INTO undo_items (kind, id, name, price) VALUES ('O', OLD.id, OLD.name, OLD.price); END IF",
]


def connect(server: MariaDBServer, db: str) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(host="127.0.0.1", port=server.port, user="root", database=db, autocommit=True)


def run(conn: pymysql.connections.Connection[Any], sql: str, params: Any = None) -> Any:
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def checksum(conn: pymysql.connections.Connection[Any]) -> tuple[Any, ...]:
    state = run(conn, "SELECT COUNT(*), SUM(price), MAX(id), SUM(CRC32(name)) FROM items")[0]
    counter = run(
        conn,
        "SELECT AUTO_INCREMENT FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'items'",
    )[0]
    return (*state, *counter)


def change(conn: pymysql.connections.Connection[Any], rows: int) -> None:
    """Update ``rows`` rows, then insert and delete one, so the counter moves too."""
    run(conn, "UPDATE items SET price = price + 1, name = CONCAT(name, '!') WHERE id <= %s", (rows,))
    run(conn, "INSERT INTO items (name, price) VALUES ('new', 1)")
    run(conn, "DELETE FROM items WHERE id = LAST_INSERT_ID()")


def timed(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def snapshot_tables(server: MariaDBServer, db: str, rows: int) -> dict[str, float]:
    with connect(server, db) as app:
        backend = open_state(server.dsn(db))
        backend.connect()
        try:
            before = checksum(app)
            checkpoint = timed(lambda: backend.checkpoint("start"))
            change(app, rows)
            restore = timed(lambda: backend.rollback("start"))
            assert checksum(app) == before
        finally:
            backend.disconnect()
    return {"checkpoint": checkpoint, "restore": restore}


def undo_log(server: MariaDBServer, db: str, rows: int) -> dict[str, float]:
    with connect(server, db) as app, connect(server, db) as replayqa:
        for statement in UNDO:
            run(replayqa, statement)
        try:
            before = checksum(app)
            marks: dict[str, Any] = {}

            def checkpoint() -> None:
                run(replayqa, "LOCK TABLES items READ, undo_items READ")
                marks["seq"] = run(replayqa, "SELECT COALESCE(MAX(seq), 0) FROM undo_items")[0][0]
                marks["auto"] = checksum(replayqa)[-1]
                run(replayqa, "UNLOCK TABLES")

            def restore() -> None:
                mark = marks["seq"]
                run(replayqa, "SET @restoring = 1, autocommit = 0")
                run(replayqa, "LOCK TABLES items WRITE, undo_items WRITE, undo_items AS e READ")
                run(
                    replayqa,
                    "DELETE items FROM items JOIN (SELECT DISTINCT id FROM undo_items WHERE seq > %s) d "
                    "ON items.id = d.id",
                    (mark,),
                )
                run(
                    replayqa,
                    "INSERT INTO items (id, name, price) SELECT id, name, price FROM undo_items "
                    "WHERE kind = 'O' AND seq > %s AND NOT EXISTS (SELECT 1 FROM undo_items AS e "
                    "WHERE e.id = undo_items.id AND e.seq > %s AND e.seq < undo_items.seq)",
                    (mark, mark),
                )
                run(replayqa, "DELETE FROM undo_items WHERE seq > %s", (mark,))
                run(replayqa, "COMMIT")
                run(replayqa, f"ALTER TABLE items AUTO_INCREMENT = {int(marks['auto'])}")
                run(replayqa, "UNLOCK TABLES")
                run(replayqa, "SET @restoring = NULL, autocommit = 1")

            checkpointed = timed(checkpoint)
            change(app, rows)
            restored = timed(restore)
            assert checksum(app) == before
        finally:
            for name in ("undo_ins", "undo_upd", "undo_del"):
                run(replayqa, f"DROP TRIGGER IF EXISTS {name}")
            run(replayqa, "DROP TABLE IF EXISTS undo_items")
    return {"checkpoint": checkpointed, "restore": restored}


def dump_restore(server: MariaDBServer, db: str, rows: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder, connect(server, db) as app:
        dump = Path(folder) / "dump.sql"
        before = checksum(app)
        client = ["-h", "127.0.0.1", "-P", str(server.port), "-u", "root"]

        def save() -> None:
            with dump.open("wb") as out:
                subprocess.run(["mariadb-dump", *client, "--single-transaction", db], stdout=out, check=True)

        def load() -> None:
            with dump.open("rb") as source:
                subprocess.run(["mariadb", *client, db], stdin=source, check=True)

        checkpoint = timed(save)
        change(app, rows)
        restore = timed(load)
        assert checksum(app) == before
    return {"checkpoint": checkpoint, "restore": restore}


TECHNIQUES = {
    "snapshot tables": snapshot_tables,
    "undo log": undo_log,
    "mysqldump": dump_restore,
}


def main() -> None:
    args = arguments(__doc__, quick=True)
    sizes, sessions = (
        ([1_000, 100_000], [10, 1_000]) if args.quick else ([1_000, 100_000, 1_000_000], [10, 1_000, 100_000])
    )
    server = start_mariadb()
    results = []
    try:
        for size in sizes:
            results.extend(_measure_size(server, size, [rows for rows in sessions if rows <= size]))
    finally:
        server.stop()
    emit({"benchmark": "restore (MySQL/MariaDB)", "machine": machine(), "results": results}, args.json)


def _measure_size(server: MariaDBServer, size: int, sessions: list[int]) -> list[dict[str, object]]:
    name = f"bench_{size}_test"
    with server.admin() as admin:
        run(admin, f"CREATE DATABASE {name}")
    with connect(server, name) as conn:
        for statement in SCHEMA:
            run(conn, statement.replace("{size}", str(size)))
    results = []
    for rows in sessions:
        timings = {label: technique(server, name, rows) for label, technique in TECHNIQUES.items()}
        snapshot = timings["snapshot tables"]["restore"]
        results.append(
            {
                "table_rows": size,
                "session_rows": rows,
                "seconds": {k: {p: round(v, 4) for p, v in t.items()} for k, t in timings.items()},
                "restore ratio to snapshot tables": {
                    k: round(t["restore"] / snapshot, 2) for k, t in timings.items()
                },
            }
        )
    with server.admin() as admin:
        run(admin, f"DROP DATABASE {name}")
    return results


if __name__ == "__main__":
    main()
