"""PostgreSQL restores act on the app's committed data, while the app stays connected."""

from __future__ import annotations

import psycopg
import pytest

from replayqa.errors import RestoreBlockedError, StateError, UnsafeDatabaseError
from replayqa.state import open_state
from replayqa.state.postgres import PostgresBackend
from tests.state.contract import assert_nested_rollbacks
from tests.support.apps import AppConnection

SCHEMA = [
    "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, "
    "label text GENERATED ALWAYS AS (upper(name)) STORED)",
    "CREATE TABLE products (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text, "
    "tags text[], meta jsonb)",
    "CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id) "
    "ON DELETE CASCADE, total int)",
    "CREATE TABLE order_lines (id serial, order_id int REFERENCES orders(id) ON DELETE CASCADE, "
    "product_id bigint REFERENCES products(id), qty int, PRIMARY KEY (order_id, product_id))",
    "CREATE TABLE alembic_version (version_num text PRIMARY KEY)",
]
SEED = [
    "INSERT INTO customers (name) VALUES ('ada'), ('bob')",
    "INSERT INTO products (title, tags, meta) VALUES ('mug', '{kitchen}', '{\"color\": \"red\"}'), "
    "('pen', NULL, NULL)",
    "INSERT INTO orders (customer_id, total) VALUES (1, 10), (2, 20)",
    "INSERT INTO order_lines (order_id, product_id, qty) VALUES (1, 1, 2), (2, 2, 1)",
    "INSERT INTO alembic_version VALUES ('abc123')",
]
TABLES = ("customers", "products", "orders", "order_lines", "alembic_version")
SEQUENCES = ("customers_id_seq", "products_id_seq", "orders_id_seq", "order_lines_id_seq")


def contents(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in TABLES}


def sequences(url: str) -> dict[str, tuple]:
    with psycopg.connect(url) as conn:
        return {s: conn.execute(f"SELECT last_value, is_called FROM {s}").fetchone() for s in SEQUENCES}


@pytest.fixture
def shop(pg_url, app_connections):
    app = app_connections("postgres", pg_url)
    for statement in SCHEMA + SEED:
        app.execute(statement)
    return app


@pytest.fixture
def backend(pg_url, shop):
    state = open_state(pg_url)
    state.connect()
    yield state
    state.disconnect()


def test_restore_is_exact_while_the_app_keeps_its_connection(pg_url, shop, backend):
    before, seqs = contents(pg_url), sequences(pg_url)
    backend.checkpoint("start")

    shop.execute("INSERT INTO customers (name) VALUES ('cy')")
    shop.execute("DELETE FROM customers WHERE id = 1")  # cascades into orders and order_lines
    shop.execute("UPDATE products SET meta = '{\"color\": \"blue\"}', tags = '{a,b}' WHERE id = 1")
    shop.execute("INSERT INTO products (title) VALUES ('cup')")
    assert contents(pg_url) != before

    backend.rollback("start")

    assert contents(pg_url) == before
    assert sequences(pg_url) == seqs
    # The app, still on its old connection, writes again and gets the ids it would have.
    assert shop.execute("INSERT INTO customers (name) VALUES ('dee') RETURNING id") == [[3]]
    assert shop.execute("INSERT INTO products (title) VALUES ('cap') RETURNING id") == [[3]]
    assert shop.execute("INSERT INTO orders (customer_id, total) VALUES (1, 5) RETURNING id") == [[3]]


def test_only_tables_written_since_the_checkpoint_are_restored(pg_url, shop, backend):
    backend.checkpoint("start")
    before = contents(pg_url)
    # order_lines references orders and products, which stay untouched.
    shop.execute("UPDATE order_lines SET qty = qty + 5")
    shop.execute("DELETE FROM order_lines WHERE order_id = 2")

    backend.rollback("start")

    assert backend.last_restored == ["order_lines"]
    assert contents(pg_url) == before
    backend.rollback("start")
    assert backend.last_restored == []


def test_nested_checkpoints_roll_back_in_any_order(pg_url, shop, backend):
    assert_nested_rollbacks(
        backend,
        lambda: contents(pg_url),
        lambda: shop.execute("INSERT INTO customers (name) VALUES ('inner')"),
        lambda: shop.execute("UPDATE orders SET total = 0"),
    )


def test_an_open_app_transaction_blocks_a_restore_with_a_clear_message(pg_url, shop, app_connections):
    backend = PostgresBackend(pg_url, lock_timeout=0.3)
    backend.connect()
    try:
        backend.checkpoint("start")
        slow_app = app_connections("postgres", pg_url)
        slow_app.begin()
        slow_app.execute("UPDATE customers SET name = 'held' WHERE id = 1")

        with pytest.raises(RestoreBlockedError, match=r"blocked by pid \d+ \(idle in transaction"):
            backend.rollback("start")

        slow_app.commit()
        backend.rollback("start")
        assert contents(pg_url)["customers"][0][1] == "ada"
    finally:
        backend.disconnect()


def test_disconnect_removes_triggers_and_schemas(pg_url, shop):
    backend = open_state(pg_url)
    backend.connect()
    backend.checkpoint("start")
    backend.disconnect()
    assert leftovers(pg_url) == ([], [])


