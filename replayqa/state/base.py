"""The protocol every state backend implements, the safety rule, and the URL factory."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from replayqa.errors import ConfigError, StateError, UnsafeDatabaseError
from replayqa.model import DatabaseCapture
from replayqa.redact import is_password_hash, is_secret_name, looks_like_credential, name_words, only_key_word

#: Schema-migration bookkeeping: emptying these would make the app re-migrate.
MIGRATION_TABLES = frozenset(
    {"alembic_version", "django_migrations", "schema_migrations", "_prisma_migrations"}
)

#: Words that mark a database as a test database when its name holds one as a word.
TEST_WORDS: tuple[str, ...] = ("test", "qa", "replayqa")
_WORD = re.compile(r"^[0-9a-z]+$")
_HEX_DIGEST = re.compile(r"^(?:[0-9a-f]{32,128}|[0-9A-F]{32,128})$")
_HASH_WORDS = frozenset({"hash", "hashed", "digest"})


@dataclass(frozen=True)
class ColumnRedaction:
    """Which captured columns to replace, and with what (a stable placeholder).

    A column is secret by the rule a JSON field is (``password``, ``jwt``,
    ``session_id``, ``private_key``, ``credentials``...). Password hashes
    are kept on purpose: a replay restores the captured state and logs in
    again, which needs them. Salted ones (bcrypt, argon2, PBKDF2...) in any
    column; a bare hex digest only in a column whose name says it holds a
    hash (``password_hash``), since a hex string elsewhere may be a token.
    A plaintext password in the same column is replaced.
    """

    secret: Callable[[str], str]
    is_secret: Callable[[str], bool] = is_secret_name

    def wants(self, column: str) -> bool:
        return self.is_secret(column)

    def replace(self, value: str, column: str = "") -> str:
        if is_password_hash(value) or (_HEX_DIGEST.match(value) and _HASH_WORDS & set(name_words(column))):
            return value
        if column and only_key_word(column) and not looks_like_credential(value):
            return value  # a metric's or a tag's key, not an API key
        return self.secret(value)

    def replace_in(self, value: str, column: str, json_column: bool, length: int | None) -> str:
        """The replacement, made to fit its column: JSON for a json column, short for a varchar(8)."""
        replacement = self.replace(value, column)
        if replacement == value:
            return value
        if json_column:
            return json.dumps(replacement)
        if length is not None and len(replacement) > length:
            return "[redacted]"[:length] if length >= 10 else "*" * length
        return replacement


@runtime_checkable
class StateBackend(Protocol):
    def connect(self) -> None: ...
    def disconnect(self) -> None: ...
    def checkpoint(self, name: str) -> None: ...
    def rollback(self, name: str) -> None: ...
    def release(self, name: str) -> None: ...
    def reset(self) -> None: ...
    def is_connected(self) -> bool: ...
    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]: ...
    def check_restore_allowed(self) -> None: ...
    def capture(self, redact: ColumnRedaction | None = None) -> DatabaseCapture: ...
    def restore_capture(
        self, capture: DatabaseCapture, *, drop: Collection[str] = (), create: Collection[str] = ()
    ) -> None: ...


def is_test_database_name(name: str, words: Sequence[str] = TEST_WORDS) -> bool:
    """Whether one of the name's words (split at non-alphanumerics and case changes) is a test word.

    Whole words, so ``shop_test`` and ``qa.db`` are test databases and
    ``latest_prod.db`` and ``contest_live.db`` are not.
    """
    wanted = {word.lower() for word in words}
    return any(word in wanted for word in name_words(name))


def check_test_words(words: Sequence[str]) -> tuple[str, ...]:
    """The configured test words, each one lower-case word, as the name check compares them."""
    if not words:
        raise ConfigError('test_database_words is empty: list at least one word, e.g. ["test"]')
    for word in words:
        if not isinstance(word, str) or not _WORD.match(word.lower()):
            raise ConfigError(
                f'test_database_words has {word!r}: give single words of letters and digits, e.g. "staging"'
            )
    return tuple(word.lower() for word in words)


def require_test_database(
    name: str, allow_restore: bool, what: str, words: Sequence[str] = TEST_WORDS
) -> None:
    """Destructive operations run only against databases marked as test databases."""
    if allow_restore or is_test_database_name(name, words):
        return
    listed = ", ".join(repr(w) for w in words)
    raise UnsafeDatabaseError(
        f"refusing to {what} database {name!r}: no word of its name is one of {listed}; "
        "if it really is a test database, pass --allow-restore or set allow_restore = true "
        "(or add a word to test_database_words in replayqa.toml)"
    )


class NullBackend:
    """No database: checkpoints keep only the context. Paths may see each other's writes."""

    def __init__(self) -> None:
        self._connected = False

    def connect(self) -> None:
        self._connected = True

    def disconnect(self) -> None:
        self._connected = False

    def checkpoint(self, name: str) -> None:
        pass

    def rollback(self, name: str) -> None:
        pass

    def release(self, name: str) -> None:
        pass

    def reset(self) -> None:
        pass

    def is_connected(self) -> bool:
        return self._connected

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        raise StateError("this invariant queries the database, but no --db URL was given")

    def check_restore_allowed(self) -> None:
        pass

    def capture(self, redact: ColumnRedaction | None = None) -> DatabaseCapture:
        raise StateError("no database to capture: pass --db with the app's database URL")

    def restore_capture(
        self, capture: DatabaseCapture, *, drop: Collection[str] = (), create: Collection[str] = ()
    ) -> None:
        raise StateError("no database to restore into: pass --db with the app's database URL")


