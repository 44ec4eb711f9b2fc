"""MySQL/MariaDB restores act on the app's committed data, while the app stays connected.

Every test runs against a real MariaDB server (tests/support/mariadb.py) and
an app stand-in in its own process with its own connection.
"""

from __future__ import annotations

import pymysql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replayqa.errors import RestoreBlockedError, StateError, UnsafeDatabaseError
from replayqa.state import open_state
from replayqa.state.mysql import ConnectionInfo, MySQLBackend
from tests.state.contract import assert_nested_rollbacks
from tests.support.apps import AppConnection

SCHEMA = [
    "CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40) NOT NULL, "
    "label VARCHAR(40) AS (UPPER(name)) STORED, joined_at DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6))",
    "CREATE TABLE products (id BIGINT AUTO_INCREMENT PRIMARY KEY, title TEXT, meta JSON, "
    "price DECIMAL(8,2), picture BLOB, flags BIT(3))",
    "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL, total INT, "
    "FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE CASCADE)",
    "CREATE TABLE order_lines (order_id INT, product_id BIGINT, qty INT, PRIMARY KEY (order_id, product_id), "
    "FOREIGN KEY (order_id) REFERENCES orders(id) ON DELETE CASCADE, "
    "FOREIGN KEY (product_id) REFERENCES products(id))",
    "CREATE TABLE schema_migrations (version VARCHAR(20) PRIMARY KEY)",
]
SEED = [
    "INSERT INTO customers (name) VALUES ('ada'), ('bob')",
    "INSERT INTO products (title, meta, price, picture, flags) VALUES "
    "('mug', '{\"color\": \"red\"}', 3.50, x'00ff10', b'101'), ('pen', NULL, NULL, NULL, NULL)",
    "INSERT INTO orders (customer_id, total) VALUES (1, 10), (2, 20)",
    "INSERT INTO order_lines (order_id, product_id, qty) VALUES (1, 1, 2), (2, 2, 1)",
    "INSERT INTO schema_migrations VALUES ('20240101')",
]
TABLES = ("customers", "products", "orders", "order_lines", "schema_migrations")


def _connect(url: str) -> pymysql.connections.Connection:
    info = ConnectionInfo.from_url(url)
    return pymysql.connect(host=info.host, port=info.port, user=info.user, database=info.database)


def contents(url: str) -> dict[str, tuple]:
    with _connect(url) as conn, conn.cursor() as cursor:
        found = {}
        for table in TABLES:
            cursor.execute(f"SELECT * FROM {table}")
            found[table] = tuple(sorted(cursor.fetchall(), key=repr))
        return found


def auto_increments(url: str) -> dict[str, int]:
    with _connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND AUTO_INCREMENT IS NOT NULL "
            "AND TABLE_NAME NOT LIKE 'replayqa%'"
        )
        return dict(cursor.fetchall())


def leftovers(url: str) -> tuple[tuple, tuple]:
    with _connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT TABLE_NAME FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'replayqa%'"
        )
        tables = cursor.fetchall()
        cursor.execute(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
            "WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME LIKE 'replayqa%'"
        )
        return tables, cursor.fetchall()


@pytest.fixture
def shop(mysql_url, app_connections):
    app = app_connections("mysql", mysql_url)
    for statement in SCHEMA + SEED:
        app.execute(statement)
    return app


@pytest.fixture
def backend(mysql_url, shop):
    state = open_state(mysql_url)
    state.connect()
    yield state
    state.disconnect()


def test_restore_is_exact_while_the_app_keeps_its_connection(mysql_url, shop, backend):
    before, counters = contents(mysql_url), auto_increments(mysql_url)
    backend.checkpoint("start")

    shop.execute("INSERT INTO customers (name) VALUES ('cy')")
    shop.execute("DELETE FROM customers WHERE id = 1")  # cascades into orders and order_lines
    shop.execute("UPDATE products SET meta = '{\"color\": \"blue\"}', picture = x'01' WHERE id = 1")
    shop.execute("INSERT INTO products (title) VALUES ('cup')")
    assert contents(mysql_url) != before

    backend.rollback("start")

    assert contents(mysql_url) == before
    assert auto_increments(mysql_url) == counters
    # The app, still on its old connection, writes again and gets the ids it would have.
    shop.execute("INSERT INTO customers (name) VALUES ('dee')")
    assert shop.execute("SELECT LAST_INSERT_ID()") == [[3]]
    shop.execute("INSERT INTO products (title) VALUES ('cap')")
    assert shop.execute("SELECT LAST_INSERT_ID()") == [[3]]


def test_only_tables_written_since_the_checkpoint_are_restored(mysql_url, shop, backend):
    backend.checkpoint("start")
    before = contents(mysql_url)
    shop.execute("UPDATE order_lines SET qty = qty + 5")
    shop.execute("DELETE FROM order_lines WHERE order_id = 2")

    backend.rollback("start")

    assert backend.last_restored == ["order_lines"]
    assert contents(mysql_url) == before
    backend.rollback("start")
    assert backend.last_restored == []


