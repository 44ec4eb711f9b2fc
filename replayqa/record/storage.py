"""The recording file: one SQLite database, written with sqlite-utils.

Tables a person can read with ``sqlite-utils`` or datasette: ``meta``,
``sessions``, ``exchanges``, ``checkpoints`` and ``websocket_messages``.

Writes never happen on the proxy's request path. :class:`RecordingWriter`
queues rows and a background thread commits them in batches every
``flush_interval`` seconds, in WAL mode: a process killed with SIGKILL leaves
a valid database holding every batch committed before the kill. A clean
close folds the WAL back into one self-contained file, fit for committing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from replayqa import __version__
from replayqa.errors import ConfigError
from replayqa.model import DatabaseCapture

FORMAT = "replayqa-recording/1"

SCHEMA: dict[str, dict[str, Any]] = {
    "meta": {"key": str, "value": str},
    "sessions": {
        "id": int,
        "name": str,
        "identity": str,
        "source": str,
        "client": str,
        "started_at": float,
        "ended_at": float,
        "end_reason": str,
        "group_id": int,
        "overlapped": int,
        "start_checkpoint_id": int,
        "end_checkpoint_id": int,
        "exchange_count": int,
    },
    "exchanges": {
        "id": int,
        "flow_id": str,
        "session_id": int,
        "started_at": float,
        "ended_at": float,
        "duration_ms": float,
        "client": str,
        "http_version": str,
        "method": str,
        "scheme": str,
        "host": str,
        "port": int,
        "path": str,
        "query": str,
        "url": str,
        "operation": str,
        "request_headers": str,
        "request_content_type": str,
        "request_body": str,
        "request_body_blob": bytes,
        "request_body_size": int,
        "request_body_sha256": str,
        "status": int,
        "reason": str,
        "response_headers": str,
        "response_content_type": str,
        "response_body": str,
        "response_body_blob": bytes,
        "response_body_size": int,
        "response_body_sha256": str,
        "response_streamed": int,
        "error": str,
    },
    #: Rows per table after a write that nothing else overlapped: what one exchange wrote.
    "write_effects": {"id": int, "counts": str},
    "checkpoints": {
        "id": int,
        "group_id": int,
        "kind": str,
        "backend": str,
        "taken_at": float,
        "size": int,
        "tables": str,
        "data": bytes,
    },
    "websocket_messages": {
        "id": int,
        "flow_id": str,
        "from_client": int,
        "is_text": int,
        "content": str,
        "content_blob": bytes,
        "timestamp": float,
    },
}
_UPSERT = {"sessions", "meta"}


def _insert_sql(table: str) -> str:
    columns = list(SCHEMA[table])
    quoted = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    sql = f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})'
    if table in _UPSERT:
        key = columns[0]
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns[1:])
        sql += f' ON CONFLICT ("{key}") DO UPDATE SET {updates}'
    return sql


_INSERT_SQL = {table: _insert_sql(table) for table in SCHEMA}


def create_recording(path: str | Path, meta: dict[str, Any]) -> Path:
    """Make a new recording file with its schema and metadata; never overwrite one."""
    path = Path(path)
    if path.parent.exists() and not path.parent.is_dir():
        raise ConfigError(
            f"cannot create {path}: {path.parent} is a file, not a folder; choose another --out"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            raise ConfigError(f"{path} already exists: choose another --out, or remove it first")
        db = sqlite_utils.Database(sqlite3.connect(path))
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"cannot create {path}: {_reason(exc)}; choose another --out") from None
    try:
        db.enable_wal()
        for table, columns in SCHEMA.items():
            db[table].create(columns, pk="key" if table == "meta" else "id")  # type: ignore[union-attr]
        db.table("exchanges").create_index(["session_id"])
        with db.conn:
            db.conn.executemany(
                _INSERT_SQL["meta"],
                [
                    (k, json.dumps(v))
                    for k, v in {
                        "format": FORMAT,
                        "replayqa_version": __version__,
                        "created_at": time.time(),
                        **meta,
                    }.items()
                ],
            )
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot create {path}: {_reason(exc)}; choose another --out") from None
    finally:
        db.close()
    return path


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


class RecordingWriter:
    """Appends to a recording from a background thread, in batches.

    Producers only append to a deque: no lock, no wake-up. The thread wakes
    every ``flush_interval`` seconds and commits whatever arrived, so a busy
    proxy never trades the GIL with the writer on every exchange.
    """

    def __init__(self, path: str | Path, flush_interval: float = 0.2, background: bool = True) -> None:
        self.path = Path(path)
        self.flush_interval = flush_interval
        self._pending: deque[tuple[str, dict[str, Any] | Callable[[], dict[str, Any]]]] = deque()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._db = sqlite_utils.Database(sqlite3.connect(self.path, check_same_thread=False))
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._thread: threading.Thread | None = None
        if background:  # without it, the owner calls commit() itself (the writer process does)
            self._thread = threading.Thread(target=self._run, name="replayqa-recording-writer", daemon=True)
            self._thread.start()

    def add(self, table: str, row: dict[str, Any] | Callable[[], dict[str, Any]]) -> None:
        """Queue a row, or a function that builds it (run on the writer's thread)."""
        if self._error is not None:
            raise RuntimeError(f"the recording writer failed: {self._error}")
        self._pending.append((table, row))

    @property
    def failure(self) -> str | None:
        return f"the recording writer failed: {self._error}" if self._error else None

    def close(self) -> None:
        """Flush everything, then fold the WAL into the file."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.disable_wal()
        self._db.close()
        if self._error is not None:
            raise RuntimeError(f"the recording writer failed: {self._error}")

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self.flush_interval)
            batch = []
            while self._pending:
                batch.append(self._pending.popleft())
            if batch:
                try:
                    self.commit(batch)
                except BaseException as exc:  # reported to the producer on its next add()
                    self._error = exc
                    return
            if stopping:
                return

    def commit(self, rows: list[tuple[str, dict[str, Any] | Callable[[], dict[str, Any]]]]) -> None:
        """One transaction per batch, one prepared statement per table.

        (sqlite-utils made the schema; the hot path skips its per-value checks,
        which cost ten times what the insert itself does.)
        """
        by_table: dict[str, list[tuple[Any, ...]]] = {}
        for table, row in rows:
            built = row() if callable(row) else row
            by_table.setdefault(table, []).append(tuple(built.get(c) for c in SCHEMA[table]))
        conn = self._db.conn
        with conn:
            for table, batch in by_table.items():
                conn.executemany(_INSERT_SQL[table], batch)


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


_READ_COLUMNS = {
    "meta": ("key", "value"),
    "sessions": ("id", "started_at"),
    "exchanges": ("id", "session_id", "method", "status", "path", "operation", "url"),
    "checkpoints": ("id", "group_id", "kind", "backend", "taken_at", "size", "tables", "data"),
}
_REMAKE = "restore it from a copy, or record it again"


@dataclass
class Recording:
    """A recording opened for reading."""

    path: Path
    db: sqlite_utils.Database

    @classmethod
    def open(cls, path: str | Path) -> Recording:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"no recording at {path}: check the path")
        with path.open("rb") as handle:
            if handle.read(16) != b"SQLite format 3\x00":
                raise ConfigError(
                    f"{path} is not a replayqa recording (not a SQLite file); "
                    "make one with replayqa record or replayqa import FILE.har"
                )
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.text_factory = _lenient_text  # damaged text reads as such, it does not stop the reader
        db = sqlite_utils.Database(conn)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            found = json.loads(row[0]) if row is not None else None
        except (sqlite3.DatabaseError, TypeError, ValueError):
            found = None
        if isinstance(found, str) and found.startswith("replayqa-recording/") and found != FORMAT:
            db.close()
            raise ConfigError(
                f"{path} is a {found} recording, newer than this replayqa reads ({FORMAT}): "
                "upgrade replayqa (pip install -U replayqa)"
            )
        if found != FORMAT:
            db.close()
            raise ConfigError(
                f"{path} is not a replayqa recording (no {FORMAT} metadata); "
                "make one with replayqa record or replayqa import FILE.har"
            )
        try:
            for table, columns in _READ_COLUMNS.items():  # what this class's own queries name
                db.execute(f'SELECT {", ".join(columns)} FROM "{table}" LIMIT 0')
        except sqlite3.DatabaseError as exc:
            db.close()
            raise ConfigError(f"{path} is damaged ({exc}); {_REMAKE}") from None
        return cls(path, db)

    def _json(self, text: str | None, what: str, empty: str) -> Any:
        try:
            return json.loads(text or empty)
        except (TypeError, ValueError):
            raise ConfigError(f"{self.path} is damaged: {what} is not JSON; {_REMAKE}") from None

    def close(self) -> None:
        self.db.close()

    @property
    def meta(self) -> dict[str, Any]:
        return {
            r["key"]: self._json(r["value"], f"meta {r['key']!r}", "null") for r in self.db.table("meta").rows
        }

    def sessions(self) -> list[dict[str, Any]]:
        return list(self.db.table("sessions").rows_where(order_by="started_at, id"))

    def exchanges(self, session_id: int | None = None) -> Iterator[dict[str, Any]]:
        where, args = ("session_id = ?", [session_id]) if session_id is not None else (None, [])
        for row in self.db.table("exchanges").rows_where(where, args, order_by="id"):
            for column in ("request_headers", "response_headers"):
                row[column] = self._json(row[column], f"exchange {row['id']}'s {column}", "[]")
            yield row

    def exchange_page(self, session_id: int, offset: int, limit: int) -> list[dict[str, Any]]:
        """A page of a session's exchanges, only the columns a list shows: for very large recordings."""
        return list(
            self.db.query(
                "SELECT id, method, status, path, operation FROM exchanges WHERE session_id = ? "
                "ORDER BY id LIMIT ? OFFSET ?",
                [session_id, limit, offset],
            )
        )

    def checkpoints(self) -> list[dict[str, Any]]:
        columns = "id, group_id, kind, backend, taken_at, size, tables"
        return [
            {**r, "tables": self._json(r["tables"], f"checkpoint {r['id']}'s tables", "{}")}
            for r in self.db.query(f"SELECT {columns} FROM checkpoints ORDER BY id")
        ]

    def capture(self, checkpoint_id: int) -> DatabaseCapture:
        row = self.db.execute(
            "SELECT backend, data, tables, taken_at FROM checkpoints WHERE id = ?", [checkpoint_id]
        ).fetchone()
        if row is None:
            raise ConfigError(f"{self.path} has no checkpoint {checkpoint_id}")
        backend, data, tables, taken_at = row
        try:
            zlib.decompressobj().decompress(data[:64])  # fail early on a damaged capture
        except (zlib.error, TypeError):
            raise ConfigError(
                f"{self.path} is damaged: checkpoint {checkpoint_id}'s data; {_REMAKE}"
            ) from None
        return DatabaseCapture(
            backend, data, self._json(tables, f"checkpoint {checkpoint_id}", "{}"), taken_at
        )

    def describe(self) -> dict[str, Any]:
        """Everything ``replayqa show`` prints: metadata, checkpoints, sessions and their exchanges."""
        columns = ("id", "method", "url", "status", "duration_ms", "operation", "error")
        sessions = []
        for session in self.sessions():
            exchanges = [{k: e[k] for k in columns} for e in self.exchanges(session["id"])]
            sessions.append({**session, "exchanges": exchanges})
        return {
            "path": str(self.path),
            "meta": self.meta,
            "checkpoints": self.checkpoints(),
            "sessions": sessions,
        }

    def write_effects(self) -> dict[int, dict[str, int]]:
        """Exchange id -> rows per table right after it (recordings made before 2026-11-30 have none)."""
        if "write_effects" not in self.db.table_names():
            return {}
        return {
            r["id"]: self._json(r["counts"], f"exchange {r['id']}'s write effects", "{}")
            for r in self.db.table("write_effects").rows
        }

    def noise_rules(self) -> list[dict[str, Any]]:
        return list(self.meta.get("noise_rules") or [])

    def websocket_messages(self, flow_id: str) -> list[dict[str, Any]]:
        return list(self.db.table("websocket_messages").rows_where("flow_id = ?", [flow_id], order_by="id"))


def write_meta(path: str | Path, key: str, value: Any) -> None:
    """Change one metadata entry of a recording (noise rules learned for it, for instance)."""
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(_INSERT_SQL["meta"], (key, json.dumps(value)))


def add_noise_rules(path: str | Path, rules: list[dict[str, Any]]) -> int:
    """Merge noise rules into a recording's metadata; returns how many it now has."""
    recording = Recording.open(path)
    try:
        existing = {(r["path"], r.get("operation")): r for r in recording.noise_rules()}
    finally:
        recording.close()
    for rule in rules:
        existing.setdefault((rule["path"], rule.get("operation")), rule)
    write_meta(path, "noise_rules", list(existing.values()))
    return len(existing)


def accept_baseline(path: str | Path, exchange_id: int, response: dict[str, Any], who: str) -> None:
    """Make a replayed response the recorded one for an exchange, noting who did it and when."""
    body = response.get("body") or ""
    headers = [[k, v] for k, v in (response.get("headers") or {}).items()]
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    recording = Recording.open(path)
    try:
        notes = list(recording.meta.get("baseline_updates") or [])
        row = recording.db.execute("SELECT status FROM exchanges WHERE id = ?", [exchange_id]).fetchone()
    finally:
        recording.close()
    if row is None:
        raise ConfigError(f"{path} has no exchange {exchange_id}")
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "UPDATE exchanges SET status = ?, response_headers = ?, response_content_type = ?, "
            "response_body = ?, response_body_blob = NULL, response_body_size = ?, response_body_sha256 = ? "
            "WHERE id = ?",
            (
                response["status"],
                json.dumps(headers),
                content_type,
                body,
                len(body.encode()),
                hashlib.sha256(body.encode()).hexdigest(),
                exchange_id,
            ),
        )
    notes.append({"exchange": exchange_id, "previous_status": row[0], "by": who, "at": time.time()})
    write_meta(path, "baseline_updates", notes)
