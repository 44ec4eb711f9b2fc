"""State graphs written as YAML: the same nodes, edges and invariants as the Python API."""

from __future__ import annotations

import pytest

from replayqa.errors import JourneyError
from replayqa.explore.document import load_graph

GRAPH = """
name: orders
vars: {amount: 100}
nodes:
  - name: start
    initial: true
  - name: refunded
    check:
      request: {method: GET, path: "/orders/{{ order_id }}"}
      expect: {status: 200, body: [{path: status, equals: refunded}]}
edges:
  - name: create
    request: {method: POST, path: /orders, json: {amount: "{{ amount }}"}}
    save: {order_id: id}
  - name: refund
    to: refunded
    request: {method: POST, path: "/orders/{{ order_id }}/refund", json: {amount: "{{ amount }}"}}
invariants:
  - kind: repeats_change_nothing
    operations: ["POST /orders/{order_id}/refund"]
"""


def test_a_yaml_graph_explores_like_a_python_one(tmp_path, client):
    path = tmp_path / "orders.yaml"
    path.write_text(GRAPH)
    graph = load_graph(path)
    assert [e.name for e in graph.edges] == ["create", "refund"]
    assert graph.edges[1].requires == {"order_id", "amount"} and graph.edges[1].target == "refunded"
    result = graph.explore(client, max_depth=3)
    assert [v.actions for v in result.violations] == [["create", "refund", "refund"]]
    assert "refunded 100 -> 200" in result.violations[0].issue.error


def test_mistakes_in_a_graph_file_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nstates: []\n")
    with pytest.raises(JourneyError, match=r"bad\.yaml: unknown key 'states'"):
        load_graph(path)
