"""StateGraph: states, the actions between them, and invariants checked after every action.

Nodes name states and may carry a checker ``(client, context) -> bool`` that
says whether the app is in that state. Edges are actions ``(client, context)
-> response`` (a :class:`~replayqa.model.Step`, so the one runner executes
them and a found sequence is a runnable journey). Invariants are the
journeys' own (:class:`~replayqa.model.Invariant`).

:meth:`StateGraph.explore` walks the states breadth first, depth first or at
random. Equal abstract states (see :mod:`replayqa.explore.abstract`) are
expanded once. To expand a state it must be back in it: with a state backend
the database is restored to that state's checkpoint, in any order (BFS jumps
between siblings and cousins, which SAVEPOINTs, being a stack, cannot do);
with none, the path to it is executed again from the start on fresh
resources. Each violation is shrunk by delta debugging and kept as a journey.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from replayqa import events as ev
from replayqa.actions import RequestAction
from replayqa.errors import ConfigError, JourneyError
from replayqa.explore.abstract import database_key, observe, state_key
from replayqa.explore.relations import RelationLearner, relation_invariant
from replayqa.explore.shrink import ddmin
from replayqa.model import Action, Check, Invariant, Issue, IssueKind, Journey, Node, Severity, Step
from replayqa.runner import JourneyRunner
from replayqa.state.base import NullBackend, StateBackend, capture_rows, row_counts

STRATEGIES = ("bfs", "dfs", "random")
#: Any answer but a server error: an explored action may rightly be refused.
NOT_5XX: list[Any] = ["1xx", "2xx", "3xx", "4xx"]
_BUILTIN_NAMES = {"run_id", "run_key", "steps"}
_READS = ("GET", "HEAD", "OPTIONS")


@dataclass
class StateNode:
    name: str
    checker: Callable[[Any, Any], bool] | None = None
    description: str = ""


@dataclass
class Edge:
    """An action from ``source`` (None: from any state) that should lead to ``target`` (None: anywhere)."""

    step: Step
    source: str | None = None
    target: str | None = None
    #: Context values the action needs: it is tried only in states that have them.
    requires: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.step.name


@dataclass
class Violation:
    """One broken invariant, with the shortest action sequence that breaks it."""

    issue: Issue
    key: str
    found: list[str]  # action names as the search found them
    actions: list[str]  # after shrinking
    journey: Journey  # setup + actions, with the invariants: ``replayqa run`` reproduces it


@dataclass
class ExploreResult:
    violations: list[Violation] = field(default_factory=list)
    states: int = 0
    actions: int = 0  # edges taken
    requests: int = 0  # every request, re-executions and shrinking included
    restores: int = 0  # database restores to a checkpoint
    reexecutions: int = 0  # paths executed again for want of a database
    diverged: int = 0  # edges not taken: the path run again did not give what they need
    depth: int = 0
    seconds: float = 0.0  # the whole exploration, shrinking included
    search_seconds: float = 0.0  # the search alone
    stopped: str = "every state explored"
    relations: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.violations

    def counts(self) -> dict[str, Any]:
        """What the exploration did, as ``--json`` and the benchmark report it."""
        return {
            "states": self.states,
            "actions": self.actions,
            "requests": self.requests,
            "restores": self.restores,
            "reexecutions": self.reexecutions,
            "diverged": self.diverged,
            "depth": self.depth,
            "seconds": round(self.seconds, 2),
            "search_seconds": round(self.search_seconds, 2),
            "stopped": self.stopped,
        }


class StateGraph:
    """States, actions and invariants; ``setup`` steps (a login) run once before the first state."""

    def __init__(
        self,
        name: str = "explore",
        *,
        setup: Sequence[Step] = (),
        variables: dict[str, Any] | None = None,
        learn_relations: bool = True,
    ) -> None:
        self.name = name
        self.nodes: dict[str, StateNode] = {}
        self.edges: list[Edge] = []
        self.invariants: list[Invariant] = []
        self.setup = list(setup)
        self.variables = dict(variables or {})
        self.learn_relations = learn_relations
        self.initial: str | None = None

    def add_node(
        self,
        name: str,
        checker: Callable[[Any, Any], bool] | None = None,
        *,
        initial: bool = False,
        description: str = "",
    ) -> StateNode:
        if name in self.nodes:
            raise ConfigError(f"state graph {self.name!r}: two nodes named {name!r}; give each its own name")
        node = StateNode(name, checker, description)
        self.nodes[name] = node
        if initial or self.initial is None:
            self.initial = name
        return node

    def add_edge(
        self,
        source: str | None,
        target: str | None,
        action: Action | Step,
        *,
        name: str | None = None,
        checks: Sequence[Check] | None = None,
        save: dict[str, str] | None = None,
        requires: Iterable[str] | None = None,
    ) -> Edge:
        """An action between states; a plain callable becomes a step that must not answer 5xx."""
        for end in (source, target):
            if end is not None and end not in self.nodes:
                known = ", ".join(self.nodes) or "none"
                raise ConfigError(
                    f"state graph {self.name!r}: no node {end!r} (nodes: {known}); add it first"
                )
        if isinstance(action, Step):
            step = action
        else:
            label = name or getattr(action, "__name__", "") or f"action_{len(self.edges) + 1}"
            step = Step(
                label,
                action,
                checks=tuple(checks) if checks is not None else (Check("status", value=NOT_5XX),),
                save=dict(save or {}),
            )
        if any(e.name == step.name for e in self.edges):
            raise ConfigError(f"state graph {self.name!r}: two edges named {step.name!r}; name each one")
        needed = frozenset(requires) if requires is not None else _references(step)
        edge = Edge(step, source, target, needed)
        self.edges.append(edge)
        return edge

    def add_invariant(
        self,
        name: str | Invariant,
        check: Callable[[Any, Any, Any], bool | str | None] | None = None,
        severity: Severity = Severity.HIGH,
        description: str = "",
    ) -> Invariant:
        """An invariant checked after every action: ``check(client, context, db)`` True/None or a message."""
        if isinstance(name, Invariant):
            invariant = name
        elif check is None:
            raise ConfigError(f"invariant {name!r} needs a check function")
        else:
            invariant = Invariant(name, check, severity, description)
        self.invariants.append(invariant)
        return invariant

    def explore(
        self,
        client: Any,
        state_backend: StateBackend | None = None,
        strategy: str = "bfs",
        max_depth: int = 4,
        max_steps: int | None = None,
        *,
        max_time: float | None = None,
        listeners: Iterable[ev.Listener] = (),
        seed: int = 0,
    ) -> ExploreResult:
        """Walk the graph's states from the setup's end; see the module docstring."""
        if strategy not in STRATEGIES:
            raise ConfigError(f"strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
        if max_depth < 1:
            raise ConfigError(f"max depth {max_depth}: give at least 1")
        explorer = _Explorer(self, client, state_backend, strategy, max_depth, max_steps, max_time, seed)
        explorer.listeners = list(listeners)
        return explorer.run()


def _references(step: Step) -> frozenset[str]:
    if not isinstance(step.action, RequestAction):
        return frozenset()
    roots = {re.split(r"[.\[\s|]", ref.strip(), maxsplit=1)[0] for ref in step.action.references()}
    return frozenset(roots - _BUILTIN_NAMES)


@dataclass
class _State:
    path: tuple[Edge, ...]
    node: str
    key: str
    values: dict[str, Any]  # the context's values in this state
    client: dict[str, Any] | None
    seen: dict[str, Any]  # what the app has shown, as abstract objects
    checkpoint: str | None = None
    database: str | None = None  # the rows' fingerprint, with a state backend
    #: Accepted writes that answered no body, in any order: a soft delete shows in no count or body.
    writes: tuple[str, ...] = ()


class _Explorer:
    """One exploration: the search loop, the way back to a state, and the shrinking."""

    def __init__(
        self,
        graph: StateGraph,
        client: Any,
        state: StateBackend | None,
        strategy: str,
        max_depth: int,
        max_steps: int | None,
        max_time: float | None,
        seed: int,
    ) -> None:
        self.graph = graph
        self.client = client
        self.state: StateBackend = state or NullBackend()
        self.restores = not isinstance(self.state, NullBackend)
        self.strategy = strategy
        self.max_depth = max_depth
        self.max_steps = max_steps
        self.deadline = time.monotonic() + max_time if max_time else None
        self.random = random.Random(seed)
        self.runner = JourneyRunner(client, self.state, variables=graph.variables)
        self.learner = RelationLearner() if graph.learn_relations else None
        self.result = ExploreResult()
        self.listeners: list[ev.Listener] = []
        self._here: _State | None = None  # the state the app is in now, when known
        self._rows_of: _State | None = None  # the state whose rows the database holds now, when known
        self._seen: dict[str, Any] = {}  # what the app showed on the way to the state it is in
        self._checkpoints = 0
        self._learned: dict[str, Invariant] = {}

    # -- the search ---------------------------------------------------------------------

    def run(self) -> ExploreResult:
        started = time.monotonic()
        connected_here = not self.state.is_connected()
        if connected_here:
            self.state.connect()
        try:
            if self.restores:
                self.state.check_restore_allowed()
            root = self._root()
            self._search(root)
            self.result.search_seconds = time.monotonic() - started
            self.result.violations = [
                self._shrunk(v, root, n) for n, v in enumerate(self.result.violations, 1)
            ]
            if root.checkpoint:  # the app is left as the setup left it
                self.state.rollback(root.checkpoint)
                self.state.release(root.checkpoint)
        finally:
            if connected_here and self.state.is_connected():
                self.state.disconnect()
        self.result.seconds = time.monotonic() - started
        self.result.relations = self.learner.relations if self.learner else []
        return self.result

    def _search(self, root: _State) -> None:
        frontier = [root]
        visited = {root.key}
        self.result.states = 1
        while frontier:
            stop = self._budget_spent()
            if stop:
                self.result.stopped = stop
                break
            state = self._pop(frontier)
            for edge in self._enabled(state):
                if self._budget_spent():
                    break
                child = self._take(state, edge)
                if child is None or child.key in visited:
                    continue
                visited.add(child.key)
                self.result.states += 1
                self.result.depth = max(self.result.depth, len(child.path))
                self._emit(ev.StateExplored(self.result.states, self.result.actions, len(child.path)))
                if len(child.path) < self.max_depth:
                    if self.restores:
                        child.checkpoint = self._checkpoint()
                    frontier.append(child)
            self._release(state, root)
        for state in frontier:  # the budget ran out before these were expanded
            self._release(state, root)

    def _release(self, state: _State, root: _State) -> None:
        if state.checkpoint and state is not root:
            self.state.release(state.checkpoint)
            state.checkpoint = None

    def _pop(self, frontier: list[_State]) -> _State:
        if self.strategy == "bfs":
            return frontier.pop(0)
        if self.strategy == "dfs":
            return frontier.pop()
        return frontier.pop(self.random.randrange(len(frontier)))

    def _budget_spent(self) -> str | None:
        if self.max_steps is not None and self.result.actions >= self.max_steps:
            return f"max steps ({self.max_steps}) reached"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "max time reached"
        return None

    def _enabled(self, state: _State) -> list[Edge]:
        return [
            e
            for e in self.graph.edges
            if (e.source is None or e.source == state.node) and e.requires <= state.values.keys()
        ]

    def _emit(self, event: ev.Event) -> None:
        for listener in self.listeners:
            listener(event)

    # -- states ---------------------------------------------------------------------------

    def _root(self) -> _State:
        result = self.runner.run_journey(
            Journey(f"{self.graph.name}_setup", list(self.graph.setup), variables=dict(self.graph.variables))
        )
        self.result.requests += len(result.steps)
        failed = [s for s in result.steps if not s.passed]
        if failed:
            raise ConfigError(
                f"the exploration's setup failed at step {failed[0].step!r}: {failed[0].error}; "
                "check --var values (a login's email and password) and --base-url"
            )
        values = dict(self.runner.context)
        node = self.graph.initial or "*"
        root = _State((), node, "", values, self._client_snapshot(), {})
        root.key = self._key(root)
        if self.restores:
            root.checkpoint = self._checkpoint()
        self._here = self._rows_of = root
        return root

    def _key(self, state: _State) -> str:
        bound = [k for k in state.values if not k.startswith("_") and k not in self.graph.variables]
        if self.restores:
            counts = row_counts(self.state)  # cheap; values show in the observed responses
            state.database = database_key(
                {"counts": {"all": counts}} if counts is not None else capture_rows(self.state.capture())
            )
        return state_key(state.node, [*bound, *state.writes], state.seen, state.database)

    def _checkpoint(self) -> str:
        self._checkpoints += 1
        name = f"__replayqa_explore_{self._checkpoints}__"
        self.state.checkpoint(name)
        return name

    def _client_snapshot(self) -> dict[str, Any] | None:
        snapshot = getattr(self.client, "snapshot", None)
        return snapshot() if snapshot else None

    def _go_to(self, state: _State) -> dict[str, Any]:
        """Put the app back in ``state``; returns the context values to go on from.

        ``self._seen`` becomes what the app showed on the way: a path run again
        made other objects than the first time.
        """
        self._seen = state.seen
        if self._here is state or (self.restores and self._rows_of is state):
            values = state.values
        elif self.restores and state.checkpoint:
            self.state.rollback(state.checkpoint)
            self.result.restores += 1
            values = state.values
        else:
            values = self._reexecute(state.path)
        if state.client is not None:
            self.client.restore(state.client)
        self._here = self._rows_of = None
        return values

    def _reexecute(self, path: Sequence[Edge]) -> dict[str, Any]:
        """The path again from the setup, on fresh resources (a new run id makes new names).

        Sets ``self._seen`` from the responses the path got this time.
        """
        self.result.reexecutions += 1
        steps: list[Node] = [*self.graph.setup, *_unique_steps([e.step for e in path])]
        journey = Journey(
            f"{self.graph.name}_again",
            steps,
            variables=dict(self.graph.variables),
            invariants=self.graph.invariants,  # their memory (deleted ids, readings) must be rebuilt too
        )
        result = self.runner.run_journey(journey, run_id=_run_id())
        self.result.requests += len(result.steps)
        seen: dict[str, Any] = {}
        for step in result.steps[len(self.graph.setup) :]:
            response = step.exchange.response if step.exchange is not None else None
            if response is not None and response.status < 300:
                seen = observe(seen, response.json_or_none(), self.runner.context.values())
        self._seen = seen
        return dict(self.runner.context)

    def _take(self, state: _State, edge: Edge) -> _State | None:
        """The edge from ``state``; None when the way back to it did not give what the edge needs."""
        values = self._go_to(state)
        if not edge.requires <= values.keys():
            # Run again on fresh resources, the path went another way (a call refused this time
            # saved no id): this state cannot be reached again the same way.
            self.result.diverged += 1
            return None
        journey = Journey(
            self.graph.name,
            [edge.step],
            variables=values,
            invariants=[*self.graph.invariants, *self._learned.values()],
        )
        result = self.runner.run_journey(journey)
        self.result.actions += 1
        self.result.requests += 1
        path = (*state.path, edge)
        issues = list(result.issues)
        exchange = result.steps[-1].exchange if result.steps else None
        seen = dict(self._seen)
        if exchange is not None and exchange.response is not None:
            body = exchange.response.json_or_none()
            if exchange.response.status < 300:
                seen = observe(seen, body, self.runner.context.values())
            issues += self._learned_relations(exchange.response.status, body, result.steps[-1].step, exchange)
        node, wrong = self._node_after(state.node, edge)
        if wrong:
            issues.append(
                Issue(
                    self.graph.name,
                    "explore",
                    edge.name,
                    wrong,
                    Severity.HIGH,
                    IssueKind.INVARIANT,
                    *_pair(exchange),
                )
            )
        for issue in issues:
            self._violation(issue, path)
        writes = state.writes
        response = exchange.response if exchange is not None else None
        if response is not None and exchange is not None and exchange.request.method not in _READS:
            silent = response.status < 400 and response.json_or_none() is None
            writes = tuple(sorted((*writes, edge.name))) if silent else writes
        child = _State(
            path, node, "", dict(self.runner.context), self._client_snapshot(), seen, writes=writes
        )
        child.key = self._key(child)
        # A read that changed no row count left the database in the parent's state: the next
        # sibling needs no restore, only the parent's context.
        read = exchange is not None and exchange.request.method in _READS
        self._here = child
        self._rows_of = state if self.restores and read and child.database == state.database else child
        return child

    def _node_after(self, source: str, edge: Edge) -> tuple[str, str | None]:
        """The node the action led to, and what is wrong when it did not reach its target."""
        if edge.target is not None:
            checker = self.graph.nodes[edge.target].checker
            if checker is not None and not checker(self.client, self.runner.context):
                return (
                    source,
                    f"action {edge.name!r} should reach state {edge.target!r}, but its checker says no",
                )
            return edge.target, None
        for node in self.graph.nodes.values():
            if node.checker is not None and node.checker(self.client, self.runner.context):
                return node.name, None
        return source, None

    def _learned_relations(self, status: int, body: Any, step: str, exchange: Any) -> list[Issue]:
        if self.learner is None:
            return []
        issues = []
        # One object breaking several guesses about one field (total == sum(line totals), total ==
        # sum(quantities) when every price was 1) is one finding: the first guess stands for them.
        for expression, evidence in self.learner.check(status, body)[:1]:
            invariant = self._learned.setdefault(expression, relation_invariant(expression, evidence))
            message = invariant.check(self.client, self.runner.context, self.state)
            if isinstance(message, str):
                issues.append(
                    Issue(
                        self.graph.name,
                        "explore",
                        step,
                        f"invariant {invariant.name!r}: {message}",
                        invariant.severity,
                        IssueKind.INVARIANT,
                        *_pair(exchange),
                    )
                )
        return issues

    # -- violations -----------------------------------------------------------------------

    def _violation(self, issue: Issue, path: tuple[Edge, ...]) -> None:
        key = _issue_key(issue)
        if any(v.key == key for v in self.result.violations):
            return  # the search goes by depth: the first sequence found is the shortest
        names = [e.name for e in path]
        self.result.violations.append(Violation(issue, key, names, names, Journey("", [])))
        self._emit(ev.ViolationFound(issue, tuple(names)))

    def _shrunk(self, violation: Violation, root: _State, number: int) -> Violation:
        by_name = {e.name: e for e in self.graph.edges}
        found = [by_name[n] for n in violation.found]
        extra = [i for i in self._learned.values() if violation.key.startswith(f"{i.name}|")]
        invariants = [*self.graph.invariants, *extra]

        def reproduces(edges: Sequence[Edge]) -> bool:
            journey = Journey(
                self.graph.name,
                _unique_steps([e.step for e in edges]),
                variables=self._go_to(root),  # restored, or the setup again on fresh resources
                invariants=invariants,
            )
            try:
                result = self.runner.run_journey(journey)
            except JourneyError:  # a part that refers to a value only a removed action made
                return False
            self.result.requests += len(result.steps)
            return any(_issue_key(i) == violation.key for i in result.issues)

        edges = ddmin(found, reproduces) if len(found) > 1 else found
        names = [e.name for e in edges]
        steps: list[Node] = [*self.graph.setup, *_unique_steps([e.step for e in edges])]
        journey = Journey(
            f"explore_{number}_" + _slug(violation.key.split("|", 1)[0]),
            steps,
            f"Found by replayqa explore: {violation.issue.error}",
            tags=("explore",),
            invariants=invariants,  # those written as data go into its YAML too
        )
        return replace(violation, actions=names, journey=journey)


def _issue_key(issue: Issue) -> str:
    """What makes two issues one violation: the invariant and its message, without ids and amounts,
    and without the full URL of the request that showed it (a cart read or updated shows one bug)."""
    name = re.match(r"invariant '([^']+)'", issue.error)
    head = name.group(1) if name else f"{issue.kind}:{issue.step}"
    text = re.sub(r"\b[A-Z]+ https?://\S+", "", issue.error)
    return f"{head}|" + re.sub(r"\d+", "#", text)


def _unique_steps(steps: Sequence[Step]) -> list[Node]:
    """The same action twice becomes two steps with their own names (step results are by name)."""
    out: list[Node] = []
    names: set[str] = set()
    for step in steps:
        name, n = step.name, 2
        while name in names:
            name, n = f"{step.name}_{n}", n + 1
        names.add(name)
        out.append(step if name == step.name else replace(step, name=name))
    return out


def _pair(exchange: Any) -> tuple[Any, Any]:
    return (exchange.request, exchange.response) if exchange is not None else (None, None)


def _run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


def _slug(text: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_").split("_")
    return "_".join(w for w in words if not w.isdigit())[:48].strip("_") or "violation"
