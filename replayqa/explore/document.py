"""A StateGraph written as YAML, for graphs a spec cannot give: the same nodes, edges and invariants.

::

    name: orders
    vars: {amount: 100}
    setup:                      # journey steps, run once before the first state (a login)
      - name: log_in
        request: {method: POST, path: /login, json: {user: "{{ user }}"}}
        save: {token: token}
    nodes:
      - name: start
        initial: true
      - name: paid              # check: a request whose expectations hold in this state
        check:
          request: {method: GET, path: "/orders/{{ order_id }}"}
          expect: {status: 200, body: [{path: status, equals: paid}]}
    edges:                      # journey steps, each with an optional from: and to: node
      - name: pay
        from: start
        to: paid
        request: {method: POST, path: "/orders/{{ order_id }}/pay"}
    invariants:                 # the journeys' own kinds
      - kind: repeats_change_nothing
        operations: ["POST /orders/{order_id}/pay"]
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from replayqa.checks import evaluate
from replayqa.errors import ConfigError, JourneyError
from replayqa.explore.graph import StateGraph
from replayqa.invariants import from_spec
from replayqa.loader import load_file, load_step
from replayqa.model import Invariant, Step

_KEYS = ("name", "vars", "setup", "nodes", "edges", "invariants")


def load_graph(path: str | Path, variables: dict[str, Any] | None = None) -> StateGraph:
    """The graph in a YAML file; ``variables`` (``--var``) are added to its ``vars``."""
    where = str(path)
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{where}: cannot read the state graph: {exc}") from exc
    if not isinstance(document, dict):
        raise JourneyError(f"{where}: a state graph is a mapping with nodes, edges and invariants")
    unknown = sorted(set(document) - set(_KEYS))
    if unknown:
        raise JourneyError(f"{where}: unknown key {unknown[0]!r}; a state graph has {', '.join(_KEYS)}")
    setup = [load_step(item, f"{where}, setup") for item in document.get("setup") or []]
    graph = StateGraph(
        str(document.get("name") or Path(path).stem),
        setup=setup,
        variables={**(document.get("vars") or {}), **(variables or {})},
    )
    for item in document.get("nodes") or []:
        if not isinstance(item, dict) or "name" not in item:
            raise JourneyError(f"{where}: each node is a mapping with a 'name'")
        check = item.get("check")
        checker = _checker(load_step({"name": f"check_{item['name']}", **check}, where)) if check else None
        graph.add_node(str(item["name"]), checker, initial=bool(item.get("initial")))
    for item in document.get("edges") or []:
        if not isinstance(item, dict):
            raise JourneyError(
                f"{where}: each edge is a step mapping (name, request, ...) with from: and to:"
            )
        step = load_step(item, f"{where}, edges", extra_keys=("from", "to"))
        graph.add_edge(item.get("from"), item.get("to"), step)
    for index, spec in enumerate(document.get("invariants") or [], 1):
        graph.add_invariant(from_spec(spec, f"{where}, invariant {index}"))
    return graph


def load_invariants(path: str | Path) -> list[Invariant]:
    """A user's own invariants: a YAML file's ``invariants:`` list, or a Python file's ``invariants``."""
    where = str(path)
    if Path(path).suffix == ".py":
        return load_file(path).invariants
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{where}: cannot read invariants: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("invariants"), list):
        raise JourneyError(f"{where}: an invariants file is a mapping with an 'invariants:' list")
    return [from_spec(spec, f"{where}, invariant {n}") for n, spec in enumerate(document["invariants"], 1)]


def _checker(step: Step) -> Callable[[Any, Any], bool]:
    """A node's check: its request answered as its expectations say."""

    def holds(client: Any, context: Any) -> bool:
        step.action(client, context)
        exchange = client.last_exchange
        return exchange is not None and not any(evaluate(c, exchange) for c in step.checks)

    return holds
