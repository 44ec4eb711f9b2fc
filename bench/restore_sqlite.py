"""SQLite restore: the backup API (what replayqa uses, with the app's file open) vs a plain file copy.

    python -m bench.restore_sqlite            # 1M rows
    python -m bench.restore_sqlite --quick    # 100k rows

A session changes 1,000 rows between checkpoint and restore. A file copy is
only safe with the app stopped; it is the floor for "copy the whole file".
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import time
from contextlib import closing
from pathlib import Path

from bench.common import arguments, emit, machine
from replayqa.state import open_state


def build(path: Path, rows: int) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(
            "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, price INT, meta TEXT)"
        )
        conn.executemany(
            "INSERT INTO items (name, price, meta) VALUES (?, ?, ?)",
            ((f"item {n}", n % 1000, f'{{"n": {n}}}') for n in range(rows)),
        )


def checksum(path: Path) -> tuple:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT count(*), sum(price), max(id) FROM items").fetchone()


def change(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE items SET price = price + 1 WHERE id <= 1000")


def main() -> None:
    args = arguments(__doc__, quick=True)
    rows = 100_000 if args.quick else 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench_test.db"
        build(db, rows)
        size_mb = db.stat().st_size / 1e6
        before = checksum(db)
        app = sqlite3.connect(db)  # the app keeps the file open
        backend = open_state(f"sqlite:///{db}")
        backend.connect()
        started = time.perf_counter()
        backend.checkpoint("start")
        checkpoint = time.perf_counter() - started
        change(db)
        started = time.perf_counter()
        backend.rollback("start")
        restore = time.perf_counter() - started
        assert checksum(db) == before
        backend.disconnect()
        app.close()

        copy = Path(folder) / "copy.db"
        started = time.perf_counter()
        shutil.copyfile(db, copy)
        copy_checkpoint = time.perf_counter() - started
        change(db)
        started = time.perf_counter()
        shutil.copyfile(copy, db)
        for suffix in ("-wal", "-shm"):  # the session's writes may still sit in the WAL
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        copy_restore = time.perf_counter() - started
        assert checksum(db) == before
    report = {
        "benchmark": "restore (SQLite)",
        "machine": machine(),
        "table_rows": rows,
        "file_mb": round(size_mb, 1),
        "session_rows": 1000,
        "seconds": {
            "backup API": {"checkpoint": round(checkpoint, 4), "restore": round(restore, 4)},
            "file copy (app stopped)": {
                "checkpoint": round(copy_checkpoint, 4),
                "restore": round(copy_restore, 4),
            },
        },
        "restore ratio (backup API / file copy)": round(restore / copy_restore, 2),
    }
    emit(report, args.json)


if __name__ == "__main__":
    main()
