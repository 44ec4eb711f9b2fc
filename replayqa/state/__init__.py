"""Database state backends: checkpoint the app's database and restore it.

The app under test runs in its own process with its own connections, so a
SAVEPOINT on replayqa's connection cannot undo what the app committed. The
SQLite and PostgreSQL backends therefore copy committed data and put it back;
:class:`SavepointBackend` is only for an app that runs in-process and shares
the connection.
"""

from replayqa.state.base import (
    MIGRATION_TABLES,
    NullBackend,
    StartState,
    StateBackend,
    is_test_database_name,
    open_state,
)
from replayqa.state.savepoint import SavepointBackend

__all__ = [
    "MIGRATION_TABLES",
    "NullBackend",
    "SavepointBackend",
    "StartState",
    "StateBackend",
    "is_test_database_name",
    "open_state",
]
