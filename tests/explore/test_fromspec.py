"""A graph from a spec: synth's bindings make the actions, synth's invariants and explore's check them."""

from __future__ import annotations

from replayqa.demo.run import spec_path
from replayqa.explore.fromspec import graph_from_spec


def test_the_demo_spec_gives_an_action_per_operation_user_and_example():
    graph = graph_from_spec(spec_path(), {"email": "admin@shop.test", "password": "admin-pass"})
    names = [e.name for e in graph.edges]
    assert "log_in" not in names and "register_user" not in names  # the setup's, run once
    assert [s.name for s in graph.setup] == ["log_in", "register_other", "log_in_other"]
    assert {"checkout_cart", "checkout_cart_declined", "add_to_cart_as_other"} <= set(names)
    edges = {e.name: e for e in graph.edges}
    assert edges["checkout_cart"].requires == {"token", "cart_id"}
    assert edges["add_to_cart"].requires == {"token", "item_id"}
    assert edges["add_to_cart"].step.save == {"cart_id": "id?"}  # a refusal names no id
    assert edges["add_to_cart_as_other"].step.save == {}
    assert edges["checkout_cart_declined"].step.action.json == {"card_number": "4000000000000002"}
    kinds = [i.spec["kind"] for i in graph.invariants]
    assert kinds == [
        "no_server_errors",
        "no_dangling_references",
        "refusals_change_nothing",
        "repeats_change_nothing",
    ]
    repeats = graph.invariants[-1].spec["operations"]
    assert "POST /carts/{cart_id}/checkout" in repeats and "PATCH /cart/items/{item_id}" in repeats
    assert "POST /cart/items" not in repeats and "DELETE /items/{item_id}" not in repeats
