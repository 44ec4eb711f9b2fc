"""PostgreSQL restore: undo log vs side-schema copy vs pg_dump/pg_restore vs TEMPLATE clone.

    python -m bench.restore            # 1M rows, sessions changing 10 / 1,000 / 100,000 rows
    python -m bench.restore --quick    # 100k rows, 1,000 changed

A real server is started from the machine's binaries. For every technique
and session size: take the checkpoint, let the app change rows, restore, and
check the table is back. The app keeps one connection open throughout, except
where a technique cannot allow it (TEMPLATE needs the database idle).
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from bench.common import arguments, emit, machine
from replayqa.state import open_state
from tests.support.postgres import PostgresServer, start_postgres

SCHEMA = """
CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL,
                    price int NOT NULL, meta jsonb);
INSERT INTO items (name, price, meta)
SELECT 'item ' || n, n % 1000, jsonb_build_object('n', n) FROM generate_series(1, {size}) AS n;
"""


def checksum(conn: psycopg.Connection) -> tuple:
    return conn.execute("SELECT count(*), sum(price), max(id), sum(hashtext(name)) FROM items").fetchone()


def change(conn: psycopg.Connection, rows: int) -> None:
    conn.execute("UPDATE items SET price = price + 1, name = name || '!' WHERE id <= %s", (rows,))


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def with_backend(url: str, rows: int) -> dict[str, float]:
    """replayqa's own backends: the app keeps its connection open throughout."""
    with psycopg.connect(url.replace("+undo", ""), autocommit=True) as app:
        backend = open_state(url)
        backend.connect()
        try:
            before = checksum(app)
            checkpoint = timed(lambda: backend.checkpoint("start"))
            change(app, rows)
            restore = timed(lambda: backend.rollback("start"))
            assert checksum(app) == before
            app.execute("SELECT 1")  # the app's connection is alive and usable
        finally:
            backend.disconnect()
    return {"checkpoint": checkpoint, "restore": restore}


def undo_log(server: PostgresServer, db: str, rows: int) -> dict[str, float]:
    return with_backend(server.dsn(db).replace("postgresql://", "postgresql+undo://"), rows)


def side_schema(server: PostgresServer, db: str, rows: int) -> dict[str, float]:
    return with_backend(server.dsn(db), rows)


def dump_restore(server: PostgresServer, db: str, rows: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder, psycopg.connect(server.dsn(db), autocommit=True) as app:
        dump = Path(folder) / "dump"
        before = checksum(app)

        def run(*args: str) -> None:
            subprocess.run([str(server.bindir / args[0]), *args[1:]], check=True, capture_output=True)

        checkpoint = timed(lambda: run("pg_dump", "-Fc", "-f", str(dump), server.dsn(db)))
        change(app, rows)
        restore = timed(
            lambda: run(
                "pg_restore",
                "--clean",
                "--if-exists",
                "--single-transaction",
                "-d",
                server.dsn(db),
                str(dump),
            )
        )
        assert checksum(app) == before
    return {"checkpoint": checkpoint, "restore": restore}


def template_clone(server: PostgresServer, db: str, rows: int) -> dict[str, float]:
    admin = psycopg.connect(server.dsn("postgres"), autocommit=True)
    try:
        with psycopg.connect(server.dsn(db), autocommit=True) as app:
            before = checksum(app)
        checkpoint = timed(lambda: admin.execute(f'CREATE DATABASE "{db}_snap" TEMPLATE "{db}"'))
        with psycopg.connect(server.dsn(db), autocommit=True) as app:
            change(app, rows)

        def restore() -> None:  # every connection to the database is cut
            admin.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{db}" TEMPLATE "{db}_snap"')

        restored = timed(restore)
        with psycopg.connect(server.dsn(db), autocommit=True) as app:
            assert checksum(app) == before
        admin.execute(f'DROP DATABASE "{db}_snap"')
    finally:
        admin.close()
    return {"checkpoint": checkpoint, "restore": restored}


TECHNIQUES = {
    "undo log": undo_log,
    "side-schema copy": side_schema,
    "pg_dump/pg_restore": dump_restore,
    "TEMPLATE clone": template_clone,
}


def main() -> None:
    args = arguments(__doc__, quick=True)
    sizes, sessions = (
        ([100_000], [1_000]) if args.quick else ([1_000, 100_000, 1_000_000], [10, 1_000, 100_000])
    )
    server = start_postgres()
    results = []
    try:
        for size in sizes:
            results.extend(_measure_size(server, size, [rows for rows in sessions if rows <= size]))
    finally:
        server.stop()
    report = {
        "benchmark": "restore (PostgreSQL)",
        "machine": machine(),
        "results": results,
        "target": "undo log restore of a 1,000-row session in 1M rows: >= 25x faster than pg_restore, "
        "faster than a TEMPLATE clone",
    }
    emit(report, args.json)


def _measure_size(server: PostgresServer, size: int, sessions: list[int]) -> list[dict[str, object]]:
    name = f"bench_{size}_test"
    results = []
    with psycopg.connect(server.dsn("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(server.dsn(name), autocommit=True) as conn:
        conn.execute(SCHEMA.replace("{size}", str(size)))
        conn.execute("VACUUM ANALYZE items")
    for rows in sessions:
        timings = {label: technique(server, name, rows) for label, technique in TECHNIQUES.items()}
        undo = timings["undo log"]["restore"]
        results.append(
            {
                "table_rows": size,
                "session_rows": rows,
                "seconds": {k: {p: round(v, 4) for p, v in t.items()} for k, t in timings.items()},
                "restore ratio to undo log": {k: round(t["restore"] / undo, 1) for k, t in timings.items()},
            }
        )
    with psycopg.connect(server.dsn("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    return results


if __name__ == "__main__":
    main()
