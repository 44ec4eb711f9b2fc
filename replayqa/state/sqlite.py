"""SQLite: copy the live database file with the backup API, both ways.

The backup API goes through SQLite's own locking, so the app may keep its file
open: its connections see the restored pages on their next transaction. In
WAL mode the snapshot is taken from a consistent read and written back
through the WAL, so the app's ``-wal`` file stays valid.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import time
import zlib
from collections.abc import Collection, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from replayqa.errors import ConfigError, RestoreBlockedError, StateError
from replayqa.model import DatabaseCapture
from replayqa.state.base import (
    MIGRATION_TABLES,
    TEST_WORDS,
    ColumnRedaction,
    check_capture_backend,
    require_test_database,
)


class SQLiteBackend:
    def __init__(
        self,
        path: str | Path,
        *,
        allow_restore: bool = False,
        exclude_tables: tuple[str, ...] = (),
        lock_timeout: float = 5.0,
        test_words: Sequence[str] = TEST_WORDS,
    ) -> None:
        self.path = Path(path)
        self.allow_restore = allow_restore
        self.test_words = tuple(test_words)
        self.exclude_tables = frozenset(exclude_tables) | MIGRATION_TABLES
        self.lock_timeout = lock_timeout
        self._conn: sqlite3.Connection | None = None
        self._dir: Path | None = None
        self._snapshots: dict[str, Path] = {}

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SQLiteBackend:
        parsed = urlparse(url)
        path = unquote(parsed.netloc + parsed.path)
        if url.startswith("sqlite:////"):
            path = "/" + path.lstrip("/")
        elif url.startswith("sqlite:///"):
            path = path.lstrip("/") if not parsed.netloc else path
        if not path:
            raise ConfigError(
                f"no file in SQLite URL {url!r}: use sqlite:///relative.db or sqlite:////abs.db"
            )
        return cls(path, **options)

    # -- protocol ------------------------------------------------------------

    def connect(self) -> None:
        if not self.path.is_file():
            raise ConfigError(f"no SQLite database at {self.path}: start the app first, or fix --db")
        with self.path.open("rb") as handle:
            header = handle.read(16)
        if header and header != b"SQLite format 3\x00":  # sqlite3 would say nothing until a query
            raise ConfigError(f"{self.path} is not a SQLite database: fix --db")
        self._conn = sqlite3.connect(
            self.path, timeout=self.lock_timeout, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        self._dir = Path(tempfile.mkdtemp(prefix="replayqa-sqlite-"))

    def disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._snapshots.clear()

    def is_connected(self) -> bool:
        return self._conn is not None

    def checkpoint(self, name: str) -> None:
        conn, folder = self._require()
        target = folder / f"{len(self._snapshots)}-{abs(hash(name))}.db"
        self._copy(conn, target, "checkpoint")
        self._snapshots[name] = target

    def rollback(self, name: str) -> None:
        self.check_restore_allowed()
        conn, _ = self._require()
        if name not in self._snapshots:
            raise StateError(f"no checkpoint named {name!r} to restore; taken: {sorted(self._snapshots)}")
        self._wait_for_writers(conn)
        self._copy(self._snapshots[name], conn, f"restore checkpoint {name!r} into")

    def release(self, name: str) -> None:
        path = self._snapshots.pop(name, None)
        if path is not None:
            path.unlink(missing_ok=True)

    def reset(self) -> None:
        self.check_restore_allowed()
        conn, _ = self._require()
        tables = [t for t in self.tables() if t not in self.exclude_tables]
        conn.execute("PRAGMA foreign_keys = OFF")
        try:
            conn.execute("BEGIN IMMEDIATE")
            for table in tables:
                conn.execute(f"DELETE FROM {_quote(table)}")
            if "sqlite_sequence" in self._all_tables():
                conn.executemany("DELETE FROM sqlite_sequence WHERE name = ?", [(t,) for t in tables])
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise self._blocked("reset", exc) from exc
        finally:
            conn.execute("PRAGMA foreign_keys = ON")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        conn, _ = self._require()
        return [dict(row) for row in conn.execute(sql, params)]

    def check_restore_allowed(self) -> None:
        require_test_database(self.path.name, self.allow_restore, "restore or reset", self.test_words)

    def capture(self, redact: ColumnRedaction | None = None) -> DatabaseCapture:
        """The whole database file, consistent as of one moment, compressed."""
        conn, folder = self._require()
        target = folder / "capture.db"
        self._copy(conn, target, "capture")
        with closing(sqlite3.connect(target, isolation_level=None)) as snapshot:
            if redact is not None:
                _redact_file(snapshot, redact)
            counts = {
                t: snapshot.execute(f"SELECT count(*) FROM {_quote(t)}").fetchone()[0] for t in self.tables()
            }
        try:
            return DatabaseCapture("sqlite", zlib.compress(target.read_bytes(), 6), counts, time.time())
        finally:
            target.unlink(missing_ok=True)

    def restore_capture(
        self, capture: DatabaseCapture, *, drop: Collection[str] = (), create: Collection[str] = ()
    ) -> None:
        """The whole file comes back: tables made or dropped since go with it (``drop``, ``create``)."""
        check_capture_backend(capture, "sqlite")
        self.check_restore_allowed()
        conn, folder = self._require()
        source_path = folder / "restore.db"
        source_path.write_bytes(zlib.decompress(capture.data))
        self._wait_for_writers(conn)
        try:
            self._copy(source_path, conn, "restore a capture into")
        finally:
            source_path.unlink(missing_ok=True)

    def row_counts(self) -> dict[str, int]:
        """Rows per table now, labelled as captures label them: one step's write effects are the change."""
        conn, _ = self._require()
        try:
            tables = self.tables()
            query = " UNION ALL ".join(f"SELECT ?, count(*) FROM {_quote(t)}" for t in tables)
            return {name: count for name, count in conn.execute(query, tables)} if tables else {}
        except sqlite3.Error as exc:  # locked, or gone: the caller decides what that costs
            raise StateError(f"cannot count the rows of {self.path}: {exc}") from exc

    # -- helpers -------------------------------------------------------------

    def tables(self) -> list[str]:
        return [t for t in self._all_tables() if not t.startswith("sqlite_")]

    def _all_tables(self) -> list[str]:
        conn, _ = self._require()
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        return [row[0] for row in rows]

    def _require(self) -> tuple[sqlite3.Connection, Path]:
        if self._conn is None or self._dir is None:
            raise StateError("the SQLite state backend is not connected")
        return self._conn, self._dir

    def _copy(self, source: sqlite3.Connection | Path, target: sqlite3.Connection | Path, what: str) -> None:
        """One backup-API copy between the live database and a file; a lock wait becomes a clear error."""
        opened = [sqlite3.connect(p) for p in (source, target) if isinstance(p, Path)]
        src = source if isinstance(source, sqlite3.Connection) else opened[0]
        dst = target if isinstance(target, sqlite3.Connection) else opened[-1]
        try:
            src.backup(dst)
        except sqlite3.OperationalError as exc:
            raise self._blocked(what, exc) from exc
        finally:
            for conn in opened:
                conn.close()

    def _wait_for_writers(self, conn: sqlite3.Connection) -> None:
        """Fail within the lock timeout rather than let the backup API spin forever."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            raise self._blocked("restore", exc) from exc

    def _blocked(self, what: str, exc: Exception) -> RestoreBlockedError:
        return RestoreBlockedError(
            f"could not {what} {self.path} within {self.lock_timeout:g}s ({exc}): "
            "the app holds a write transaction open; commit or close it"
        )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _redact_file(conn: sqlite3.Connection, redact: ColumnRedaction) -> None:
    """Replace credential columns in a captured copy; VACUUM so no old page keeps them."""
    conn.create_function(
        "replayqa_redact", 2, lambda v, column: None if v is None else redact.replace(str(v), column)
    )
    conn.execute("PRAGMA journal_mode = DELETE")
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    changed = False
    for table in tables:
        if table.startswith("sqlite_"):
            continue
        for column in (r[1] for r in conn.execute(f"PRAGMA table_info({_quote(table)})")):
            if redact.wants(column):
                conn.execute(
                    f"UPDATE {_quote(table)} SET {_quote(column)} = replayqa_redact({_quote(column)}, ?)",
                    (column,),
                )
                changed = True
    if changed:
        conn.execute("VACUUM")


def capture_rows(capture: DatabaseCapture) -> dict[str, dict[str, dict[str, Any]]]:
    """A capture as rows: table -> primary key (as text) -> column -> value."""
    with tempfile.TemporaryDirectory(prefix="replayqa-rows-") as folder:
        path = Path(folder) / "capture.db"
        path.write_bytes(zlib.decompress(capture.data))
        conn = sqlite3.connect(path)
        conn.row_factory = sqlite3.Row
        try:
            result = {}
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in (t for t in tables if not t.startswith("sqlite_")):
                info = conn.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
                key = [r["name"] for r in sorted(info, key=lambda r: r["pk"]) if r["pk"]] or ["rowid"]
                select = "rowid AS rowid, *" if key == ["rowid"] else "*"
                rows = {}
                for row in conn.execute(f"SELECT {select} FROM {_quote(table)}"):
                    record = {k: row[k] for k in row.keys() if k != "rowid" or key == ["rowid"]}  # noqa: SIM118 (a Row iterates values)
                    rows["|".join(str(row[c]) for c in key)] = record
                result[table] = rows
            return result
        finally:
            conn.close()
