"""The app's database and its extra stores (``--store redis://...``) as one state.

An app that keeps its carts, sessions or rate limits in Redis has state in
two places; restoring only the database would let a branch's second path see
the first path's cache. :class:`CombinedState` implements the one state
protocol over both, so the runner, replay and the synth gate checkpoint,
restore and capture every store without knowing there is more than one.

Invariant queries go to the database. A capture holds each part's own
capture, so a recording made with ``--store`` restores the stores too; its
rows (for replay's diff and ``db:`` checks) show each store as a table named
after it (``redis``; a second store ``redis_2``).
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from collections.abc import Collection, Sequence
from typing import Any

from replayqa.errors import ConfigError, StateError
from replayqa.model import DatabaseCapture
from replayqa.state.base import TEST_WORDS, ColumnRedaction, NullBackend, StateBackend
from replayqa.state.base import capture_rows as part_rows

#: The backend name of a capture of a database and its stores.
BACKEND = "stores"
_MAGIC = b"RQS1"


class CombinedState:
    def __init__(self, database: StateBackend, stores: Sequence[StateBackend]) -> None:
        self.database = database
        self.stores = list(stores)

    @property
    def _parts(self) -> list[StateBackend]:
        return [self.database, *self.stores]

    # -- protocol ------------------------------------------------------------

    def connect(self) -> None:
        connected: list[StateBackend] = []
        try:
            for part in self._parts:
                if not part.is_connected():
                    part.connect()
                    connected.append(part)
        except BaseException:
            for part in connected:
                part.disconnect()
            raise

    def disconnect(self) -> None:
        errors = []
        for part in self._parts:
            try:
                part.disconnect()
            except Exception as exc:  # every part gets its chance to let go
                errors.append(exc)
        if errors:
            raise errors[0]

    def is_connected(self) -> bool:
        return all(part.is_connected() for part in self._parts)

    def checkpoint(self, name: str) -> None:
        for part in self._parts:
            part.checkpoint(name)

    def rollback(self, name: str) -> None:
        self.check_restore_allowed()  # refuse before any part is restored, not half-way
        for part in self._parts:
            part.rollback(name)

    def release(self, name: str) -> None:
        for part in self._parts:
            part.release(name)

    def reset(self) -> None:
        self.check_restore_allowed()
        for part in self._parts:
            part.reset()

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return self.database.query(sql, params)

    def check_restore_allowed(self) -> None:
        for part in self._parts:
            part.check_restore_allowed()

    def row_counts(self) -> dict[str, int] | None:
        """The database's rows per table (replay's per-step write counts); stores are left out."""
        counter = getattr(self.database, "row_counts", None)
        return counter() if callable(counter) else None

    def capture(self, redact: ColumnRedaction | None = None) -> DatabaseCapture:
        """The database's capture (none without ``--db``) and each store's, in one."""
        database = None if isinstance(self.database, NullBackend) else self.database.capture(redact)
        return pack(database, [store.capture(redact) for store in self.stores])

    def restore_capture(
        self, capture: DatabaseCapture, *, drop: Collection[str] = (), create: Collection[str] = ()
    ) -> None:
        if capture.backend != BACKEND:
            raise StateError(
                f"this recording holds a {capture.backend} capture but none of the --store stores: "
                "record again with the same --store, or replay without --store"
            )
        database, stores = unpack(capture)
        if len(stores) != len(self.stores):
            raise StateError(
                f"this recording captured {len(stores)} store(s) and {len(self.stores)} --store given: "
                "give the stores it was recorded with, in the same order"
            )
        if database is None and not isinstance(self.database, NullBackend):
            raise StateError("this recording captured no database: replay without --db, or record with it")
        self.check_restore_allowed()
        if database is not None:
            self.database.restore_capture(database, drop=drop, create=create)
        for store, part in zip(self.stores, stores, strict=True):
            store.restore_capture(part)


def pack(database: DatabaseCapture | None, stores: Sequence[DatabaseCapture]) -> DatabaseCapture:
    """Several captures as one: a JSON header naming each part, then the parts' bytes.

    Stored as a zlib stream, like every capture (recordings check that early),
    at level 0: the parts are compressed already.
    """
    parts = ([database] if database is not None else []) + list(stores)
    header = json.dumps(
        {
            "database": database is not None,
            "parts": [
                {"backend": p.backend, "tables": p.tables, "taken_at": p.taken_at, "size": len(p.data)}
                for p in parts
            ],
        }
    ).encode("utf-8")
    raw = b"".join([_MAGIC, struct.pack(">I", len(header)), header, *(p.data for p in parts)])
    data = zlib.compress(raw, 0)
    tables = dict(database.tables) if database is not None else {}
    for index, store in enumerate(stores):
        tables.update({_store_table(t, index): n for t, n in store.tables.items()})
    return DatabaseCapture(BACKEND, data, tables, time.time())


def unpack(capture: DatabaseCapture) -> tuple[DatabaseCapture | None, list[DatabaseCapture]]:
    """The database's capture (None if there was no ``--db``) and each store's, in order."""
    try:
        data = zlib.decompress(capture.data)
    except zlib.error:
        data = b""
    if data[:4] != _MAGIC:
        raise StateError("damaged capture of a database and its stores: the recording is corrupt")
    (length,) = struct.unpack(">I", data[4:8])
    header = json.loads(data[8 : 8 + length])
    offset = 8 + length
    parts = []
    for part in header["parts"]:
        chunk = data[offset : offset + part["size"]]
        offset += part["size"]
        parts.append(DatabaseCapture(part["backend"], chunk, part["tables"], part["taken_at"]))
    database = parts.pop(0) if header["database"] else None
    return database, parts


def capture_rows(capture: DatabaseCapture) -> dict[str, dict[str, dict[str, Any]]]:
    """The database's rows, and each store's as tables named after it (``redis``, ``redis_2``)."""
    database, stores = unpack(capture)
    rows = part_rows(database) if database is not None else {}
    for index, store in enumerate(stores):
        for table, keyed in part_rows(store).items():
            rows[_store_table(table, index)] = keyed
    return rows


def _store_table(table: str, index: int) -> str:
    return table if index == 0 else f"{table}_{index + 1}"


def open_store(url: str, test_words: Sequence[str] = TEST_WORDS) -> StateBackend:
    """A ``--store`` URL's backend. Only Redis so far.

    ``--allow-restore`` is not passed on: a store is marked a test store in its
    own URL (``?name=cache_test``), because a restore replaces every matching
    key on a server that other apps and developers often share.
    """
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme in ("redis", "rediss"):
        from replayqa.state.redis import RedisStore

        return RedisStore(url, test_words=test_words)
    raise ConfigError(
        f"unknown --store URL {url!r}: use redis://host:6379/0?name=cache_test (a Redis database)"
    )
