"""``--store redis://...``: branches, replays and recordings restore the app's Redis keys too.

The app (tests/support/redis_cart_app.py) keeps its cart in a real
redis-server and its orders in SQLite. The journey checks out in one path and
adds to the same cart in the next: that second path passes only if the cart
in Redis is restored between the paths.
"""

from __future__ import annotations

import itertools
import json

import httpx
import pytest

from tests.support.apps import ChildApp

CART_JOURNEY = """
name: cart_in_redis
steps:
  - name: add_mug
    request: {method: POST, path: /cart/items, json: {item: mug}}
    expect: {status: 201}
  - checkpoint: mug_in_cart
  - branch:
      checkpoint: mug_in_cart
      paths:
        - name: buy_the_mug
          steps:
            - name: checkout
              request: {method: POST, path: /checkout}
              expect:
                status: 201
                body: [{path: items.mug, equals: 1}, {path: order, equals: 1}]
        - name: add_a_pen_then_buy
          steps:
            - name: add_pen
              request: {method: POST, path: /cart/items, json: {item: pen}}
              expect:
                status: 201
                body: [{path: items.mug, equals: 1}, {path: items.pen, equals: 1}]
            - name: checkout
              request: {method: POST, path: /checkout}
              expect:
                status: 201
                body: [{path: order, equals: 1}]
"""

_dbs = itertools.count(8)


@pytest.fixture
def shop(tmp_path, redis_server):
    """The cart app on its own Redis database; yields it, the --db and --store URLs, and Redis."""
    db = next(_dbs) % 16
    cache = redis_server.client(db)
    cache.flushdb()
    orders = tmp_path / "orders_test.db"
    apps: list[ChildApp] = []

    def start() -> ChildApp:
        app = ChildApp("redis_cart_app.py", f"redis://127.0.0.1:{redis_server.port}/{db}", str(orders))
        apps.append(app)
        return app

    (tmp_path / "cart.yaml").write_text(CART_JOURNEY)
    yield start, f"sqlite:///{orders}", redis_server.url(db), cache
    for app in apps:
        app.stop()


def test_the_cart_in_redis_is_restored_between_paths(cli, shop):
    start, db, store, cache = shop
    app = start()
    done = cli("run", "cart.yaml", "--base-url", app.base_url, "--db", db, "--store", store)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2/2 paths passed" in done.stdout
    assert cache.hgetall("cart:ada") == {}, "the last path's checkout is where the run ended"


def test_without_the_store_the_second_path_sees_the_first_paths_checkout(cli, shop):
    start, db, _, _ = shop
    app = start()
    done = cli("run", "cart.yaml", "--base-url", app.base_url, "--db", db, "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    issues = [i for j in json.loads(done.stdout)["journeys"] for i in j["issues"]]
    assert [(i["path"], i["step"]) for i in issues] == [("add_a_pen_then_buy", "add_pen")]
    assert "items.mug" in issues[0]["error"]


def test_stores_can_come_from_replayqa_toml(cli, shop, tmp_path):
    start, db, store, _ = shop
    app = start()
    (tmp_path / "replayqa.toml").write_text(f'db = "{db}"\nstores = ["{store}"]\n')
    done = cli("run", "cart.yaml", "--base-url", app.base_url)
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_unmarked_store_is_refused_before_any_request(cli, shop, redis_server):
    start, db, store, cache = shop
    app = start()
    unmarked = store.partition("?")[0]
    done = cli("run", "cart.yaml", "--base-url", app.base_url, "--db", db, "--store", unmarked)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("replayqa: error: refusing to restore Redis store")
    assert done.stderr.rstrip().endswith(f"{unmarked}?name=cache_test")
    assert cache.keys("*") == [], "no request was sent"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("memcached://127.0.0.1:11211", "unknown --store URL 'memcached://127.0.0.1:11211'"),
        ("redis://127.0.0.1:1/0?name=cache_test", "cannot connect to Redis"),
    ],
)
def test_a_bad_store_is_one_line(cli, shop, url, says):
    start, _, _, _ = shop
    app = start()
    done = cli("run", "cart.yaml", "--base-url", app.base_url, "--store", url)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and says in done.stderr, done.stderr


