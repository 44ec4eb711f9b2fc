"""The vocabulary every part of replayqa shares.

Plain dataclasses, importing nothing else from replayqa, so that the recorder,
the synthesizer, the runner, the reports and the TUI all speak about the same
things. Foreign objects (httpx responses, mitmproxy flows, openapi-core
results) are converted into these at the edge, each in one function.
"""

from __future__ import annotations

import json as _json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

#: An action is ``action(client, context) -> response``.
Action = Callable[[Any, Any], Any]


# --- journeys ---------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One expectation about a step's response.

    kind is one of ``status``, ``equals``, ``exists``, ``matches``, ``schema``, or ``custom``
    (``value`` is a callable given the exchange that returns what is wrong, or None: a
    replay's comparison with the recorded response is one).
    ``path`` addresses the JSON body (``items[0].id``); ``value`` is the
    expected status (int, list of ints or ``"4xx"``), value, bool or regex.
    """

    kind: str
    path: str | None = None
    value: Any = None
    #: False: a miss is reported as an issue of its own and the step still passes, so the journey
    #: goes on. Spec conformance of a step whose job is to reach the next state works so.
    blocking: bool = True


@dataclass
class Step:
    name: str
    action: Action
    description: str = ""
    expect_failure: bool = False
    timeout: float | None = None
    retries: int = 0
    checks: Sequence[Check] = ()
    #: context name -> body path; the value is saved after the step passes.
    save: dict[str, str] = field(default_factory=dict)
    #: The path goes on after this step fails: a replayed response that differs is a finding,
    #: not a broken precondition, and the steps after it still show what else changed. A callable
    #: decides from the step's exchange (a replay goes on while the status class is the recorded one).
    continue_on_failure: bool | Callable[[Exchange | None], bool] = False
    #: The recorded exchange a replayed step re-sends (its id in the recording). Results and issues
    #: carry it, so the TUI and replay's comparisons find the exchange without reading the name.
    exchange_id: int | None = None


@dataclass
class Checkpoint:
    name: str


@dataclass
class Path:
    name: str
    steps: list[Node]
    description: str = ""
    #: Added by synth around a step (an invalid body, the same request twice), not walked by a user.
    generated: bool = False


@dataclass
class Branch:
    checkpoint_name: str
    paths: list[Path]


Node = Step | Checkpoint | Branch


@dataclass
class Journey:
    name: str
    steps: list[Node]
    description: str = ""
    tags: tuple[str, ...] = ()
    #: Initial context values (YAML ``vars:``).
    variables: dict[str, Any] = field(default_factory=dict)
    #: Where the journey was defined, for messages.
    source: str | None = None
    #: Checked after every step of this journey, besides the run's own invariants.
    invariants: list[Invariant] = field(default_factory=list)
    #: Called before the first step, every time the journey runs: a replay restores the state
    #: its session was recorded in.
    setup: Callable[[], None] | None = None
    #: For a replay: the recorded sessions it replays together (a session group), by name. The
    #: journey's name joins them with "+" for people to read; a re-run selects them by this.
    sessions: tuple[str, ...] = ()


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass
class Invariant:
    """A property that must hold after every step.

    ``check(client, context, db)`` returns True (or None) when it holds, False
    or a message when it does not. ``db`` is the state backend, whose
    ``query(sql, params)`` returns rows as dicts.
    """

    name: str
    check: Callable[[Any, Any, Any], bool | str | None]
    severity: Severity = Severity.HIGH
    description: str = ""
    #: The YAML form, for invariants written as data (replayqa.invariants), so they can be written back.
    spec: dict[str, Any] | None = None


# --- HTTP exchanges ---------------------------------------------------------


@dataclass
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None

    def json(self) -> Any:
        return _json.loads(self.body) if self.body else None


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""

    def json(self) -> Any:
        return _json.loads(self.body) if self.body else None

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except ValueError:
            return None


@dataclass
class Exchange:
    """One request and what came back: a response, or an error."""

    request: HttpRequest
    response: HttpResponse | None = None
    error: str | None = None
    started_at: float = 0.0
    duration_ms: float = 0.0


# --- database state -----------------------------------------------------------


@dataclass
class DatabaseCapture:
    """A portable copy of an app's data, restorable into another database with the same schema.

    ``data`` is backend-specific and compressed (SQLite: the file image;
    PostgreSQL: COPY text per table and sequence values, as JSON).
    """

    backend: str
    data: bytes
    tables: dict[str, int] = field(default_factory=dict)  # row counts, for readers
    taken_at: float = 0.0


# --- results ----------------------------------------------------------------


class IssueKind(StrEnum):
    """What found an issue. Known-issue rules match on it and fingerprints include it."""

    STEP = "step"  # a blocking check failed, or the request got no answer
    CHECK = "check"  # a non-blocking check missed
    SPEC = "spec"  # a non-blocking schema check missed: the response breaks the spec
    INVARIANT = "invariant"
    REGRESSION = "regression"  # a replayed response differs from the recorded one
    DB_REGRESSION = "db-regression"  # a replay's database end state differs from the recorded one


class IssueStatus(StrEnum):
    """How the team regards an issue's fingerprint; only ``new`` issues fail ``--fail-on new``."""

    NEW = "new"
    KNOWN = "known"
    FLAKY = "flaky"
    #: A mark on a fingerprint, never an issue's status: a fixed issue that comes back is new.
    FIXED = "fixed"


@dataclass
class Issue:
    journey: str
    path: str
    step: str
    error: str
    severity: Severity = Severity.HIGH
    kind: IssueKind = IssueKind.STEP
    request: HttpRequest | None = None
    response: HttpResponse | None = None
    logs: list[str] = field(default_factory=list)
    suggestion: str = ""
    #: For replays: the recorded response, and the differences found (where, path, kind, old, new).
    expected: HttpResponse | None = None
    diff: list[dict[str, Any]] = field(default_factory=list)
    #: Set after a run by replayqa.knowledge: the same bug on other data has the same fingerprint.
    fingerprint: str = ""
    status: IssueStatus = IssueStatus.NEW
    #: The step's recorded exchange, for replays (``Step.exchange_id``).
    exchange_id: int | None = None

    def __post_init__(self) -> None:
        # Plain strings (from code written before the enums, or read back from JSON) are accepted;
        # an unknown one fails here rather than in a report.
        self.kind = IssueKind(self.kind)
        self.status = IssueStatus(self.status)


@dataclass
class StepResult:
    journey: str
    path: str
    step: str
    passed: bool
    expect_failure: bool = False
    error: str | None = None
    exchange: Exchange | None = None
    duration_ms: float = 0.0
    attempts: int = 1
    #: The step's recorded exchange, for replays (``Step.exchange_id``).
    exchange_id: int | None = None


@dataclass
class PathResult:
    """One route through a journey's tree, from its start to a leaf."""

    journey: str
    path: str
    steps: list[StepResult] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.issues and all(s.passed for s in self.steps)


@dataclass
class JourneyResult:
    journey: str
    paths: list[PathResult] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    duration_ms: float = 0.0
    source: str | None = None
    #: The replayed sessions (``Journey.sessions``).
    sessions: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.issues


@dataclass
class RunResult:
    run_id: str
    journeys: list[JourneyResult] = field(default_factory=list)
    started_at: float = 0.0
    duration_ms: float = 0.0
    base_url: str = ""
    #: (journey, path, step) that both passed and failed across repetitions (``--repeat``).
    flaky: set[tuple[str, str, str]] = field(default_factory=set)
    build: str | None = None

    @property
    def issues(self) -> list[Issue]:
        return [i for j in self.journeys for i in j.issues]

    @property
    def passed(self) -> bool:
        return all(j.passed for j in self.journeys)

    @property
    def steps_executed(self) -> int:
        return sum(len(j.steps) for j in self.journeys)


MAIN_PATH = "main"


def plural(count: int, noun: str) -> str:
    """``1 journey``, ``3 journeys``: what a reader expects, and what tests can match."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def path_label(route: Sequence[str]) -> str:
    """A route through nested branches as one readable name."""
    return "/".join(route) if route else MAIN_PATH


def count_steps(nodes: Sequence[Node]) -> int:
    """Steps in a tree, each written step counted once."""
    total = 0
    for node in nodes:
        if isinstance(node, Step):
            total += 1
        elif isinstance(node, Branch):
            total += sum(count_steps(p.steps) for p in node.paths)
    return total


def count_paths(nodes: Sequence[Node]) -> int:
    """Routes from the start to a leaf: what a run reports one result for."""
    routes = 1
    for node in nodes:
        if isinstance(node, Branch):
            routes = routes - 1 + sum(count_paths(p.steps) for p in node.paths)
    return routes