def test_cascaded_deletes_fire_no_trigger_but_are_restored(mysql_url, shop, backend):
    backend.checkpoint("start")
    before = contents(mysql_url)
    shop.execute("DELETE FROM customers WHERE id = 2")  # InnoDB deletes orders and lines, silently

    backend.rollback("start")

    assert backend.last_restored == ["customers", "order_lines", "orders"]
    assert contents(mysql_url) == before


def test_a_truncated_table_is_restored(mysql_url, shop, backend):
    backend.checkpoint("start")
    before, counters = contents(mysql_url), auto_increments(mysql_url)
    shop.execute("SET FOREIGN_KEY_CHECKS = 0")
    shop.execute("TRUNCATE TABLE products")  # no trigger fires; InnoDB makes the table anew
    shop.execute("SET FOREIGN_KEY_CHECKS = 1")

    backend.rollback("start")

    assert contents(mysql_url) == before
    assert auto_increments(mysql_url) == counters


def test_nested_checkpoints_roll_back_in_any_order(mysql_url, shop, backend):
    assert_nested_rollbacks(
        backend,
        lambda: (contents(mysql_url), auto_increments(mysql_url)),
        lambda: shop.execute("INSERT INTO customers (name) VALUES ('inner')"),
        lambda: shop.execute("UPDATE orders SET total = 0"),
    )


def test_an_open_app_transaction_blocks_a_restore_with_a_clear_message(mysql_url, shop, app_connections):
    backend = MySQLBackend(mysql_url, lock_timeout=1)
    backend.connect()
    try:
        backend.checkpoint("start")
        slow_app = app_connections("mysql", mysql_url)
        slow_app.begin()
        slow_app.execute("UPDATE customers SET name = 'held' WHERE id = 1")

        with pytest.raises(
            RestoreBlockedError, match=r"within 1s: blocked by connection \d+ \(idle in transaction"
        ):
            backend.rollback("start")

        slow_app.commit()
        backend.rollback("start")
        assert contents(mysql_url)["customers"][0][1] == "ada"
    finally:
        backend.disconnect()


def test_disconnect_removes_triggers_and_tables(mysql_url, shop):
    backend = open_state(mysql_url)
    backend.connect()
    backend.checkpoint("start")
    backend.disconnect()
    assert leftovers(mysql_url) == ((), ())


def test_connect_cleans_up_after_a_run_that_died(mysql_url, shop):
    crashed = MySQLBackend(mysql_url)
    crashed.connect()
    crashed.checkpoint("start")
    crashed._require().close()  # the process died: nothing was cleaned up
    assert leftovers(mysql_url) != ((), ())

    backend = MySQLBackend(mysql_url)
    backend.connect()
    backend.checkpoint("again")
    shop.execute("DELETE FROM order_lines")
    backend.rollback("again")
    backend.disconnect()
    assert leftovers(mysql_url) == ((), ())
    assert len(contents(mysql_url)["order_lines"]) == 2


def test_reset_empties_tables_but_keeps_migration_tables(mysql_url, shop, backend):
    backend.reset()
    data = contents(mysql_url)
    assert data["customers"] == () and data["order_lines"] == ()
    assert data["schema_migrations"] == (("20240101",),)
    shop.execute("INSERT INTO customers (name) VALUES ('new')")
    assert shop.execute("SELECT LAST_INSERT_ID()") == [[1]]


def test_restore_and_reset_refuse_a_database_not_named_as_a_test_one(make_mysql_database, app_connections):
    url = make_mysql_database("shop_production")
    app = app_connections("mysql", url)
    app.execute("CREATE TABLE notes (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT)")
    app.execute("INSERT INTO notes (body) VALUES ('keep me')")
    with pytest.raises(UnsafeDatabaseError, match="--allow-restore"):
        open_state(url).connect()  # refused before connecting: no triggers installed
    assert app.execute("SHOW TRIGGERS") == [], "nothing was installed"
    capturing = open_state(url, track_changes=False)  # a recorder's capture installs nothing: allowed
    capturing.connect()
    try:
        capturing.capture()
        app.execute("DELETE FROM notes")
        with pytest.raises(UnsafeDatabaseError):
            capturing.reset()
        assert app.execute("SELECT COUNT(*) FROM notes") == [[0]], "refused before any write"
    finally:
        capturing.disconnect()
    allowed = open_state(url, allow_restore=True)
    allowed.connect()
    allowed.checkpoint("start")
    allowed.rollback("start")
    allowed.disconnect()


