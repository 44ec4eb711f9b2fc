"""The quality gate: a synthesized journey earns its place by behaving the same 3 runs in a row.

A journey that passes every run is kept. One that fails the same way every
run is kept too: it found something, and its issues are reported (one per
fingerprint, so a bug hit by ten requests is one finding). One whose verdict
changes between runs is flaky and set aside, with the steps that wavered, so
nobody learns to ignore a red build. A server error is never set aside: a
5xx that shows up in one run of three is a bug that shows up one time in
three, and the journey is kept with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from replayqa.config import Settings
from replayqa.events import Listener
from replayqa.execute import keep_results, open_runner
from replayqa.knowledge import fingerprint
from replayqa.model import MAIN_PATH, Branch, Issue, Journey, JourneyResult, Node, RunResult, plural
from replayqa.report import write_reports
from replayqa.state import StartState

_START = "__replayqa_gate_start__"


@dataclass
class GateVerdict:
    runs: int
    kept: list[Journey] = field(default_factory=list)
    passing: list[str] = field(default_factory=list)
    failing: dict[str, list[Issue]] = field(default_factory=dict)
    flaky: dict[str, str] = field(default_factory=dict)
    first: RunResult | None = None
    reports: dict[str, Path] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    #: journey -> branch paths left out: synth's calls that make their values failed.
    set_aside: dict[str, list[str]] = field(default_factory=dict)
    #: journey -> synth's branches left out: what they did outlived the restore, and broke the
    #: user's own steps after them (files on disk, memory the database does not hold).
    outlived: dict[str, list[str]] = field(default_factory=dict)
    #: Journeys run a second time, alone, because they failed when the deadline allowed one run.
    rechecked: int = 0
    #: journey -> why it went whole: a value its main line needs could not be made.
    unmade: dict[str, str] = field(default_factory=dict)

    def findings(self) -> list[Issue]:
        """Failing journeys' issues, one per fingerprint (the same bug from many requests is one finding)."""
        seen: dict[str, Issue] = {}
        self.hits = {}
        for issues in self.failing.values():
            for issue in issues:
                key = issue.fingerprint or fingerprint(issue)
                seen.setdefault(key, issue)
                self.hits[key] = self.hits.get(key, 0) + 1
        return list(seen.values())

    def lines(self) -> list[str]:
        findings = self.findings()
        out = [
            f"Quality gate ({plural(self.runs, 'run')}"
            + (f", {plural(self.rechecked, 'failing journey')} run again" if self.rechecked else "")
            + f"): {len(self.passing)} passing, "
            f"{len(self.failing)} exposing {len(findings)} distinct issue(s) (kept), "
            f"{len(self.flaky)} flaky (set aside)"
        ]
        for issue in findings:
            status = f" {issue.response.status}" if issue.response else ""
            hits = self.hits.get(issue.fingerprint or fingerprint(issue), 1)
            seen = f" (seen {hits} times)" if hits > 1 else ""
            out.append(
                f"  found: {issue.journey} / {issue.path} / {issue.step}:{status} {issue.error[:160]}{seen}"
            )
        for name, reason in sorted(self.flaky.items()):
            out.append(f"  set aside: {name}: {reason}")
        for name, paths in sorted(self.outlived.items()):
            out.append(
                f"  set aside: synth's {', '.join(paths[:3])} branches of {name}: what they did "
                "outlived the restore (state outside the database) and broke the steps after them"
            )
        for name, why in sorted(self.unmade.items()):
            out.append(f"  set aside: {name}: synth could not make what it needs ({why[:120]})")
        for name, paths in sorted(self.set_aside.items()):
            more = ", ..." if len(paths) > 3 else ""
            out.append(
                f"  set aside: {len(paths)} path(s) of {name} whose values synth could not make "
                f"(its calls failed, not the app's): {', '.join(paths[:3])}{more}"
            )
        return out


