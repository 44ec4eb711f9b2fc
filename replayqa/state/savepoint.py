"""SAVEPOINTs on a connection the app itself uses.

Right only when the app runs in-process and every query it makes goes through
this same connection (a test client around a WSGI/ASGI app, say). Then
ROLLBACK TO SAVEPOINT undoes the app's writes exactly. Sequences are outside
transactions in PostgreSQL, so their values are recorded and put back too.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from replayqa.errors import StateError
from replayqa.state.base import require_test_database

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_]")


class SavepointBackend:
    def __init__(self, connection: Any, *, database_name: str = "", allow_restore: bool = False):
        self.connection = connection
        self.database_name = database_name
        self.allow_restore = allow_restore
        self._sequences: dict[str, list[tuple[str, int, bool]]] = {}
        self._names: dict[str, str] = {}
        self._connected = False

    @property
    def _is_postgres(self) -> bool:
        return not isinstance(self.connection, sqlite3.Connection)

    def connect(self) -> None:
        self._connected = True

    def disconnect(self) -> None:
        self._connected = False

    def is_connected(self) -> bool:
        return self._connected

    def checkpoint(self, name: str) -> None:
        savepoint = f"replayqa_{len(self._names)}_{_SAFE_NAME.sub('_', name)}"[:60]
        if isinstance(self.connection, sqlite3.Connection) and not self.connection.in_transaction:
            self.connection.execute("BEGIN")
        self.connection.execute(f'SAVEPOINT "{savepoint}"')
        self._names[name] = savepoint
        if self._is_postgres:
            self._sequences[name] = self._sequence_values()

    def rollback(self, name: str) -> None:
        self.check_restore_allowed()
        savepoint = self._names.get(name)
        if savepoint is None:
            raise StateError(f"no savepoint for checkpoint {name!r}; taken: {sorted(self._names)}")
        self.connection.execute(f'ROLLBACK TO SAVEPOINT "{savepoint}"')
        for sequence, value, is_called in self._sequences.get(name, []):
            self.connection.execute("SELECT setval(%s::regclass, %s, %s)", (sequence, value, is_called))

    def release(self, name: str) -> None:
        savepoint = self._names.pop(name, None)
        self._sequences.pop(name, None)
        if savepoint is not None:
            self.connection.execute(f'RELEASE SAVEPOINT "{savepoint}"')

    def reset(self) -> None:
        raise StateError("the savepoint backend cannot reset; roll back to a checkpoint instead")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        cursor = self.connection.execute(sql, params)
        columns = [c[0] for c in cursor.description or ()]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def check_restore_allowed(self) -> None:
        require_test_database(self.database_name, self.allow_restore, "roll back")

    def _sequence_values(self) -> list[tuple[str, int, bool]]:
        from replayqa.state.postgres import read_sequences

        return read_sequences(self.connection)
