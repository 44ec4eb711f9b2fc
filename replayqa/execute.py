"""Running journeys from settings: the one library call behind ``replayqa run`` and the demo.

It builds the client and the state backend, checks up front what would fail
half-way (an unreachable app, a database that must not be restored), runs
the journeys, and keeps the results: run store and reports.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from replayqa.client import Client, check_reachable
from replayqa.config import Settings
from replayqa.errors import ConfigError
from replayqa.events import Listener
from replayqa.knowledge import KnownIssue, annotate
from replayqa.lifecycle import AppProcess
from replayqa.loader import JOURNEY_SUFFIXES, load_file
from replayqa.logs import LogFile
from replayqa.model import Branch, Invariant, IssueStatus, Journey, Node, RunResult
from replayqa.model import Path as JPath
from replayqa.redact import Redactor
from replayqa.report import write_reports
from replayqa.runner import JourneyRunner
from replayqa.spec import SpecValidator
from replayqa.state import NullBackend, StartState, StateBackend, open_state
from replayqa.store import RunStore

if TYPE_CHECKING:
    from replayqa.diff import NoiseRule
    from replayqa.replay import ReplaySettings


@dataclass
class RunOutcome:
    result: RunResult
    reports: dict[str, Path] = field(default_factory=dict)
    #: The project's redactor the reports and the store used; whatever else shows the run uses it too.
    redactor: Redactor = field(default_factory=Redactor)


def run_journeys(
    journeys: Sequence[Journey],
    settings: Settings,
    invariants: Iterable[Invariant] = (),
    listeners: Iterable[Listener] = (),
) -> RunOutcome:
    if not journeys:
        raise ConfigError("no journeys to run: name .yaml or .py journey files, or a folder of them")
    if not settings.base_url:
        raise ConfigError("no base URL: pass --base-url http://host:port or set base_url in replayqa.toml")
    if settings.repeat < 1:
        raise ConfigError(f"--repeat {settings.repeat}: give a number of runs of at least 1")
    with open_runner(settings, invariants, listeners) as (runner, state):
        restores = not isinstance(state, NullBackend)
        if restores and (needs_restore(journeys) or settings.repeat > 1):
            state.check_restore_allowed()
        result = (
            _repeated(runner, state, journeys, settings.repeat)
            if settings.repeat > 1
            else runner.run(journeys)
        )
    redactor = settings.redactor()
    keep_results(result, settings, redactor)
    folder = Path(settings.report_dir) / result.run_id
    reports = write_reports(
        result, folder, redactor, Path(settings.junit) if settings.junit else None, settings.fail_on
    )
    return RunOutcome(result, reports, redactor)


@contextmanager
def open_runner(
    settings: Settings, invariants: Iterable[Invariant] = (), listeners: Iterable[Listener] = ()
) -> Iterator[tuple[JourneyRunner, StateBackend]]:
    """A runner wired to the app, its database (connected) and its spec, checked reachable first."""
    if not settings.base_url:
        raise ConfigError("no base URL: pass --base-url http://host:port or set base_url in replayqa.toml")
    check_reachable(settings.base_url, settings.timeout)
    spec = SpecValidator.load(settings.spec, settings.base_url) if settings.spec else None
    state = open_state(
        settings.db,
        allow_restore=settings.allow_restore,
        exclude_tables=tuple(settings.exclude_tables),
        lock_timeout=settings.lock_timeout,
        stores=settings.stores,
        test_words=settings.test_database_words,
    )
    log_source = LogFile(settings.log_file, settings.log_lines) if settings.log_file else None
    with Client(
        settings.base_url, headers=settings.headers, timeout=settings.timeout, retries=settings.retries
    ) as client:
        runner = JourneyRunner(
            client,
            state,
            invariants=invariants,
            log_source=log_source,
            spec=spec,
            listeners=listeners,
            variables=settings.vars,
        )
        state.connect()
        try:
            yield runner, state
        finally:
            state.disconnect()


_REPEAT_START = "__replayqa_repeat_start__"


def _repeated(
    runner: JourneyRunner, state: StateBackend, journeys: Sequence[Journey], times: int
) -> RunResult:
    """Run ``times`` times from the same start state; the first run is reported, its flaky steps marked.

    A step that passed in one repetition and failed in another is flaky: its
    issues are marked so (``--fail-on new`` then lets them pass).
    """
    outcomes: dict[tuple[str, str, str], set[bool]] = {}
    results = []
    with StartState(state, _REPEAT_START) as start:
        for _ in range(times):
            start.before_run()
            results.append(runner.run(journeys))
            for step in (s for j in results[-1].journeys for s in j.steps):
                outcomes.setdefault((step.journey, step.path, step.step), set()).add(step.passed)
    first = results[0]
    first.flaky = {key for key, seen in outcomes.items() if seen == {True, False}}
    return first


def keep_results(result: RunResult, settings: Settings, redactor: Redactor | None = None) -> None:
    """Fingerprint the issues, apply known-issue rules (config and store), and store the run.

    ``redactor``: the one the run's reports use; by default the settings' own.
    """
    store = RunStore(settings.store)
    try:
        rules = [KnownIssue.from_config(entry) for entry in settings.known_issues]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"known_issues in {settings.source}: {exc}") from None
    annotate(result, [*rules, *store.known_rules()])
    result.build = settings.build
    if settings.build:
        failing = {(i.journey, i.path, i.step) for i in result.issues}
        result.flaky |= store.passed_in_build(settings.build, failing)
    resolutions = store.resolutions()
    for issue in result.issues:
        fixed = resolutions.get(issue.fingerprint)
        if fixed and issue.status == IssueStatus.NEW:
            when = time.strftime("%Y-%m-%d", time.localtime(fixed["marked_at"]))
            issue.suggestion = (
                f"Seen before and fixed on {when}: {fixed['reason'] or 'no note'}. {issue.suggestion}"
            )
    for issue in result.issues:
        if issue.status == IssueStatus.NEW and (issue.journey, issue.path, issue.step) in result.flaky:
            issue.status = IssueStatus.FLAKY
            issue.suggestion = (
                "Flaky: this step passed in another repetition from the same state. " + issue.suggestion
            )
    store.save(result, redactor or settings.redactor())


def needs_restore(journeys: Sequence[Journey]) -> bool:
    """Restores happen between journeys and before branch paths."""
    return len(journeys) > 1 or any(_has_branch(j.steps) for j in journeys)


def _has_branch(nodes: Sequence[Node]) -> bool:
    return any(isinstance(n, Branch) or (isinstance(n, JPath) and _has_branch(n.steps)) for n in nodes)


def rerun(
    source: str,
    journey: str,
    settings: Settings,
    base_url: str | None = None,
    sessions: Sequence[str] | None = None,
) -> RunResult:
    """Run one journey again: from its journey file, or replay its recording's sessions.

    A step's state comes from the steps before it, so the whole journey runs.
    ``base_url``: where the stored run ran, which wins over the configured one.
    ``sessions``: a replay's sessions as the run store keeps them (``Journey.sessions``).
    """
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"cannot re-run {journey!r}: {source} is gone")
    settings = replace(settings, base_url=base_url or settings.base_url)
    if path.suffix in JOURNEY_SUFFIXES:
        loaded = load_file(path)
        chosen = [j for j in loaded.journeys if j.name == journey]
        if not chosen:
            raise ConfigError(f"{source} has no journey named {journey!r} any more")
        return run_journeys(chosen, settings, loaded.invariants).result
    # Run stores written before journeys carried their sessions have only the display name.
    sessions = tuple(sessions or journey.split("+"))
    return replay_recordings([path], settings, ReplayOptions(sessions=sessions)).result


# -- replaying recordings ----------------------------------------------------------------------

SECRET_PREFIX = "REPLAYQA_SECRET_"


@dataclass(frozen=True)
class ReplayOptions:
    """What a replay needs besides the project's settings: the CLI's flags, the TUI's choice."""

    sessions: tuple[str, ...] = ()
    secrets: dict[str, str] = field(default_factory=dict)  # --secret NAME=VALUE
    shard: tuple[int, int] = (1, 1)
    workers: int = 1
    start: str | None = None  # a shell command that starts the app
    health: str | None = None
    health_timeout: float = 60.0