def test_a_capture_restores_into_another_database_with_the_same_schema(mysql_url, shop, make_mysql_database):
    recorder = open_state(mysql_url, track_changes=False)
    recorder.connect()
    captured_rows, captured_counters = contents(mysql_url), auto_increments(mysql_url)
    capture = recorder.capture()
    recorder.disconnect()
    assert leftovers(mysql_url) == ((), ()), "capturing writes nothing into the app's database"
    assert capture.tables["customers"] == 2 and capture.tables["order_lines"] == 2

    ci_url = make_mysql_database("ci_test")  # another database: same schema, other data
    ci_app = AppConnection("mysql", ci_url)
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
        assert restored.pop("schema_migrations") == ()
        captured_rows.pop("schema_migrations")
        assert restored == captured_rows
        assert auto_increments(ci_url) == captured_counters
        ci_app.execute("INSERT INTO customers (name) VALUES ('next')")
        assert ci_app.execute("SELECT LAST_INSERT_ID()") == [[3]]
    finally:
        ci_app.close()


def _insert_sentinel_at_zero(app: AppConnection) -> None:
    """An app's default row kept at id 0, which MySQL stores only under NO_AUTO_VALUE_ON_ZERO.

    Under the default sql_mode an inserted 0 takes the next AUTO_INCREMENT value
    instead: a copy that does not ask for the mode moves the row, and the app,
    looking for its row 0, makes it again and breaks a unique key.
    """
    app.execute("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
    app.execute("INSERT INTO customers (id, name) VALUES (0, 'default')")


def test_a_row_at_auto_increment_zero_stays_at_zero_through_a_rollback(mysql_url, shop, backend):
    _insert_sentinel_at_zero(shop)
    before, counters = contents(mysql_url), auto_increments(mysql_url)
    backend.checkpoint("start")
    shop.execute("UPDATE customers SET name = 'changed' WHERE id = 0")

    backend.rollback("start")

    assert contents(mysql_url) == before
    assert shop.execute("SELECT id FROM customers WHERE name = 'default'") == [[0]]
    assert auto_increments(mysql_url) == counters


def test_a_row_at_auto_increment_zero_stays_at_zero_through_a_capture(mysql_url, shop, make_mysql_database):
    _insert_sentinel_at_zero(shop)
    recorder = open_state(mysql_url, track_changes=False)
    recorder.connect()
    capture = recorder.capture()
    recorder.disconnect()
    ci_url = make_mysql_database("zero_test")
    ci_app = AppConnection("mysql", ci_url)
    try:
        for statement in SCHEMA:
            ci_app.execute(statement)
        target = open_state(ci_url)
        target.connect()
        target.restore_capture(capture)
        target.disconnect()
        assert ci_app.execute("SELECT id FROM customers WHERE name = 'default'") == [[0]]
    finally:
        ci_app.close()


def test_captured_rows_are_text_in_mysql_formats(mysql_url, shop):
    from replayqa.state.base import capture_rows

    state = open_state(mysql_url, track_changes=False)
    state.connect()
    try:
        rows = capture_rows(state.capture())
    finally:
        state.disconnect()
    mug = rows["products"]["1"]
    assert mug["price"] == "3.50" and mug["picture"] == "00ff10" and mug["flags"] == "05"
    assert rows["order_lines"]["1|1"]["qty"] == "2"
    joined = rows["customers"]["1"]["joined_at"]
    assert len(joined) == 26 and joined[10] == " ", "DATETIME(6) as MySQL prints it"


def test_restoring_a_capture_into_a_different_schema_says_what_differs(mysql_url, shop, make_mysql_database):
    source = open_state(mysql_url, track_changes=False)
    source.connect()
    capture = source.capture()
    source.disconnect()
    other = make_mysql_database("other_test")
    app = AppConnection("mysql", other)
    app.execute("CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY)")
    app.close()
    target = open_state(other)
    target.connect()
    try:
        with pytest.raises(StateError, match=r"table customers has no column 'name'"):
            target.restore_capture(capture)
    finally:
        target.disconnect()


def test_tables_a_session_created_or_dropped_are_restored_and_captured(mysql_url, shop):
    state = open_state(mysql_url, track_changes=False)
    state.connect()
    try:
        start = state.capture()
        shop.execute("CREATE TABLE articles (id INT AUTO_INCREMENT PRIMARY KEY, title TEXT)")
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
    assert contents(mysql_url)["order_lines"] == ((1, 1, 2), (2, 2, 1))


# -- randomized sessions ------------------------------------------------------------

PROPERTY_SCHEMA = [
    "DROP TABLE IF EXISTS links, children, parents",
    "CREATE TABLE parents (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NOT NULL, "
    "meta JSON, shout VARCHAR(20) AS (UPPER(name)) VIRTUAL)",
    "CREATE TABLE children (id INT AUTO_INCREMENT PRIMARY KEY, parent_id BIGINT, note VARCHAR(20), "
    "at DATETIME(3), FOREIGN KEY (parent_id) REFERENCES parents(id) ON DELETE SET NULL)",
    "CREATE TABLE links (parent_id BIGINT, child_id INT, weight DECIMAL(6,2), "
    "PRIMARY KEY (parent_id, child_id), "
    "FOREIGN KEY (parent_id) REFERENCES parents(id) ON DELETE CASCADE, "
    "FOREIGN KEY (child_id) REFERENCES children(id) ON DELETE CASCADE ON UPDATE CASCADE)",
    "INSERT INTO parents (name, meta) VALUES ('seed', '{\"n\": 1}')",
    "INSERT INTO children (parent_id, note, at) VALUES (1, 'first', '2024-01-02 03:04:05.678')",
]
texts = st.text(alphabet="abcxyz' \\\"é", max_size=6)
picks = st.integers(min_value=0, max_value=4)
operations = st.one_of(
    st.tuples(
        st.just("INSERT INTO parents (name, meta) VALUES (%s, %s)"),
        st.tuples(texts, st.none() | st.sampled_from(['{"a": 1}', "[1, 2]", '"x"'])),
    ),
    st.tuples(
        st.just(
            "INSERT INTO children (parent_id, note, at) SELECT id, %s, NOW(3) FROM parents "
            "ORDER BY id LIMIT 1 OFFSET %s"
        ),
        st.tuples(st.none() | texts, picks),
    ),
    st.tuples(
        st.just(
            "INSERT IGNORE INTO links SELECT p.id, c.id, %s FROM (SELECT id FROM parents ORDER BY id "
            "LIMIT 1 OFFSET %s) p, (SELECT id FROM children ORDER BY id LIMIT 1 OFFSET %s) c"
        ),
        st.tuples(st.none() | st.decimals(-100, 100, places=2).map(str), picks, picks),
    ),
    st.tuples(
        st.just("UPDATE parents SET name = %s ORDER BY id LIMIT 1"),
        st.tuples(texts),
    ),
    st.tuples(st.just("UPDATE children SET note = NULL, at = NULL ORDER BY id DESC LIMIT 1"), st.just(())),
    st.tuples(st.just("DELETE FROM parents ORDER BY id DESC LIMIT 1"), st.just(())),
    st.tuples(st.just("DELETE FROM children ORDER BY id LIMIT 1"), st.just(())),
    st.tuples(st.just("INSERT INTO parents (name) VALUES ('lost') "), st.just(())),
    st.tuples(st.just("TRUNCATE links"), st.just(())),
)
actions = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.lists(operations, min_size=1, max_size=4)),
        st.tuples(st.just("checkpoint"), st.just(None)),
        st.tuples(st.just("rollback"), st.integers(min_value=0, max_value=5)),
        st.tuples(st.just("release"), st.integers(min_value=0, max_value=5)),
    ),
    min_size=1,
    max_size=12,
)


