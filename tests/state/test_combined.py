"""A database and its Redis stores as one state: checkpointed, restored and captured together."""

from __future__ import annotations

import itertools
import sqlite3

import pytest

from replayqa.errors import ConfigError, StateError, UnsafeDatabaseError
from replayqa.state import NullBackend, open_state
from replayqa.state.base import capture_rows
from replayqa.state.combined import CombinedState
from tests.state.contract import assert_nested_rollbacks

_dbs = itertools.count(1)


@pytest.fixture
def app(tmp_path, redis_server):
    """The app's two places: an SQLite file and a Redis database, each written by its own client."""
    path = tmp_path / "shop_test.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT)")
    conn.execute("INSERT INTO orders (item) VALUES ('mug')")
    db = next(_dbs) % 16
    cache = redis_server.client(db)
    cache.flushdb()
    cache.hset("cart:ada", mapping={"mug": 1})
    cache.set("session:ada", "signed-in", ex=600)
    yield path, conn, redis_server.url(db), cache
    conn.close()


def contents(conn, cache) -> tuple:
    orders = conn.execute("SELECT * FROM orders ORDER BY id").fetchall()
    keys = {key: cache.dump(key) for key in sorted(cache.keys("*"))}
    return orders, keys


def test_open_state_with_stores_checkpoints_and_restores_both(app):
    path, conn, redis_url, cache = app
    state = open_state(f"sqlite:///{path}", stores=[redis_url])
    assert isinstance(state, CombinedState)
    state.connect()
    try:
        assert_nested_rollbacks(
            state,
            lambda: contents(conn, cache),
            lambda: (conn.execute("INSERT INTO orders (item) VALUES ('pen')"), cache.incr("n")),
            lambda: (cache.delete("session:ada"), conn.execute("DELETE FROM orders")),
        )
        assert 0 < cache.ttl("session:ada") <= 600, "the session's time to live comes back too"
    finally:
        state.disconnect()
    assert not state.is_connected()


def test_a_store_without_a_database(app):
    _, _, redis_url, cache = app
    state = open_state(None, stores=[redis_url])
    state.connect()
    try:
        state.checkpoint("start")
        cache.hincrby("cart:ada", "mug", 5)
        state.rollback("start")
        assert cache.hget("cart:ada", "mug") == b"1"
        with pytest.raises(StateError, match="no --db URL was given"):
            state.query("SELECT 1")
    finally:
        state.disconnect()


def test_a_capture_holds_both_and_shows_the_store_as_a_table(app):
    path, conn, redis_url, cache = app
    state = open_state(f"sqlite:///{path}", stores=[redis_url])
    state.connect()
    try:
        start = state.capture()
        assert start.backend == "stores"
        assert start.tables == {"orders": 1, "redis": 2}
        conn.execute("INSERT INTO orders (item) VALUES ('pen')")
        cache.hset("cart:ada", "pen", 2)
        rows = capture_rows(state.capture())
        assert set(rows["orders"]) == {"1", "2"}
        assert rows["redis"]["cart:ada"]["value"] == '{"mug": "1", "pen": "2"}'

        state.restore_capture(start)
        assert capture_rows(state.capture()) == capture_rows(start)
    finally:
        state.disconnect()


def test_two_stores_are_two_tables(app, redis_server):
    redis_url = app[2]
    other = redis_server.client(15)
    other.flushdb()
    other.set("rate:ada", 3)
    state = open_state(None, stores=[redis_url, redis_server.url(15)])
    state.connect()
    try:
        rows = capture_rows(state.capture())
        assert set(rows) == {"redis", "redis_2"}
        assert rows["redis_2"]["rate:ada"]["value"] == '"3"'
    finally:
        state.disconnect()


def test_a_plain_database_capture_is_refused_with_the_fix(app):
    path, _, redis_url, _ = app
    plain = open_state(f"sqlite:///{path}")
    plain.connect()
    capture = plain.capture()
    plain.disconnect()
    state = open_state(f"sqlite:///{path}", stores=[redis_url])
    state.connect()
    try:
        with pytest.raises(StateError, match="record again with the same --store, or replay without --store"):
            state.restore_capture(capture)
        with pytest.raises(StateError, match="replay with the same --db and --store options"):
            plain.restore_capture(state.capture())
    finally:
        state.disconnect()


def test_an_unmarked_store_refuses_before_anything_is_restored(app, redis_server):
    path, conn, _, cache = app
    unmarked = f"redis://127.0.0.1:{redis_server.port}/{cache.connection_pool.connection_kwargs['db']}"
    state = open_state(f"sqlite:///{path}", stores=[unmarked], allow_restore=True)
    state.connect()
    try:
        state.checkpoint("start")
        conn.execute("INSERT INTO orders (item) VALUES ('pen')")
        with pytest.raises(UnsafeDatabaseError, match=r"\?name=cache_test$"):
            state.rollback("start")
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (2,), "the database was not touched"
    finally:
        state.disconnect()


def test_a_bad_store_url_is_one_line():
    with pytest.raises(ConfigError, match=r"unknown --store URL 'memcached://x'.*redis://host:6379/0"):
        open_state(None, stores=["memcached://x"])
    with pytest.raises(ConfigError, match="cannot connect to Redis"):
        CombinedState(NullBackend(), [open_state(None, stores=["redis://127.0.0.1:1/0"]).stores[0]]).connect()
