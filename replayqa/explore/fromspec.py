"""A StateGraph from an OpenAPI spec: every operation an action, bound the way synth binds values.

Synth decides what each operation needs: the login (and a second user,
when the API can register one) run once as setup; a path parameter or body
field naming a resource's id reads the context value the last call that
made, listed or read one saved; each request body is synth's example, and
each further example in the spec is an action of its own (a declined card).
An action is tried only in states whose context holds what it references.
Secured operations are also tried as the other user, who saves nothing:
acting on the first user's things is what they are for.

The invariants are synth's (no server errors, deleted things stay gone),
plus: a refused request changes nothing, and the same request twice in a
row, on an operation that should be idempotent (by HTTP method, or an action
on one resource such as ``/orders/{id}/refund``), changes state once.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from replayqa.actions import RequestAction
from replayqa.explore.graph import StateGraph
from replayqa.invariants import from_spec
from replayqa.model import Check, Invariant, Step
from replayqa.synth.fromspec import (
    OTHER,
    PRIMARY,
    Builder,
    SpecSynth,
    SynthOptions,
    _should_be_idempotent,
    snake,
    step_name,
)
from replayqa.synth.openapi import Api, Operation

#: Every answer lets exploration go on; server errors are the no_server_errors invariant's to report.
ANY_STATUS: list[Any] = ["1xx", "2xx", "3xx", "4xx", "5xx"]


def graph_from_spec(
    spec: str | Path,
    variables: dict[str, Any] | None = None,
    *,
    auth: str | None = None,
    invariants: Iterable[Invariant] = (),
) -> StateGraph:
    """The spec's operations as a StateGraph; ``variables`` are ``--var`` values (a login)."""
    variables = dict(variables or {})
    synth = SpecSynth(Api.load(spec, auth), SynthOptions(variables=tuple(variables), negative=False))
    setup = Builder(synth, "explore_setup")
    synth._identity(setup, PRIMARY)
    has_other = synth.auth.kind == "bearer" and synth._identity(setup, OTHER)
    graph = StateGraph("explore", setup=[n for n in setup.nodes if isinstance(n, Step)], variables=variables)
    skipped = {o.key for o in (synth.auth.login, synth.auth.register) if o is not None}
    bound = {r.var for r in synth.map.resources.values()} | setup.available
    for op in synth.api.operations:
        if op.deprecated or op.key in skipped:
            continue
        users = [PRIMARY, OTHER] if has_other and synth.api.security_of(op) else [PRIMARY]
        for who in users:
            for label, example in _bodies(op):
                graph.add_edge(None, None, _step(synth, op, who, label, example, bound, setup.names))
    for invariant in [*synth.invariants(), *_explore_invariants(synth), *invariants]:
        graph.add_invariant(invariant)
    return graph


def _bodies(op: Operation) -> list[tuple[str, Any]]:
    """The default body, then each further example the spec gives (a declined card, a refund)."""
    return [("", None), *((snake(name), value) for name, value in op.body_examples[1:])]


def _step(
    synth: SpecSynth,
    op: Operation,
    who: str,
    label: str,
    example: Any,
    bound: set[str],
    taken: set[str],
) -> Step:
    builder = Builder(synth, "explore")
    builder.available = set(bound)  # refer to every resource by its context value; states decide
    builder.names = set(taken)
    body = synth._body(op, builder, example=example) if example is not None else None
    action = synth.request(op, builder, who, body=body)
    name = step_name(op) + (f"_{label}" if label else "") + ("" if who == PRIMARY else f"_as_{who}")
    save = {}
    produced = synth.produces(op)
    if produced is not None and who == PRIMARY:
        resource, id_path, _ = produced
        # Ids come from creates when something creates them: a list's first entry is whatever an
        # earlier path left behind, unless restores cleared it (then the lists are for seeded data).
        if not ("[0]" in id_path and resource.creators):
            save[resource.var] = id_path + "?"  # a refusal names no id
    return Step(
        name,
        action,
        description=_describe(op, action),
        checks=(Check("status", value=ANY_STATUS),),
        save=save,
    )


def _describe(op: Operation, action: RequestAction) -> str:
    return op.summary or f"{op.method} {op.path}"


def _explore_invariants(synth: SpecSynth) -> list[Invariant]:
    idempotent = [  # a DELETE answers what it removed: the second answer rightly differs
        f"{op.method} {synth.base_path}{op.path}"
        for op in synth.api.operations
        if _should_be_idempotent(op) and op.method != "DELETE"
    ]
    specs: list[dict[str, Any]] = [
        {"kind": "refusals_change_nothing", "name": "a refused request changes nothing"}
    ]
    if idempotent:
        specs.append(
            {
                "kind": "repeats_change_nothing",
                "name": "a repeated request changes state once",
                "operations": idempotent,
            }
        )
    return [from_spec(s, "explore") for s in specs]
