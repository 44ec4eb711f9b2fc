"""Abstract states: ids, names and timestamps differ between equal states; enum words and numbers do not."""

from __future__ import annotations

from replayqa.explore.abstract import database_key, observe, shape, state_key


def test_two_equal_orders_made_on_fresh_resources_have_one_shape():
    first = {"id": 3, "name": "mug-20240115-103000-a1b2c3", "status": "paid", "total": 12, "created_at": "x"}
    again = {"id": 9, "name": "mug-20240116-090000-ffffff", "status": "paid", "total": 12, "created_at": "y"}
    assert shape(first) == shape(again)
    assert shape({**again, "status": "refunded"}) != shape(first)
    assert shape({**again, "total": 24}) != shape(first)


def test_a_state_is_what_is_bound_and_what_the_app_has_shown():
    seen = observe({}, {"id": 1, "status": "open", "lines": [{"item_id": 4, "quantity": 1}]})
    key = state_key("*", ["cart_id"], seen, None)
    assert key == state_key(
        "*",
        ["cart_id"],
        observe({}, {"id": 8, "status": "open", "lines": [{"item_id": 5, "quantity": 1}]}),
        None,
    )
    assert key != state_key("*", ["cart_id", "order_id"], seen, None)
    assert key != state_key(
        "*", ["cart_id"], observe(seen, {"id": 1, "status": "checked_out", "lines": []}), None
    )
    assert key != state_key("*", ["cart_id"], seen, "rows")


def test_database_fingerprints_leave_timestamps_out():
    rows = {"orders": {"1": {"id": 1, "total": 5, "created_at": "2024-01-15 10:30:00"}}}
    later = {"orders": {"1": {"id": 1, "total": 5, "created_at": "2024-01-15 10:30:09"}}}
    assert database_key(rows) == database_key(later)
    assert database_key(rows) != database_key({"orders": {"1": {"id": 1, "total": 6, "created_at": "x"}}})