def test_connect_cleans_up_after_a_run_that_died(pg_url, shop):
    crashed = PostgresBackend(pg_url)
    crashed.connect()
    crashed.checkpoint("start")
    crashed._conn.close()  # the process died: nothing was cleaned up
    assert leftovers(pg_url) != ([], [])

    backend = PostgresBackend(pg_url)
    backend.connect()
    backend.checkpoint("again")
    shop.execute("DELETE FROM order_lines")
    backend.rollback("again")
    backend.disconnect()
    assert leftovers(pg_url) == ([], [])
    assert len(contents(pg_url)["order_lines"]) == 2


def test_reset_empties_tables_but_keeps_migration_tables(pg_url, shop, backend):
    backend.reset()
    data = contents(pg_url)
    assert data["customers"] == [] and data["order_lines"] == []
    assert data["alembic_version"] == [("abc123",)]
    assert shop.execute("INSERT INTO customers (name) VALUES ('new') RETURNING id") == [[1]]


def test_restore_and_reset_refuse_a_database_not_named_as_a_test_one(make_pg_database):
    url = make_pg_database("shop_production")
    with pytest.raises(UnsafeDatabaseError, match="--allow-restore"):
        open_state(url).connect()  # refused before connecting: no change tracking installed
    with psycopg.connect(url) as conn:
        installed = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'replayqa%'")
        assert installed.fetchall() == []
    capturing = open_state(url, track_changes=False)  # a recorder's capture installs nothing: allowed
    capturing.connect()
    try:
        capturing.capture()
        with pytest.raises(UnsafeDatabaseError, match="--allow-restore"):
            capturing.reset()
    finally:
        capturing.disconnect()
    allowed = open_state(url, allow_restore=True)
    allowed.connect()
    allowed.checkpoint("start")
    allowed.rollback("start")
    allowed.disconnect()


def leftovers(url: str) -> tuple[list, list]:
    with psycopg.connect(url) as conn:
        schemas = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'replayqa%'").fetchall()
        triggers = conn.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'replayqa%'").fetchall()
    return schemas, triggers


def test_a_capture_restores_into_another_database_with_the_same_schema(pg_url, shop, make_pg_database):
    recorder = open_state(pg_url, track_changes=False)
    recorder.connect()
    captured_rows, captured_seqs = contents(pg_url), sequences(pg_url)
    capture = recorder.capture()
    recorder.disconnect()
    assert leftovers(pg_url) == ([], []), "capturing writes nothing into the app's database"
    assert capture.tables["customers"] == 2 and capture.tables["order_lines"] == 2

    ci_url = make_pg_database("ci_test")  # another database: same schema, other data
    ci_app = AppConnection("postgres", ci_url)
    try:
        for statement in SCHEMA:
            ci_app.execute(statement)
        ci_app.execute("INSERT INTO customers (name) VALUES ('stale'), ('x'), ('y')")
        target = open_state(ci_url)
        target.connect()
        target.restore_capture(capture)
        target.disconnect()
        restored = contents(ci_url)
        # Migration tables are the target's own business: not captured, not touched.
        assert restored.pop("alembic_version") == []
        captured_rows.pop("alembic_version")
        assert restored == captured_rows
        assert sequences(ci_url) == captured_seqs
        assert ci_app.execute("INSERT INTO customers (name) VALUES ('next') RETURNING id") == [[3]]
    finally:
        ci_app.close()


def test_restoring_a_capture_into_a_different_schema_says_what_differs(pg_url, shop, make_pg_database):
    source = open_state(pg_url, track_changes=False)
    source.connect()
    capture = source.capture()
    source.disconnect()
    other = make_pg_database("other_test")
    with psycopg.connect(other, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id serial PRIMARY KEY)")
    target = open_state(other)
    target.connect()
    try:
        with pytest.raises(StateError, match=r"table customers has no column 'name'"):
            target.restore_capture(capture)
    finally:
        target.disconnect()


def test_tables_a_session_created_or_dropped_are_restored_and_captured(pg_url, shop):
    """A CMS makes a table per content type: the next replay must find the table gone, and back."""
    state = open_state(pg_url, track_changes=False)
    state.connect()
    try:
        start = state.capture()
        shop.execute("CREATE TABLE articles (id serial PRIMARY KEY, title text)")
        shop.execute("INSERT INTO articles (title) VALUES ('hello')")
        shop.execute("DROP TABLE order_lines")
        end = state.capture()
        assert end.tables.get("articles") == 1, "a table made after connecting is captured"
        assert "order_lines" not in end.tables

        state.restore_capture(start, drop=["articles"], create=["order_lines"])
        restored = state.capture()
    finally:
        state.disconnect()
    assert "articles" not in restored.tables, "dropped, so the session can create it again"
    assert restored.tables["order_lines"] == 2, "made again, with its rows"
    assert contents(pg_url)["order_lines"] == [(1, 1, 1, 2), (2, 2, 2, 1)]
    assert shop.execute("CREATE TABLE articles (id serial PRIMARY KEY)") == []