def replay_recordings(
    recordings: Sequence[Path], settings: Settings, options: ReplayOptions, listeners: Iterable[Listener] = ()
) -> RunOutcome:
    """The replay use case behind ``replayqa replay``, the TUI's re-run and the workers.

    Starts the app if asked, replays against it (or against one app and one
    database copy per worker), keeps the results and writes the reports.
    """
    from replayqa.replay import replay, replay_in_parallel

    replay_settings = _replay_settings(settings, options)
    if options.workers > 1 and settings.stores:
        raise ConfigError(
            "--workers with --store: the workers would share one Redis and see each other's keys; "
            "replay with --workers 1"
        )
    if options.workers > 1 and settings.db:
        result = _replay_with_workers(recordings, settings, options, replay_settings, listeners)
    else:
        with _started(options, settings) as log_file:
            if log_file:  # the app's output is the log issues quote
                replay_settings = replace(replay_settings, log_file=log_file)
            if options.workers > 1:
                assert settings.base_url is not None
                states: list[tuple[str, StateBackend]] = [
                    (settings.base_url, NullBackend()) for _ in range(options.workers)
                ]
                result = replay_in_parallel(recordings, replay_settings, states, listeners)
            else:
                result = replay(recordings, replay_settings, _replay_state(settings), listeners)
    result.base_url = result.base_url or replay_settings.base_url
    redactor = settings.redactor()
    keep_results(result, settings, redactor)
    junit = Path(settings.junit) if settings.junit else None
    folder = Path(settings.report_dir) / result.run_id
    reports = write_reports(result, folder, redactor, junit, settings.fail_on)
    return RunOutcome(result, reports, redactor)