def test_db_checks_see_the_stores_keys(cli, shop, tmp_path):
    start, _, store, _ = shop
    app = start()
    (tmp_path / "checks.yaml").write_text(
        """
name: db_checks_see_redis
steps:
  - name: refused_checkout
    request: {method: POST, path: /checkout}
    expect: {status: 409, db: unchanged}
  - name: add_mug
    request: {method: POST, path: /cart/items, json: {item: mug}}
    expect: {status: 201, db: unchanged}
"""
    )
    done = cli("run", "checks.yaml", "--base-url", app.base_url, "--store", store, "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    issues = [(i["step"], i["error"]) for j in json.loads(done.stdout)["journeys"] for i in j["issues"]]
    assert issues == [("add_mug", "the database changed: redis/cart:ada added")]


def record_a_purchase(recording_proxy, app: ChildApp, db: str, store: str) -> None:
    proxy = recording_proxy("--upstream", app.base_url, "--out", "cart.db", "--db", db, "--store", store)
    with httpx.Client(base_url=proxy.url) as client:
        client.post("/cart/items", json={"item": "mug"})
        client.post("/cart/items", json={"item": "pen"})
        client.post("/checkout")
    code, _, err = proxy.stop()
    assert code == 0, err


def test_record_replay_and_a_fault_only_redis_shows(cli, shop, recording_proxy, monkeypatch):
    start, db, store, cache = shop
    cache.hset("cart:ada", "spoon", 1)  # the recorded start state: a spoon already in the cart
    app = start()
    record_a_purchase(recording_proxy, app, db, store)

    cache.flushdb()  # whatever Redis holds now, each replay starts from the recorded keys
    for attempt in range(2):
        done = cli("replay", "cart.db", "--base-url", app.base_url, "--db", db, "--store", store, "--json")
        assert done.returncode == 0, f"replay {attempt + 1}: " + done.stdout[-2000:] + done.stderr
    assert cache.keys("*") == [], "the checkout emptied the cart, as recorded"

    app.stop()
    monkeypatch.setenv("CART_FAULT", "keep")
    faulty = start()
    done = cli("replay", "cart.db", "--base-url", faulty.base_url, "--db", db, "--store", store, "--json")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr
    errors = [i["error"] for j in json.loads(done.stdout)["journeys"] for i in j.get("issues", [])]
    assert errors == [
        'database differs from the recording: db redis/cart:ada: added {"value": '
        '"{\\"mug\\": \\"1\\", \\"pen\\": \\"1\\", \\"spoon\\": \\"1\\"}", "expires": true}'
    ], "the answers were as recorded; only the cart left behind in Redis shows the fault"


def test_a_recording_with_stores_needs_them_on_replay(cli, shop, recording_proxy):
    start, db, store, _ = shop
    app = start()
    record_a_purchase(recording_proxy, app, db, store)
    done = cli("replay", "cart.db", "--base-url", app.base_url, "--db", db)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr
    assert "replay with the same --db and --store options" in done.stderr


def test_parallel_replay_workers_would_share_the_store(cli, shop):
    _, _, store, _ = shop
    done = cli("replay", "cart.db", "--base-url", "http://127.0.0.1:1", "--store", store, "--workers", "2")
    assert done.returncode == 2
    assert done.stderr == (
        "replayqa: error: --workers with --store: the workers would share one Redis and see each "
        "other's keys; replay with --workers 1\n"
    )


def test_synth_passes_its_stores_to_the_quality_gate(cli, shop):
    from importlib import resources

    start, _, _, _ = shop
    app = start()
    spec = str(resources.files("replayqa.demo").joinpath("openapi.yaml"))
    done = cli("synth", "--spec", spec, "--base-url", app.base_url, "--store", "memcached://127.0.0.1:1")
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr
    assert done.stderr.endswith(
        "unknown --store URL 'memcached://127.0.0.1:1': use redis://host:6379/0"
        "?name=cache_test (a Redis database)\n"
    ), done.stderr
