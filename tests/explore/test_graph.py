"""StateGraph, the Python API: nodes with checkers, actions as edges, invariants, explored on a real app."""

from __future__ import annotations

import pytest

from replayqa import events as ev
from replayqa.errors import ConfigError
from replayqa.explore import StateGraph
from replayqa.model import Severity
from replayqa.runner import JourneyRunner


def create(client, context):
    return client.post("/orders", json={"amount": 100})


def refund(client, context):
    return client.post(f"/orders/{context['order_id']}/refund", json={"amount": 100})


def look(client, context):
    return client.get(f"/orders/{context['order_id']}")


def never_over_refunded(client, context, db):
    order = client.get(f"/orders/{context['order_id']}").json() if "order_id" in context else None
    if order and order["refunded"] > order["amount"]:
        return f"refunded {order['refunded']} on an order of {order['amount']}"
    return True


def orders_graph() -> StateGraph:
    graph = StateGraph("orders")
    graph.add_node("start", initial=True)
    graph.add_node("ordered", lambda client, context: client.get("/orders").json() != [])
    graph.add_edge("start", "ordered", create, save={"order_id": "id"})
    graph.add_edge(None, None, look, requires=["order_id"])
    graph.add_edge("ordered", None, refund, requires=["order_id"])
    graph.add_invariant("never refunded more than paid", never_over_refunded, Severity.CRITICAL)
    return graph


@pytest.mark.parametrize("strategy", ["bfs", "dfs", "random"])
def test_every_strategy_finds_the_double_refund_and_shrinks_it(client, strategy):
    events = []
    result = orders_graph().explore(client, strategy=strategy, max_depth=4, listeners=[events.append])
    assert len(result.violations) == 1
    violation = result.violations[0]
    assert "refunded 200 on an order of 100" in violation.issue.error
    assert violation.issue.severity is Severity.CRITICAL
    assert violation.actions == ["create", "refund", "refund"]
    assert len(violation.found) >= 3
    assert result.reexecutions > 0 and result.restores == 0  # no database: paths run again
    assert any(isinstance(e, ev.ViolationFound) for e in events)
    assert any(isinstance(e, ev.StateExplored) for e in events)


def test_breadth_first_finds_the_shortest_sequence_first(client):
    result = orders_graph().explore(client, strategy="bfs", max_depth=4)
    assert result.violations[0].found == ["create", "refund", "refund"]


def test_the_shrunk_sequence_is_a_journey_the_runner_reproduces(client):
    violation = orders_graph().explore(client, max_depth=3).violations[0]
    rerun = JourneyRunner(client).run_journey(violation.journey)
    assert [s.step for s in rerun.steps] == ["create", "refund", "refund_2"]
    assert any("never refunded more than paid" in i.error for i in rerun.issues)


def test_an_edge_that_misses_its_target_node_is_a_violation(client):
    graph = StateGraph("orders")
    graph.add_node("start", initial=True)
    graph.add_node("cancelled", lambda client, context: False)
    graph.add_edge("start", "cancelled", create, save={"order_id": "id"})
    result = graph.explore(client, max_depth=1)
    assert ["should reach state 'cancelled'" in v.issue.error for v in result.violations] == [True]


def test_budgets_stop_the_search(client):
    result = orders_graph().explore(client, max_depth=10, max_steps=5)
    assert result.actions == 5 and result.stopped == "max steps (5) reached"


def test_graph_mistakes_are_one_line_errors(client):
    graph = orders_graph()
    with pytest.raises(ConfigError, match="no node 'paid'"):
        graph.add_edge("ordered", "paid", refund)
    with pytest.raises(ConfigError, match="two edges named 'create'"):
        graph.add_edge(None, None, create)
    with pytest.raises(ConfigError, match="strategy 'astar'"):
        graph.explore(client, strategy="astar")


def test_a_path_that_goes_another_way_when_run_again_skips_what_it_no_longer_allows(client):
    made = []

    def create_once(client, context):  # the second time the app refuses: no id to save
        made.append(1)
        return client.post("/orders", json={"amount": 100 if len(made) == 1 else 0})

    graph = StateGraph("orders")
    graph.add_edge(None, None, create_once, name="create", save={"order_id": "id?"})
    graph.add_edge(None, None, look, requires=["order_id"])
    result = graph.explore(client, max_depth=2)
    assert result.diverged >= 1 and result.violations == []
