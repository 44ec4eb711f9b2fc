"""The Redis store: checkpoints and restores of keys, with TTLs, against a real redis-server."""

from __future__ import annotations

import itertools

import pytest

from replayqa.errors import ConfigError, UnsafeDatabaseError
from replayqa.state.redis import RedisStore, capture_rows
from tests.state.contract import assert_nested_rollbacks

_dbs = itertools.count(1)


@pytest.fixture
def store(redis_server):
    db = next(_dbs) % 16
    app = redis_server.client(db)  # the app: its own client
    app.flushdb()
    app.set("session:ada", "cart=1", ex=3600)
    app.hset("cart:ada", mapping={"mug": 1, "pen": 2})
    app.rpush("queue", "a", "b")
    backend = RedisStore(redis_server.url(db))
    backend.connect()
    yield backend, app
    backend.disconnect()


def contents(app) -> dict:
    found = {}
    for key in sorted(app.keys("*")):
        found[key] = (app.type(key), app.dump(key), app.ttl(key) > 0)
    return found


def test_a_rollback_brings_back_values_types_and_ttls(store):
    backend, app = store
    before = contents(app)
    backend.checkpoint("start")
    app.delete("session:ada")
    app.hset("cart:ada", "cup", 3)
    app.set("rate:ada", 5)
    app.persist("cart:ada")

    backend.rollback("start")

    assert contents(app) == before
    assert 3500 < app.ttl("session:ada") <= 3600


def test_nested_checkpoints_roll_back_in_any_order(store):
    backend, app = store
    assert_nested_rollbacks(
        backend,
        lambda: contents(app),
        lambda: app.lpush("queue", "inner"),
        lambda: app.set("session:ada", "cart=2"),
    )


def test_a_capture_restores_and_diffs_key_by_key(store):
    backend, app = store
    start = backend.capture()
    app.set("session:ada", "cart=9")
    app.set("session:bob", "x")
    changed = capture_rows(backend.capture())
    assert changed["redis"]["session:ada"]["value"] == '"cart=9"'
    assert set(changed["redis"]) - set(capture_rows(start)["redis"]) == {"session:bob"}
    backend.restore_capture(start)
    assert capture_rows(backend.capture()) == capture_rows(start)


def test_restores_need_a_test_name_in_the_url(redis_server):
    backend = RedisStore(f"redis://127.0.0.1:{redis_server.port}/0")
    backend.connect()
    try:
        backend.checkpoint("start")
        fix = rf"mark it so in its URL: redis://127.0.0.1:{redis_server.port}/0\?name=cache_test$"
        with pytest.raises(UnsafeDatabaseError, match=fix):
            backend.rollback("start")
    finally:
        backend.disconnect()
    marked = RedisStore(f"redis://127.0.0.1:{redis_server.port}/0?name=sessions_qa")
    assert marked.name == "sessions_qa"
    marked.check_restore_allowed()


def test_an_unreachable_redis_is_one_line():
    with pytest.raises(ConfigError, match=r"cannot connect to Redis .*check --store"):
        RedisStore("redis://127.0.0.1:1/0").connect()


def test_a_credential_key_is_redacted_and_not_restored(store):
    import zlib

    from replayqa.state.base import ColumnRedaction

    backend, app = store
    app.set("api_token:ada", "s3cret-token")
    capture = backend.capture(ColumnRedaction(lambda value: "<redacted>"))
    assert b"s3cret" not in zlib.decompress(capture.data), "nor in the DUMP, which holds the value"
    assert capture_rows(capture)["redis"]["api_token:ada"]["value"] == '"<redacted>"'

    backend.restore_capture(capture)
    assert app.hgetall("cart:ada") == {b"mug": b"1", b"pen": b"2"}
    assert app.get("api_token:ada") is None, "a placeholder is no token: the key is left out"