def gate(
    journeys: Sequence[Journey],
    settings: Settings,
    runs: int = 3,
    listeners: Sequence[Listener] = (),
    deadline: float | None = None,
    on_run: Callable[[int, int], None] | None = None,
) -> GateVerdict:
    """Run the journeys ``runs`` times from the same database state and sort them.

    ``deadline`` (a ``time.monotonic()`` value): a run that would end past it,
    judging by the last one, is not started; the verdict is then over fewer
    runs, and says so. The first run always happens.
    """
    verdict = GateVerdict(runs)
    outcomes: dict[str, list[frozenset[tuple[str, str, str]]]] = {j.name: [] for j in journeys}
    server_errors: dict[str, list[Issue]] = {}  # issues whose response was a 5xx, from any run
    setup_failed: dict[str, set[str]] = {}  # journey -> branch paths whose values could not be made
    unmade: dict[str, str] = {}  # journey -> the main-line step whose value could not be made
    bare: dict[str, list[JourneyResult]] = {}  # journey -> its runs without synth's branches, which leaked
    with open_runner(settings, listeners=list(listeners)) as (runner, state):
        state.check_restore_allowed()
        with StartState(state, _START) as start:
            took = 0.0
            for attempt in range(runs):
                if attempt and deadline is not None and time.monotonic() + took > deadline:
                    verdict.runs = attempt
                    break
                began = time.monotonic()
                if on_run is not None:
                    on_run(attempt + 1, runs)
                start.before_run()
                result = runner.run(journeys)
                took = time.monotonic() - began
                verdict.first = verdict.first or result
                for ran in result.journeys:
                    for issue in filter(_setup_failure, ran.issues):
                        if issue.path == MAIN_PATH:
                            unmade.setdefault(ran.journey, f"{issue.step}: {issue.error}")
                        else:
                            setup_failed.setdefault(ran.journey, set()).add(issue.path.split("/")[0])
                    outcomes[ran.journey].append(_failures(ran))
                    server_errors.setdefault(ran.journey, []).extend(_server_errors(ran))
            if runs > 1 and verdict.runs == 1:
                # The deadline allowed one run: what failed is run once more, alone, so that no
                # finding rests on a single run (a background job may have changed a row then).
                failed = [j for j in journeys if outcomes[j.name] and outcomes[j.name][0]]
                if failed:
                    verdict.rechecked = len(failed)
                    if on_run is not None:
                        on_run(2, runs)
                    start.before_run()
                    for ran in runner.run(failed).journeys:
                        outcomes[ran.journey].append(_failures(ran))
                        server_errors.setdefault(ran.journey, []).extend(_server_errors(ran))
            leaky = _suspects(journeys, outcomes)
            if leaky:
                # A generated branch whose effects outlive the restore (a file on disk, a cache the
                # database does not hold) breaks the user's step after it: run once without them.
                start.before_run()
                stripped = {j.name: replace(j, steps=_without_generated(j.steps)) for j in leaky}
                for ran in runner.run(list(stripped.values())).journeys:
                    passed = {(s.path, s.step) for s in ran.steps if s.passed}
                    steady = frozenset.intersection(*outcomes[ran.journey])
                    if {f[:2] for f in steady if f[2] == "step" and f[:2] in passed}:
                        bare[ran.journey] = [ran]
                # Their verdict comes from runs without the branches: with them, the leaked state
                # made the user's steps waver. What fails alone is run alone once more, so that no
                # finding rests on a single run.
                again = [stripped[name] for name, ran in bare.items() if ran[0].issues]
                if again:
                    start.before_run()
                    for ran in runner.run(again).journeys:
                        bare[ran.journey].append(ran)
    assert verdict.first is not None
    redactor = settings.redactor()
    keep_results(verdict.first, settings, redactor)
    folder = Path(settings.report_dir) / verdict.first.run_id
    verdict.reports = write_reports(verdict.first, folder, redactor)
    first = {j.journey: j for j in verdict.first.journeys}
    for journey in journeys:
        if journey.name in unmade:
            verdict.unmade[journey.name] = unmade[journey.name]
            continue
        if journey.name in bare:
            verdict.outlived[journey.name] = sorted(_generated_names(journey.steps))
            journey.steps = _without_generated(journey.steps)
            runs_alone = bare[journey.name]
            outcomes[journey.name] = [_failures(ran) for ran in runs_alone]
            first[journey.name].issues = list(runs_alone[0].issues)
            server_errors[journey.name] = [i for ran in runs_alone for i in _server_errors(ran)]
        dropped = setup_failed.get(journey.name, set())
        if dropped and _drop_paths(journey, dropped):
            verdict.set_aside[journey.name] = sorted(dropped)
            outcomes[journey.name] = [
                frozenset(f for f in run if f[0].split("/")[0] not in dropped)
                for run in outcomes[journey.name]
            ]
            first[journey.name].issues = [
                i for i in first[journey.name].issues if i.path.split("/")[0] not in dropped
            ]
            server_errors[journey.name] = [
                i for i in server_errors.get(journey.name, []) if i.path.split("/")[0] not in dropped
            ]
        seen = outcomes[journey.name]
        if len(set(seen)) > 1 and server_errors.get(journey.name):
            verdict.kept.append(journey)  # wavering, but with a 5xx: the server error is the finding
            verdict.failing[journey.name] = server_errors[journey.name]
            continue
        if len(set(seen)) > 1:
            places = [{f"{p}/{s}" for p, s, _ in run} for run in seen]
            always = places[0].intersection(*places[1:])
            wavering = sorted(set().union(*places) - always)
            verdict.flaky[journey.name] = "verdict changed between runs at " + ", ".join(wavering[:4])
            continue
        verdict.kept.append(journey)
        if seen[0]:
            verdict.failing[journey.name] = first[journey.name].issues
        else:
            verdict.passing.append(journey.name)
    return verdict


