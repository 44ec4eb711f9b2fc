"""``pytest journeys/``: YAML journeys collected as pytest items, one per path.

Registered as a ``pytest11`` entry point, so installing replayqa is enough::

    pytest journeys/ --replayqa-base-url http://127.0.0.1:8000 --replayqa-db sqlite:///shop-test.db

**What is collected.** A ``.yaml``/``.yml`` file is a journey when a line starts
with ``steps:`` (the top-level key every journey has). Compose files, OpenAPI
specs and CI workflows have no top-level ``steps:``, so they are left to
whoever else reads them, and a journey with a YAML mistake is still collected
and reported, not silently skipped. Python journeys are not collected (pytest
owns ``.py`` files); ``replayqa run`` runs them. Nor are the copies
``replayqa export pytest`` writes beside its module, which runs them already.

**One run, then items report.** Before the first test runs, the selected
journeys run once, through :func:`replayqa.execute.run_journeys`, exactly as
``replayqa run`` runs them: one runner, one run id, each journey from the
same database state, paths restored from their checkpoint, the run store
and replayqa's reports kept. Each item then reports its :class:`PathResult`.
Running per item was the other choice; it would run a path's shared prefix
once per path and need a second way to walk part of a tree, so results could
drift from ``replayqa run``'s. The cost: an item's time is its path's own
step time (set on the report), and ``-x`` cannot stop the run half-way.
Deselecting items (``-k``, ``--lf``) prunes the branches nobody asked for,
so only the prefix and the chosen paths run.

**Settings** come from replayqa.toml (or ``[tool.replayqa]``) as for
``replayqa run``; ``--replayqa-base-url``, ``--replayqa-db``,
``--replayqa-spec`` and ``--replayqa-var NAME=VALUE`` override them.
Anything that stops the run from starting (no base URL, an app that does not
answer, a journey that cannot run) is a one-line pytest usage error; a
journey file that does not load is a one-line collection error, as a broken
test module is.

Heavy imports (the runner, the spec validator) wait until journeys are
collected: this module loads in every pytest session of an environment
where replayqa is installed.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from replayqa.config import Settings
    from replayqa.execute import RunOutcome
    from replayqa.model import Issue, Journey, Node, PathResult
    from replayqa.redact import Redactor

WIDTH = 80
_JOURNEY_SHAPE = re.compile(r"^steps:", re.MULTILINE)
_RUN_KEY = pytest.StashKey["JourneyRun"]()


# -- options -------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("replayqa", "replayqa journeys (YAML files with top-level steps:)")
    group.addoption("--replayqa-base-url", metavar="URL", help="Where the app under test listens.")
    group.addoption(
        "--replayqa-db",
        metavar="URL",
        help="The app's test database (sqlite:///path.db, postgresql://...), restored between paths.",
    )
    group.addoption("--replayqa-spec", metavar="FILE", help="OpenAPI spec for `schema: true` checks.")
    group.addoption(
        "--replayqa-var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A value for {{ NAME }} in the journeys, e.g. a password (repeatable).",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RUN_KEY] = JourneyRun(config)


# -- collection ----------------------------------------------------------------------------------


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> JourneyFile | None:
    if file_path.suffix not in (".yaml", ".yml") or not is_journey_file(file_path):
        return None
    if is_exported_copy(file_path):
        return None
    return JourneyFile.from_parent(parent, path=file_path)


def is_journey_file(path: Path) -> bool:
    """A top-level ``steps:`` line: the journey shape, checked without parsing the YAML."""
    try:
        return bool(_JOURNEY_SHAPE.search(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError):
        return False


def is_exported_copy(path: Path) -> bool:
    """A copy ``replayqa export pytest`` wrote beside its test module, which runs it: not run twice."""
    from replayqa.synth.pytest_export import MODULE

    module = path.parent.parent / "test_journeys.py"
    if path.parent.name != "journeys" or not module.is_file():
        return False
    with module.open(encoding="utf-8") as text:
        return text.readline().rstrip("\n") == MODULE.splitlines()[0]


class JourneyFile(pytest.File):
    """A journey file; its items are the journey's paths, in the order the runner takes them."""

    def collect(self) -> Iterator[JourneyItem]:
        from replayqa.loader import load_file

        for journey in load_file(self.path).journeys:
            for label in path_labels(journey.steps):
                yield JourneyItem.from_parent(self, name=label, journey=journey)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        """A journey that does not load is one line (the loader's message), not a traceback."""
        from replayqa.errors import ReplayqaError

        if isinstance(excinfo.value, ReplayqaError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class PathFailed(Exception):
    """An item's path found issues; the message is the issues as text."""


class JourneyItem(pytest.Item):
    """One path of a journey: passes when the run found no failing issue on it."""

    def __init__(self, *, journey: Journey, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.journey = journey
        self.duration: float | None = None

    def runtest(self) -> None:
        run = self.config.stash[_RUN_KEY]
        verdict = run.verdict(self)
        self.duration = verdict.duration
        if verdict.known:
            self.add_report_section("call", "known issues", verdict.known)
        if verdict.failure:
            raise PathFailed(verdict.failure)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, PathFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.journey.name} › {self.name}"


# -- the run ---------------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Run the selected journeys before the first item; a setup problem is a usage error."""
    config = session.config
    if config.option.collectonly or (session.testsfailed and not config.option.continue_on_collection_errors):
        return  # pytest's own loop reports the collection errors and stops
    items = [i for i in session.items if isinstance(i, JourneyItem)]
    if items:
        config.stash[_RUN_KEY].run(items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if isinstance(item, JourneyItem) and call.when == "call" and item.duration is not None:
        report.duration = item.duration  # the path's own steps, not the whole run in the first item
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    outcome = terminalreporter.config.stash[_RUN_KEY].outcome
    if outcome is not None:
        terminalreporter.write_sep("-", "replayqa reports")
        for kind, path in outcome.reports.items():
            terminalreporter.write_line(f"{kind:<9} {path}")


@dataclass
class Verdict:
    failure: str = ""
    known: str = ""
    duration: float | None = None


@dataclass
class JourneyRun:
    """The session's one replayqa run and the results its items report."""

    config: pytest.Config
    outcome: RunOutcome | None = None
    settings: Settings | None = None
    _paths: dict[tuple[str, str], PathResult] = field(default_factory=dict)

    def run(self, items: Sequence[JourneyItem]) -> None:
        from replayqa.errors import ReplayqaError
        from replayqa.execute import check_reachable, run_journeys

        try:
            settings = self._settings()
            check_reachable(settings.base_url or "", settings.timeout, flag="--replayqa-base-url")
            journeys = selected_journeys(items)
            if not settings.db:
                self._warn_without_database(journeys)
            self.outcome = run_journeys(journeys, settings)
        except ReplayqaError as exc:
            raise pytest.UsageError(f"replayqa: {exc}") from None
        self.settings = settings
        self._paths = {(j.journey, p.path): p for j in self.outcome.result.journeys for p in j.paths}

    def _settings(self) -> Settings:
        from replayqa.config import load_settings

        option = self.config.option
        settings = load_settings().override(
            base_url=option.replayqa_base_url, db=option.replayqa_db, spec=option.replayqa_spec
        )
        if not settings.base_url:
            raise pytest.UsageError(
                "replayqa: no base URL: pass --replayqa-base-url http://host:port "
                "or set base_url in replayqa.toml"
            )
        return replace(settings, vars={**settings.vars, **parse_vars(option.replayqa_var)})

    def _warn_without_database(self, journeys: Sequence[Journey]) -> None:
        from replayqa.execute import needs_restore

        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and needs_restore(journeys):
            reporter.write_line(
                "replayqa: no --replayqa-db: paths and journeys will not start from the same database state",
                yellow=True,
            )

    def verdict(self, item: JourneyItem) -> Verdict:
        from replayqa.knowledge import counts_as_failure

        assert self.outcome is not None and self.settings is not None, "the run comes before the items"
        fail_on = self.settings.fail_on
        report = self.outcome.reports.get("markdown")
        result = self._paths.get((item.journey.name, item.name))
        if result is None:
            stopped = self._stopped_before(item)
            if stopped is None:
                return Verdict(f"{item.journey.name} › {item.name}: the run has no result for this path")
            lead = f"not reached: {stopped.journey} › {stopped.path} stopped before this path"
            return Verdict(failure_text(stopped.issues, self.outcome.redactor, lead, report), duration=0.0)
        # As in replayqa's JUnit report: a failed step always records an issue, and with
        # fail_on = "new" a path whose issues are all known passes, its issues shown beside it.
        failing = [i for i in result.issues if counts_as_failure(i, fail_on)]
        return Verdict(
            failure_text(result.issues, self.outcome.redactor, "", report) if failing else "",
            failure_text(result.issues, self.outcome.redactor) if result.issues and not failing else "",
            sum(s.duration_ms for s in result.steps) / 1000,
        )

    def _stopped_before(self, item: JourneyItem) -> PathResult | None:
        """The result of the route above the item's path, when a step before its branch failed."""
        route = _route(item.name)
        for length in range(len(route) - 1, -1, -1):
            above = self._paths.get((item.journey.name, _label(route[:length])))
            if above is not None and not above.passed:
                return above
        return None


# -- journeys, paths and selections ------------------------------------------------------------------


def path_labels(nodes: Sequence[Node]) -> list[str]:
    """The paths the runner reports for a tree, in its order (``main`` when there is no branch).

    A branch as the last node ends its route in the branch's paths; steps after
    a branch continue the route, which then has a result of its own.
    """
    return [_label(route) for route in _routes(nodes, ())]


def _routes(nodes: Sequence[Node], route: tuple[str, ...]) -> list[tuple[str, ...]]:
    from replayqa.model import Branch

    found: list[tuple[str, ...]] = []
    for index, node in enumerate(nodes):
        if isinstance(node, Branch):
            for path in node.paths:
                found += _routes(path.steps, (*route, path.name))
            if index == len(nodes) - 1:
                return found
    return [*found, route]


def _label(route: tuple[str, ...]) -> str:
    from replayqa.model import path_label

    return path_label(route)


def _route(label: str) -> tuple[str, ...]:
    from replayqa.model import MAIN_PATH

    return () if label == MAIN_PATH else tuple(label.split("/"))


def selected_journeys(items: Iterable[JourneyItem]) -> list[Journey]:
    """Each journey with a selected item, its tree cut to the selected paths (and what leads to them)."""
    wanted: dict[int, tuple[Journey, set[tuple[str, ...]]]] = {}
    for item in items:
        wanted.setdefault(id(item.journey), (item.journey, set()))[1].add(_route(item.name))
    return [replace(journey, steps=pruned(journey.steps, routes)) for journey, routes in wanted.values()]


def pruned(nodes: Sequence[Node], wanted: set[tuple[str, ...]], route: tuple[str, ...] = ()) -> list[Node]:
    """The tree without the branch paths that lead to no wanted route; everything else kept as is."""
    from replayqa.model import Branch

    kept: list[Node] = []
    for node in nodes:
        if isinstance(node, Branch):
            paths = [
                replace(p, steps=pruned(p.steps, wanted, (*route, p.name)))
                for p in node.paths
                if any(w[: len(route) + 1] == (*route, p.name) for w in wanted)
            ]
            kept.append(replace(node, paths=paths))
        else:
            kept.append(node)
    return kept


def parse_vars(pairs: Iterable[str]) -> dict[str, str]:
    from replayqa.config import name_values
    from replayqa.errors import ConfigError

    try:
        return name_values(pairs, "--replayqa-var", "password=s3cret")
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None


# -- failure text --------------------------------------------------------------------------------------


def failure_text(
    issues: Sequence[Issue], redactor: Redactor, lead: str = "", report: Path | None = None
) -> str:
    """The issues as the console shows a finding: where, request, response, error, suggestion; 80 columns."""
    lines = [lead] if lead else []
    for issue in map(redactor.issue, issues):
        status = f"  [{issue.status} {issue.fingerprint}]" if issue.fingerprint else ""
        lines.append(_cut(f"{issue.journey} › {issue.path} › {issue.step}{status}"))
        request, response = issue.request, issue.response
        if request:
            lines.append(_row("request", f"{request.method} {_path_of(request.url)} {request.body or ''}"))
        if response:
            lines.append(_row("response", f"{response.status} {response.body}"))
        lines += _wrapped("error", issue.error)
        if issue.suggestion:
            lines += _wrapped("suggest", issue.suggestion)
    if report is not None:
        lines.append(_cut(f"report: {report}"))
    return "\n".join(lines)


_INDENT = " " * 12


def _row(label: str, text: str) -> str:
    return _cut(f"  {label:<10}{' '.join(text.split())}")


def _wrapped(label: str, text: str) -> list[str]:
    return textwrap.wrap(
        " ".join(text.split()), WIDTH, initial_indent=f"  {label:<10}", subsequent_indent=_INDENT
    )


def _cut(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"


def _path_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
