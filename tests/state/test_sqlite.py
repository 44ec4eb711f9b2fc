"""SQLite restores copy the live file with the backup API while the app keeps it open."""

from __future__ import annotations

import sqlite3

import pytest

from replayqa.errors import ConfigError, RestoreBlockedError, UnsafeDatabaseError
from replayqa.state import open_state
from replayqa.state.sqlite import SQLiteBackend
from tests.state.contract import assert_nested_rollbacks

SCHEMA = """
CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL);
CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT,
                    user_id INTEGER NOT NULL REFERENCES users(id), body TEXT);
CREATE TABLE schema_migrations (version TEXT PRIMARY KEY);
INSERT INTO users (name) VALUES ('ada'), ('bob');
INSERT INTO notes (user_id, body) VALUES (1, 'hello'), (2, 'world');
INSERT INTO schema_migrations VALUES ('001');
"""


def connected(tmp_path, name: str):
    """A fresh WAL database file and a backend connected to it."""
    path = tmp_path / name
    make_db(path, "wal")
    backend = open_state(f"sqlite:///{path}")
    backend.connect()
    return path, backend


def make_db(path, journal_mode: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode = {journal_mode}")
    conn.executescript(SCHEMA)
    conn.close()


def contents(path) -> dict[str, list]:
    conn = sqlite3.connect(path)
    try:
        tables = ("users", "notes", "schema_migrations", "sqlite_sequence")
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables}
    finally:
        conn.close()


@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_restore_is_exact_while_the_app_keeps_the_file_open(tmp_path, app_connections, journal_mode):
    path = tmp_path / "shop_test.db"
    make_db(path, journal_mode)
    app = app_connections("sqlite", str(path))
    app.execute("SELECT count(*) FROM users")  # the app has the file open and has read it
    backend = open_state(f"sqlite:///{path}")
    backend.connect()
    before = contents(path)
    backend.checkpoint("start")

    app.execute("INSERT INTO users (name) VALUES ('cy')")
    app.execute("DELETE FROM notes WHERE id = 1")
    app.execute("UPDATE users SET name = 'ADA' WHERE id = 1")
    assert contents(path) != before

    backend.rollback("start")

    assert contents(path) == before
    assert app.execute("SELECT name FROM users ORDER BY id") == [["ada"], ["bob"]]
    # Next AUTOINCREMENT value is the checkpoint's: 3, not 4.
    assert app.execute("INSERT INTO users (name) VALUES ('dee') RETURNING id") == [[3]]
    assert app.execute("PRAGMA journal_mode") == [[journal_mode]]
    backend.disconnect()


def test_nested_checkpoints(tmp_path, app_connections):
    path = tmp_path / "qa.db"
    make_db(path, "wal")
    app = app_connections("sqlite", str(path))
    backend = open_state(f"sqlite:///{path}")
    backend.connect()
    assert_nested_rollbacks(
        backend,
        lambda: contents(path),
        lambda: app.execute("INSERT INTO users (name) VALUES ('x')"),
        lambda: app.execute("DELETE FROM notes"),
    )
    backend.disconnect()


def test_reset_keeps_migration_tables(tmp_path):
    path, backend = connected(tmp_path, "app_test.db")
    backend.reset()
    data = contents(path)
    assert data["users"] == [] and data["notes"] == [] and data["sqlite_sequence"] == []
    assert data["schema_migrations"] == [("001",)]
    backend.disconnect()


def test_a_write_transaction_left_open_blocks_the_restore_with_a_clear_message(tmp_path, app_connections):
    path = tmp_path / "app_test.db"
    make_db(path, "wal")
    backend = SQLiteBackend(path, lock_timeout=0.3)
    backend.connect()
    backend.checkpoint("start")
    app = app_connections("sqlite", str(path))
    app.begin()
    app.execute("INSERT INTO users (name) VALUES ('held')")
    with pytest.raises(RestoreBlockedError, match="holds a write transaction open"):
        backend.rollback("start")
    app.commit()
    backend.rollback("start")
    assert [r[0] for r in contents(path)["users"]] == [1, 2]
    backend.disconnect()


def test_refuses_to_restore_a_database_not_named_as_a_test_one(tmp_path):
    _, backend = connected(tmp_path, "production.db")
    backend.checkpoint("start")
    with pytest.raises(UnsafeDatabaseError, match=r"production\.db"):
        backend.rollback("start")
    backend.disconnect()


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no SQLite database"):
        open_state(f"sqlite:///{tmp_path}/absent_test.db").connect()


@pytest.mark.parametrize(
    ("url", "expected"),
    [("sqlite:///rel/app.db", "rel/app.db"), ("sqlite:////abs/app.db", "/abs/app.db")],
)
def test_url_forms(url, expected):
    assert str(SQLiteBackend.from_url(url).path) == expected


def test_a_capture_restores_into_another_file(tmp_path, app_connections):
    source = tmp_path / "recorded_test.db"
    make_db(source, "wal")
    backend = open_state(f"sqlite:///{source}")
    backend.connect()
    before = contents(source)
    capture = backend.capture()
    backend.disconnect()
    assert capture.backend == "sqlite" and capture.tables == {"notes": 2, "schema_migrations": 1, "users": 2}

    target = tmp_path / "ci_test.db"
    make_db(target, "wal")
    app = app_connections("sqlite", str(target))
    app.execute("INSERT INTO users (name) VALUES ('stale')")
    restore = open_state(f"sqlite:///{target}")
    restore.connect()
    restore.restore_capture(capture)
    restore.disconnect()
    assert contents(target) == before
    assert app.execute("INSERT INTO users (name) VALUES ('next') RETURNING id") == [[3]]


def test_a_postgres_capture_cannot_go_into_sqlite(tmp_path):
    from replayqa.errors import StateError
    from replayqa.model import DatabaseCapture

    _, backend = connected(tmp_path, "x_test.db")
    with pytest.raises(StateError, match="capture is of a postgresql database"):
        backend.restore_capture(DatabaseCapture("postgresql", b""))
    backend.disconnect()
