"""The one engine: runs journeys (hand-written, synthesized, or replayed recordings).

Steps run in order. A Checkpoint saves the database (through the state
backend), the context and the client's session. A Branch runs each Path from
its checkpoint, restoring all three first, so no path sees another's writes.
After a Branch, the steps that follow continue from the checkpoint's state.
A failing step records an Issue and ends its path; sibling paths still run.
Invariants are checked after every step. Progress is reported as events.
"""

from __future__ import annotations

import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx

from replayqa import events as ev
from replayqa.actions import template_scope
from replayqa.checks import db_effect, default_passed, evaluate
from replayqa.context import ExecutionContext
from replayqa.errors import JourneyError
from replayqa.logs import LogFile
from replayqa.model import (
    Branch,
    Checkpoint,
    Exchange,
    HttpResponse,
    Invariant,
    Issue,
    IssueKind,
    Journey,
    JourneyResult,
    Node,
    PathResult,
    RunResult,
    Severity,
    Step,
    StepResult,
    path_label,
)
from replayqa.spec import SpecValidator
from replayqa.state.base import NullBackend, StartState, StateBackend, capture_rows
from replayqa.suggest import Finding, redacted_names, suggest
from replayqa.templates import PathNotFound, render, resolve_path
from replayqa.validate import validate_journey

_RUN_START = "__replayqa_run_start__"


#: After a journey ran: the journey, its result, and the events its listeners have not had yet.
Settle = Callable[[Journey, JourneyResult, list[ev.Event]], None]


@dataclass
class _Saved:
    """What a checkpoint holds besides the database."""

    context: dict[str, Any]
    client: dict[str, Any] | None
    clean_at: int  # steps executed when the database last matched this checkpoint