def learn_noise_in(recordings: Sequence[Path], settings: Settings, options: ReplayOptions) -> list[NoiseRule]:
    """``replayqa replay --learn-noise``: the rules learned, already kept with the recordings."""
    from replayqa.replay import learn_noise

    with _started(options, settings):
        return learn_noise(recordings, _replay_settings(settings, options), _replay_state(settings))


def secrets_from_environment(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """``REPLAYQA_SECRET_PASSWORD`` for ``password``; ``_X_API_KEY`` serves ``x-api-key`` too.

    CI systems hand secrets over as environment variables, and a TUI re-run
    has no command line to take ``--secret`` from.
    """
    found: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith(SECRET_PREFIX) and len(key) > len(SECRET_PREFIX):
            name = key[len(SECRET_PREFIX) :].lower()
            found[name] = found[name.replace("_", "-")] = value
    return found


def _replay_settings(settings: Settings, options: ReplayOptions) -> ReplaySettings:
    from replayqa.diff import NoiseRule
    from replayqa.replay import ReplaySettings

    if not settings.base_url:
        raise ConfigError("no base URL: pass --base-url http://host:port or set base_url in replayqa.toml")
    try:
        rules = [NoiseRule(**rule) for rule in settings.noise_rules]
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"noise_rules in {settings.source}: {exc}; each is {{path, operation, reason, kind}}"
        ) from None
    return ReplaySettings(
        settings.base_url,
        options.sessions,
        {**secrets_from_environment(), **settings.secrets, **options.secrets},
        rules=rules,
        timeout=settings.timeout,
        spec=settings.spec,
        log_file=settings.log_file,
        shard=options.shard,
    )


def _replay_state(settings: Settings) -> StateBackend:
    assert settings.base_url is not None
    check_reachable(settings.base_url, settings.timeout)
    return open_state(
        settings.db,
        allow_restore=settings.allow_restore,
        lock_timeout=settings.lock_timeout,
        stores=settings.stores,
        test_words=settings.test_database_words,
    )


@contextmanager
def _started(options: ReplayOptions, settings: Settings) -> Iterator[str | None]:
    """The app from ``options.start``, up and healthy, for the block; yields its log file."""
    if not options.start:
        yield None
        return
    health = options.health or settings.base_url or ""
    app = AppProcess(options.start, health, options.health_timeout).start()
    try:
        yield str(app.log_path)
    finally:
        app.stop()


def _replay_with_workers(
    recordings: Sequence[Path],
    settings: Settings,
    options: ReplayOptions,
    replay_settings: ReplaySettings,
    listeners: Iterable[Listener],
) -> RunResult:
    """Each worker replays its share of the sessions, against its own app and database copy."""
    from replayqa.lifecycle import WorkerApps
    from replayqa.replay import replay_in_parallel

    assert settings.db is not None
    if not options.start:
        raise ConfigError(
            "--workers with --db needs --start, using {port} and {db_path} or {db_url}: "
            "each worker gets its own app and its own copy of the database"
        )
    open_state(
        settings.db, allow_restore=settings.allow_restore, test_words=settings.test_database_words
    ).check_restore_allowed()
    health_path = urlsplit(options.health).path if options.health else "/"
    with WorkerApps(options.workers, options.start, settings.db, health_path, options.health_timeout) as pool:
        states: list[tuple[str, StateBackend]] = [
            (w.base_url, open_state(w.db_url, allow_restore=True, lock_timeout=settings.lock_timeout))
            for w in pool
        ]
        return replay_in_parallel(recordings, replay_settings, states, listeners)