def _failures(ran: JourneyResult) -> frozenset[tuple[str, str, str]]:
    """What failed in one run, where and how: two runs agree when these are equal."""
    return frozenset((i.path, i.step, i.kind) for i in ran.issues)


def _server_errors(ran: JourneyResult) -> list[Issue]:
    return [i for i in ran.issues if i.response is not None and i.response.status >= 500]


def _setup_failure(issue: Issue) -> bool:
    """A value synth needed that it could not make: not the app's fault.

    Either a call synth added to make a value (``make_*``) failed short of a
    server error, or a call answered 2xx without the value to use (a listing
    that was empty, so there is no first entry to act on).
    """
    status = issue.response.status if issue.response is not None else None
    if status is not None and status >= 500:
        return False
    if issue.step.startswith("make_"):
        return True
    return (
        issue.kind == "step"
        and status is not None
        and status < 300
        and issue.error.startswith("cannot save ")
    )


def _drop_paths(journey: Journey, names: set[str]) -> bool:
    """Leave out the named paths of the journey's top-level branches; True if any went."""
    gone = False
    for node in journey.steps:
        if isinstance(node, Branch):
            kept = [p for p in node.paths if p.name not in names]
            gone = gone or len(kept) != len(node.paths)
            node.paths = kept
    return gone


def _generated_names(nodes: Sequence[Node]) -> set[str]:
    """The names of the paths synth generated (``twice``, ``invalid_body``), at any depth."""
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, Branch):
            for path in node.paths:
                if path.generated:
                    names.add(path.name)
                names |= _generated_names(path.steps)
    return names


def _within(route: str, names: set[str]) -> bool:
    return any(part in names for part in route.split("/"))


def _without_generated(nodes: Sequence[Node]) -> list[Node]:
    """The tree without the branches synth generated: what the user walked, alone."""
    kept: list[Node] = []
    for node in nodes:
        if isinstance(node, Branch):
            paths = [replace(p, steps=_without_generated(p.steps)) for p in node.paths if not p.generated]
            if paths:
                kept.append(replace(node, paths=paths))
        else:
            kept.append(node)
    return kept


def _suspects(
    journeys: Sequence[Journey], outcomes: dict[str, list[frozenset[tuple[str, str, str]]]]
) -> list[Journey]:
    """Journeys whose user steps (not synth's branches) failed in every run, around synth's branches."""
    found = []
    for journey in journeys:
        names = _generated_names(journey.steps)
        runs = outcomes.get(journey.name) or []
        if not names or not runs:
            continue
        always = frozenset.intersection(*runs)  # the rest may waver: a 5xx in a branch, say
        if any(not _within(f[0], names) and f[2] == "step" for f in always):
            found.append(journey)
    return found