class StartState:
    """A checkpoint that several runs start from: a run's journeys, ``--repeat``, the gate's runs.

    Each run starts from the same database state, or runs could not be
    compared. Call ``before_run()`` before each: the first run finds the
    database where the checkpoint was taken, so only later ones roll back.
    Without a database (or ``enabled=False``) it does nothing. The checkpoint
    is released on the way out while the backend is connected to release it.
    """

    def __init__(self, state: StateBackend, name: str, *, enabled: bool = True) -> None:
        self.state = state
        self.name = name
        self.active = enabled and not isinstance(state, NullBackend)
        self._runs = 0

    def __enter__(self) -> StartState:
        if self.active:
            self.state.checkpoint(self.name)
        return self

    def before_run(self) -> None:
        if self.active and self._runs:
            self.state.rollback(self.name)
        self._runs += 1

    def __exit__(self, *exc: object) -> None:
        if self.active and self.state.is_connected():
            self.state.release(self.name)


def check_capture_backend(capture: DatabaseCapture, backend: str) -> None:
    if capture.backend == "stores":
        raise StateError(
            "this recording captured --store stores beside the database: "
            "replay with the same --db and --store options"
        )
    if capture.backend != backend:
        raise StateError(
            f"this capture is of a {capture.backend} database and cannot be restored into {backend}: "
            f"pass a {capture.backend} --db URL"
        )


def row_counts(state: StateBackend) -> dict[str, int] | None:
    """Rows per table, where the backend can count them cheaply (not every backend can)."""
    counter = getattr(state, "row_counts", None)
    return counter() if callable(counter) else None


def capture_rows(capture: DatabaseCapture) -> dict[str, dict[str, dict[str, Any]]]:
    """Any capture as rows: table -> primary key (as text) -> column -> value."""
    if capture.backend == "sqlite":
        from replayqa.state.sqlite import capture_rows as rows
    elif capture.backend == "mysql":
        from replayqa.state.mysql import capture_rows as rows
    elif capture.backend == "redis":
        from replayqa.state.redis import capture_rows as rows
    elif capture.backend == "stores":
        from replayqa.state.combined import capture_rows as rows
    else:
        from replayqa.state.postgres import capture_rows as rows
    return rows(capture)


def open_state(
    url: str | None,
    *,
    allow_restore: bool = False,
    exclude_tables: tuple[str, ...] = (),
    lock_timeout: float = 5.0,
    track_changes: bool = True,
    stores: Sequence[str] = (),
    test_words: Sequence[str] = TEST_WORDS,
) -> StateBackend:
    """Pick a backend by URL: ``sqlite:///path``, ``postgresql://...``, ``mysql://...``, or none.

    ``track_changes=False`` (PostgreSQL, MySQL) skips the write-tracking triggers, for
    callers that only capture and restore whole states, such as the recorder.
    ``stores`` (``redis://...`` URLs) are checkpointed, restored and captured with it.
    ``test_words``: a database is a test database when its name holds one as a word
    (``test_database_words`` in replayqa.toml).
    """
    words = check_test_words(test_words)
    database = _open_database(
        url,
        allow_restore=allow_restore,
        exclude_tables=exclude_tables,
        lock_timeout=lock_timeout,
        track_changes=track_changes,
        test_words=words,
    )
    if not stores:
        return database
    from replayqa.state.combined import CombinedState, open_store

    return CombinedState(database, [open_store(store, words) for store in stores])


def _open_database(
    url: str | None,
    *,
    allow_restore: bool,
    exclude_tables: tuple[str, ...],
    lock_timeout: float,
    track_changes: bool,
    test_words: tuple[str, ...],
) -> StateBackend:
    if not url or url == "none":
        return NullBackend()
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        from replayqa.state.sqlite import SQLiteBackend

        return SQLiteBackend.from_url(
            url,
            allow_restore=allow_restore,
            test_words=test_words,
            exclude_tables=exclude_tables,
            lock_timeout=lock_timeout,
        )
    if scheme == "postgresql+undo":
        from replayqa.state.undo import UndoLogBackend

        return UndoLogBackend(
            url,
            allow_restore=allow_restore,
            test_words=test_words,
            exclude_tables=exclude_tables,
            lock_timeout=lock_timeout,
        )
    if scheme in {"postgresql", "postgres"}:
        from replayqa.state.postgres import PostgresBackend

        return PostgresBackend(
            url,
            allow_restore=allow_restore,
            test_words=test_words,
            exclude_tables=exclude_tables,
            lock_timeout=lock_timeout,
            track_changes=track_changes,
        )
    if scheme in {"mysql", "mariadb", "mysql+pymysql"}:
        from replayqa.state.mysql import MySQLBackend

        return MySQLBackend(
            url,
            allow_restore=allow_restore,
            test_words=test_words,
            exclude_tables=exclude_tables,
            lock_timeout=lock_timeout,
            track_changes=track_changes,
        )
    raise ConfigError(
        f"unknown database URL scheme {scheme or url!r}: use sqlite:///path/app.db, "
        "postgresql://user@host/dbname (postgresql+undo:// for the undo log), "
        "mysql://user@host/dbname (or mariadb://), or none"
    )
