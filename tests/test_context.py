import pytest

from replayqa import ExecutionContext


def test_mapping_access_and_defaults():
    ctx = ExecutionContext({"token": "t"})
    ctx["user_id"] = 7
    ctx.set("cart", {"id": 1})
    assert ctx["user_id"] == 7 and ctx.get("missing", "fallback") == "fallback"
    assert "token" in ctx and len(ctx) == 3


def test_get_required_names_the_key_and_the_keys_that_exist():
    ctx = ExecutionContext({"token": "t", "user_id": 1})
    with pytest.raises(KeyError, match=r"no value 'cart_id'; it has: token, user_id"):
        ctx.get_required("cart_id")


def test_snapshot_is_deep_so_later_changes_do_not_leak_back():
    ctx = ExecutionContext({"cart": {"items": [1]}})
    ctx.store_step_result("login", {"status": 200})
    snap = ctx.snapshot()
    ctx["cart"]["items"].append(2)
    ctx["new"] = True
    ctx.store_step_result("pay", {"status": 201})
    ctx.restore(snap)
    assert ctx.to_dict() == {"values": {"cart": {"items": [1]}}, "steps": {"login": {"status": 200}}}
    ctx["cart"]["items"].append(3)
    ctx.restore(snap)  # a snapshot can be restored more than once
    assert ctx["cart"] == {"items": [1]}


def test_step_results():
    ctx = ExecutionContext()
    ctx.store_step_result("create", {"body": {"id": 5}})
    assert ctx.get_step_result("create")["body"]["id"] == 5
    assert ctx.get_step_result("absent") is None