class JourneyRunner:
    def __init__(
        self,
        client: Any,
        state: StateBackend | None = None,
        *,
        invariants: Iterable[Invariant] = (),
        log_source: LogFile | None = None,
        spec: SpecValidator | None = None,
        listeners: Iterable[ev.Listener] = (),
        variables: dict[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.state: StateBackend = state or NullBackend()
        self.invariants = list(invariants)
        self.log_source = log_source
        self.spec = spec
        self.listeners = list(listeners)
        self.variables = dict(variables or {})
        self._executed = 0

    # -- public --------------------------------------------------------------

    def run(
        self,
        journeys: Sequence[Journey],
        run_id: str | None = None,
        *,
        isolate: bool = True,
        settle: Settle | None = None,
    ) -> RunResult:
        """Run journeys one after another, each from the same database state.

        ``isolate=False``: the journeys set up their own state (``Journey.setup``).
        ``settle(journey, result, events)`` is called after each journey with the
        events it would have sent; it may run the journey again and change the
        result and those events before the listeners get them.
        """
        for journey in journeys:
            validate_journey(journey, self.variables)
        result = RunResult(
            run_id or _new_run_id(),
            started_at=time.time(),
            base_url=str(getattr(self.client, "base_url", "")),
        )
        self.emit(ev.RunStarted(result.run_id, tuple(j.name for j in journeys), result.base_url))
        connected_here = not self.state.is_connected()
        if connected_here:
            self.state.connect()
        # Every journey starts logged out, as the first did: no cookie from the one before.
        session = self.client.snapshot() if hasattr(self.client, "snapshot") else None
        try:
            with StartState(self.state, _RUN_START, enabled=isolate and len(journeys) > 1) as start:
                for journey in journeys:
                    if session is not None:
                        self.client.restore(session)
                    start.before_run()
                    if settle is None:
                        result.journeys.append(self.run_journey(journey, run_id=result.run_id))
                    else:
                        result.journeys.append(self._settled(journey, result.run_id, settle))
        finally:
            if session is not None:  # and the client is left as the run found it
                self.client.restore(session)
            if connected_here:
                self.state.disconnect()
        result.duration_ms = (time.time() - result.started_at) * 1000
        self.emit(ev.RunFinished(result))
        return result

    def _settled(self, journey: Journey, run_id: str, settle: Settle) -> JourneyResult:
        listeners = self.listeners
        events: list[ev.Event] = []
        self.listeners = [events.append]
        try:
            result = self.run_journey(journey, run_id=run_id)
            self.listeners = []  # what settle runs again is its own business
            settle(journey, result, events)
        finally:
            self.listeners = listeners
        for event in events:
            self.emit(event)
        return result

    def run_journey(self, journey: Journey, run_id: str = "") -> JourneyResult:
        validate_journey(journey, self.variables)
        self._invariants = [*self.invariants, *journey.invariants]
        started = time.time()
        self._journey = JourneyResult(journey.name, source=journey.source, sessions=journey.sessions)
        self._route_steps: list[StepResult] = []
        self._route_issues: list[Issue] = []
        self._reported: set[tuple[str, str]] = set()
        run_id = run_id or _new_run_id()
        self.context = ExecutionContext(
            {"run_id": run_id, "run_key": _run_key(run_id), **self.variables, **journey.variables}
        )
        self.emit(ev.JourneyStarted(journey.name))
        result = self._journey
        if journey.setup is not None:
            journey.setup()
        self._run_nodes(journey.steps, (), {})
        result.duration_ms = (time.time() - started) * 1000
        self.emit(ev.JourneyFinished(result))
        return result

    # -- tree walking --------------------------------------------------------

    def _run_nodes(self, nodes: Sequence[Node], route: tuple[str, ...], scope: dict[str, _Saved]) -> None:
        taken_here: list[str] = []
        try:
            for index, node in enumerate(nodes):
                if isinstance(node, Step):
                    if not self._run_step(node, route) and not self._goes_on(node):
                        self._finish_route(route)
                        return
                elif isinstance(node, Checkpoint):
                    scope[node.name] = self._checkpoint(node.name)
                    taken_here.append(node.name)
                elif isinstance(node, Branch):
                    self._run_branch(node, route, scope)
                    if index == len(nodes) - 1:
                        return  # the branch's paths were the leaves
                    self._restore(node.checkpoint_name, scope[node.checkpoint_name], route)
            self._finish_route(route)
        finally:
            for name in taken_here:
                self.state.release(name)

    def _goes_on(self, step: Step) -> bool:
        if callable(step.continue_on_failure):
            return step.continue_on_failure(self._route_steps[-1].exchange if self._route_steps else None)
        return step.continue_on_failure

    def _run_branch(self, branch: Branch, route: tuple[str, ...], scope: dict[str, _Saved]) -> None:
        saved = scope[branch.checkpoint_name]
        for path in branch.paths:
            path_route = (*route, path.name)
            self._restore(branch.checkpoint_name, saved, path_route)
            steps_mark, issues_mark = len(self._route_steps), len(self._route_issues)
            self._run_nodes(path.steps, path_route, dict(scope))
            del self._route_steps[steps_mark:]
            del self._route_issues[issues_mark:]

    def _checkpoint(self, name: str) -> _Saved:
        self.state.checkpoint(name)
        snapshot = getattr(self.client, "snapshot", None)
        saved = _Saved(self.context.snapshot(), snapshot() if snapshot else None, self._executed)
        self.emit(ev.CheckpointTaken(self._journey.journey, name))
        return saved

    def _restore(self, name: str, saved: _Saved, route: tuple[str, ...]) -> None:
        if saved.clean_at != self._executed:  # nothing ran since: nothing to undo
            self.state.rollback(name)
            saved.clean_at = self._executed
        self.context.restore(saved.context)
        if saved.client is not None:
            self.client.restore(saved.client)
        self.emit(ev.StateRestored(self._journey.journey, name, path_label(route)))

    def _finish_route(self, route: tuple[str, ...]) -> None:
        result = PathResult(
            self._journey.journey, path_label(route), list(self._route_steps), list(self._route_issues)
        )
        self._journey.paths.append(result)
        self.emit(ev.PathFinished(result))

    # -- steps ---------------------------------------------------------------

    def _run_step(self, step: Step, route: tuple[str, ...]) -> bool:
        path = path_label(route)
        journey = self._journey.journey
        self.emit(ev.StepStarted(journey, path, step.name))
        started = time.time()
        attempts = 0
        while True:
            attempts += 1
            passed, error, exchange = self._attempt(step)
            if passed or attempts > step.retries:
                break
        self._executed += 1
        result = StepResult(
            journey,
            path,
            step.name,
            passed,
            step.expect_failure,
            error,
            exchange,
            (time.time() - started) * 1000,
            attempts,
            exchange_id=step.exchange_id,
        )
        self._route_steps.append(result)
        self._journey.steps.append(result)
        self.emit(ev.StepFinished(result))
        if not passed:
            self._record(
                Issue(
                    journey,
                    path,
                    step.name,
                    error or "step failed",
                    Severity.HIGH,
                    IssueKind.STEP,
                    *_request_response(exchange),
                    exchange_id=step.exchange_id,
                ),
                expected_failure=step.expect_failure,
            )
        # The step passes or fails on its blocking checks alone; a step that failed has said what
        # is wrong with its response, so its non-blocking misses would only say it again.
        for kind, message in self._reports if passed else ():
            self._record(
                Issue(
                    journey,
                    path,
                    step.name,
                    message,
                    Severity.MEDIUM,
                    kind,
                    *_request_response(exchange),
                    exchange_id=step.exchange_id,
                )
            )
        self._check_invariants(step, path, exchange)
        return passed

    def _attempt(self, step: Step) -> tuple[bool, str | None, Exchange | None]:
        self._reports: list[tuple[IssueKind, str]] = []  # non-blocking misses, for after the step
        history = getattr(self.client, "history", None)
        mark = len(history) if history is not None else 0
        timeout = getattr(self.client, "timeout", None)
        db_modes = [str(c.value) for c in step.checks if c.kind == "db"]
        before = self._rows() if db_modes else None
        try:
            if callable(timeout) and step.timeout is not None:
                with timeout(step.timeout):
                    returned = step.action(self.client, self.context)
            else:
                returned = step.action(self.client, self.context)
        except JourneyError:
            raise
        except (httpx.HTTPError, PathNotFound, KeyError) as exc:
            return self._verdict(step, False, f"{type(exc).__name__}: {exc}", _last(history, mark))
        except AssertionError as exc:
            return self._verdict(step, False, f"assertion failed: {exc or _where(exc)}", _last(history, mark))
        except Exception as exc:
            return self._verdict(
                step, False, f"{type(exc).__name__}: {exc} ({_where(exc)})", _last(history, mark)
            )
        exchange = _last(history, mark)
        if isinstance(returned, httpx.Response) and exchange is None:
            from replayqa.client import exchange_from_response

            exchange = exchange_from_response(returned, time.time())
        if exchange is not None and exchange.response is not None:
            self.context.store_step_result(step.name, _step_result(exchange))
        failures = self._failures(step, exchange)
        if before is not None and exchange is not None:
            after = self._rows()
            status = exchange.response.status if exchange.response else None
            failures += [m for m in (db_effect(mode, status, before, after or {}) for mode in db_modes) if m]
        return self._verdict(step, not failures, "; ".join(failures) or None, exchange)

    def _failures(self, step: Step, exchange: Exchange | None) -> list[str]:
        if exchange is None:
            return []  # a step that made no request passes unless it raised
        if not step.checks:
            if default_passed(exchange):
                return []
            if exchange.response is None:
                return [exchange.error or "no response"]
            return [f"status {exchange.response.status}"]
        scope = template_scope(self.context)
        checks = [replace(c, value=render(c.value, scope)) for c in step.checks]
        failures = []
        for check in checks:
            message = evaluate(check, exchange, self.spec)
            if message and check.blocking:
                failures.append(message)
            elif message:
                self._reports.append((IssueKind.SPEC if check.kind == "schema" else IssueKind.CHECK, message))
        return failures

    def _rows(self) -> dict[str, dict[str, dict[str, Any]]] | None:
        """The database as rows, for ``db:`` checks; None when the run has no database to look at."""
        if isinstance(self.state, NullBackend):
            return None
        return capture_rows(self.state.capture())

    def _verdict(
        self, step: Step, ok: bool, error: str | None, exchange: Exchange | None
    ) -> tuple[bool, str | None, Exchange | None]:
        if step.expect_failure:
            if ok:
                status = exchange.response.status if exchange and exchange.response else "no response"
                return False, f"expected this step to fail, but it passed (status {status})", exchange
            return True, None, exchange
        if ok and step.save:
            error = self._save(step, exchange)
            ok = error is None
        return ok, error, exchange

    def _save(self, step: Step, exchange: Exchange | None) -> str | None:
        body = exchange.response.json_or_none() if exchange and exchange.response else None
        for name, path in step.save.items():
            # ``id?``: save it when the answer has it. An explored action may rightly be refused,
            # and a refusal's body names no id.
            optional = path.endswith("?")
            try:
                self.context[name] = resolve_path(body, path.removesuffix("?"))
            except PathNotFound as exc:
                if not optional:
                    return f"cannot save {name!r}: {exc}"
        return None

    def _check_invariants(self, step: Step, path: str, exchange: Exchange | None) -> None:
        for invariant in self._invariants:
            try:
                verdict = invariant.check(self.client, self.context, self.state)
            except Exception as exc:
                verdict = f"{type(exc).__name__}: {exc}"
            if verdict is True or verdict is None:
                continue
            message = verdict if isinstance(verdict, str) else "violated"
            key = (invariant.name, message)
            if key in self._reported:
                continue
            self._reported.add(key)
            self._record(
                Issue(
                    self._journey.journey,
                    path,
                    step.name,
                    f"invariant {invariant.name!r}: {message}",
                    invariant.severity,
                    IssueKind.INVARIANT,
                    *_request_response(exchange),
                    exchange_id=step.exchange_id,
                )
            )

    def _record(self, issue: Issue, expected_failure: bool = False) -> None:
        status = issue.response.status if issue.response else None
        redacted = redacted_names(issue.request.headers.items(), issue.request.body) if issue.request else ()
        issue.suggestion = suggest(Finding(issue.error, status, expected_failure, redacted))
        if self.log_source is not None:
            issue.logs = self.log_source.tail()
        self._route_issues.append(issue)
        self._journey.issues.append(issue)
        self.emit(ev.IssueFound(issue))

    def emit(self, event: ev.Event) -> None:
        for listener in self.listeners:
            listener(event)


def _run_key(run_id: str) -> str:
    """The run id in letters and digits only, for values whose pattern forbids punctuation."""
    return "".join(c for c in run_id if c.isalnum())


def _new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


def _last(history: list[Exchange] | None, mark: int) -> Exchange | None:
    return history[-1] if history and len(history) > mark else None


def _request_response(exchange: Exchange | None) -> tuple[Any, Any]:
    return (exchange.request, exchange.response) if exchange else (None, None)


class StepOutcome(Mapping[str, Any]):
    """A step's result for templates (``steps.x.status/headers/body``); the body is parsed when first read."""

    def __init__(self, response: HttpResponse) -> None:
        self._response = response
        self._parsed: dict[str, Any] | None = None

    def _data(self) -> dict[str, Any]:
        if self._parsed is None:
            body = self._response.json_or_none()
            self._parsed = {
                "status": self._response.status,
                "headers": self._response.headers,
                "body": body if body is not None else self._response.body,
            }
        return self._parsed

    def __getitem__(self, key: str) -> Any:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(("status", "headers", "body"))

    def __len__(self) -> int:
        return 3


def _step_result(exchange: Exchange) -> StepOutcome:
    assert exchange.response is not None
    return StepOutcome(exchange.response)


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    return f"{last.filename}:{last.lineno}"