def state_of(conn: pymysql.connections.Connection) -> tuple:
    with conn.cursor() as cursor:
        tables = []
        for table in ("parents", "children", "links"):
            cursor.execute(f"SELECT * FROM {table} ORDER BY 1, 2")
            tables.append(cursor.fetchall())
        cursor.execute(
            "SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT LIKE 'replayqa%' ORDER BY 1"
        )
        return tuple(tables), cursor.fetchall()


@pytest.fixture(scope="module")
def property_db(mariadb):
    with mariadb.admin() as admin, admin.cursor() as cursor:
        cursor.execute("CREATE DATABASE property_test")
    return mariadb.dsn("property_test")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(session=actions)
def test_random_sessions_roll_back_exactly(property_db, app_connections, session):
    """Random app writes between checkpoints; rollbacks to random live checkpoints, out of order."""
    app = app_connections("mysql", property_db)  # the app: its own process and connection, open throughout
    for statement in PROPERTY_SCHEMA:
        app.execute(statement)
    observer = _connect(property_db)
    observer.autocommit(True)
    backend = open_state(property_db)
    backend.connect()
    try:
        live: list[tuple[str, tuple]] = []
        for number, (kind, argument) in enumerate(session):
            if kind == "write":
                for statement, params in argument:
                    app.execute(statement, *params)
            elif kind == "checkpoint":
                name = f"cp{number}"
                backend.checkpoint(name)
                live.append((name, state_of(observer)))
            elif live and kind == "rollback":
                name, expected = live[argument % len(live)]
                backend.rollback(name)
                assert state_of(observer) == expected
            elif live:
                name, _ = live.pop(argument % len(live))
                backend.release(name)
        for name, expected in reversed(live):  # every checkpoint still live is still exact
            backend.rollback(name)
            assert state_of(observer) == expected
        app.execute("INSERT INTO parents (name) VALUES ('the app still writes')")
    finally:
        backend.disconnect()
        observer.close()
        app.close()
