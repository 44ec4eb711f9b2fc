"""Replaying recordings: each session group becomes a linear journey on the one runner.

For each group of sessions (sessions that overlapped are replayed together,
interleaved as recorded): restore the group's start capture into the
database, send its requests in recorded order with values rebound through
their provenance, compare every response with the recorded one, and at the
end compare the database with the recorded end capture.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from replayqa import events as ev
from replayqa.client import Client
from replayqa.diff import Comparer, Difference, NoiseRule
from replayqa.errors import ConfigError, ReplayqaError
from replayqa.events import Listener
from replayqa.logs import LogFile
from replayqa.model import Check, HttpResponse, Issue, Journey, JourneyResult, Node, RunResult, Severity, Step
from replayqa.provenance import Binding, form_fields, produced_values, trace
from replayqa.record.storage import Recording, write_meta
from replayqa.redact import stable_placeholders
from replayqa.runner import JourneyRunner
from replayqa.spec import SpecValidator
from replayqa.state import NullBackend, StateBackend
from replayqa.state.base import ColumnRedaction, capture_rows
from replayqa.suggest import Finding, suggest

_HOP_BY_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive", "accept-encoding"}
_PLACEHOLDER = re.compile(r"\[redacted(:[0-9a-f]+)?\]")


class ReplayMismatch(AssertionError):
    """A replayed response that differs from the recording (a step failure, not an error)."""


@dataclass
class ReplaySettings:
    base_url: str
    sessions: tuple[str, ...] = ()
    secrets: dict[str, str] = field(default_factory=dict)  # field or header name -> value
    rules: list[NoiseRule] = field(default_factory=list)
    timeout: float = 10.0
    spec: str | None = None
    log_file: str | None = None  # the app's log, quoted in issues
    shard: tuple[int, int] = (1, 1)  # replay the K-th of N shares of the session groups


@dataclass
class _GroupState:
    """What one group's replay knows: recorded rows, replayed responses, the binding map."""

    rows: list[dict[str, Any]]
    bindings: list[Binding]
    comparer: Comparer
    replayed: dict[int, HttpResponse] = field(default_factory=dict)
    diffs: dict[int, list[Difference]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)  # recorded value -> replayed value
    sources: dict[int, dict[str, str]] = field(default_factory=dict)  # exchange -> location -> bound value
    database: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # replayed end state

    def __post_init__(self) -> None:
        for binding in self.bindings:
            self.sources.setdefault(binding.source.exchange, {})[binding.source.location] = binding.value


def open_recording(path: Path) -> Recording:
    return Recording.open(path)


def replay(
    recordings: Iterable[Path],
    settings: ReplaySettings,
    state: StateBackend | None = None,
    listeners: Iterable[Listener] = (),
) -> RunResult:
    """Replay every selected session group of every recording; one journey each."""
    state = state or NullBackend()
    opened = [open_recording(Path(p)) for p in recordings]
    try:
        groups = _selected_groups(opened, settings)
        result = RunResult(
            run_id=time.strftime("replay-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6], started_at=time.time()
        )
        with _Replayer(settings, state, listeners) as replayer:
            replayer.runner.emit(ev.RunStarted(result.run_id, _names(groups), settings.base_url))
            for recording, group in groups:
                result.journeys.append(replayer.group(recording, group)[0])
        result.duration_ms = (time.time() - result.started_at) * 1000
        replayer.runner.emit(ev.RunFinished(result))
        return result
    finally:
        for recording in opened:
            recording.close()


def replay_in_parallel(
    recordings: Iterable[Path],
    settings: ReplaySettings,
    workers: list[tuple[str, StateBackend]],
    listeners: Iterable[Listener] = (),
) -> RunResult:
    """Worker ``i`` of ``n`` replays share ``i/n`` of the session groups, against its own app and database."""
    paths = [Path(p) for p in recordings]
    opened = [open_recording(p) for p in paths]
    try:
        _selected_groups(opened, settings)  # a session name nobody has is an error before anything runs
        order = [f"{r.path.name}/{g[0]['name']}" for r, g in _selected_groups(opened, settings)]
    finally:
        for recording in opened:
            recording.close()
    results: list[RunResult | BaseException] = [RunResult("")] * len(workers)

    def work(index: int, base_url: str, state: StateBackend) -> None:
        share = replace(settings, base_url=base_url, shard=(index + 1, len(workers)))
        try:
            results[index] = replay(paths, share, state, listeners)
        except BaseException as exc:  # re-raised on the main thread
            results[index] = exc

    threads = [threading.Thread(target=work, args=(i, url, state)) for i, (url, state) in enumerate(workers)]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for outcome in results:
        if isinstance(outcome, BaseException):
            raise outcome
    merged = RunResult(time.strftime("replay-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6], started_at=started)
    journeys = [j for r in results if isinstance(r, RunResult) for j in r.journeys]
    rank = {name.split("/", 1)[1]: i for i, name in enumerate(order)}
    merged.journeys = sorted(journeys, key=lambda j: rank.get(j.journey.split("+")[0], 0))
    merged.duration_ms = (time.time() - started) * 1000
    return merged


def learn_noise(
    recordings: Iterable[Path], settings: ReplaySettings, state: StateBackend | None = None
) -> int:
    """Replay each session group twice from the same state; what differs is noise.

    The rules (JSON path or database column, operation, reason) are written
    into each recording's metadata, where later replays pick them up and where
    a person can review them (``replayqa show --json``). Returns how many.
    """
    learned = 0
    for path in recordings:
        recording = open_recording(Path(path))
        try:
            rules = {(r["path"], r.get("operation")): r for r in recording.noise_rules()}
            with _Replayer(settings, state or NullBackend(), ()) as replayer:
                for group in _selected_groups([recording], settings, must_exist=False):
                    first = replayer.group(*group)[1]
                    second = replayer.group(*group)[1]
                    for rule in _differences_between(first, second):
                        rules.setdefault((rule.path, rule.operation), rule.__dict__)
        finally:
            recording.close()
        write_meta(path, "noise_rules", list(rules.values()))
        learned += len(rules)
    return learned


def _differences_between(first: _GroupState, second: _GroupState) -> Iterator[NoiseRule]:
    comparer = Comparer()
    reason = "differed between two replays of the same recorded state"
    for index, response in first.replayed.items():
        other = second.replayed.get(index)
        if other is None:
            continue
        operation = first.rows[index]["operation"]
        for difference in comparer.responses(response, other, operation):
            path = re.sub(r"\[\d+\]", "[*]", difference.path)
            yield NoiseRule(
                path if difference.where == "body" else f"header:{difference.path}", operation, reason
            )
    for difference in comparer.tables(first.database, second.database):
        table, _, rest = difference.path.partition("/")
        column = rest.rpartition("/")[2] if difference.kind == "changed" else ""
        if column:
            yield NoiseRule(f"db:{table}.{column}", None, reason)


def _selected_groups(
    opened: list[Recording], settings: ReplaySettings, must_exist: bool = True
) -> list[tuple[Recording, list[dict[str, Any]]]]:
    groups = [(r, g) for r in opened for g in _groups(r, settings.sessions)]
    shard, shards = settings.shard
    if shards > 1:  # deterministic: by recording file name and first session name, not by position
        groups = [
            (r, g) for r, g in groups if _shard_of(f"{r.path.name}/{g[0]['name']}", shards) == shard - 1
        ]
        return groups
    if not groups and must_exist:
        wanted = ", ".join(settings.sessions)
        names = sorted({s["name"] for r in opened for s in r.sessions()})
        raise ConfigError(
            f"no session named {wanted} in the recordings; sessions: {', '.join(names) or 'none'}"
        )
    return groups


def _shard_of(label: str, shards: int) -> int:
    return int(hashlib.sha256(label.encode()).hexdigest(), 16) % shards


def _names(groups: list[tuple[Recording, list[dict[str, Any]]]]) -> tuple[str, ...]:
    return tuple("+".join(s["name"] for s in g) for _, g in groups)


class _Replayer:
    """The client, runner and database a replay shares across session groups."""

    def __init__(self, settings: ReplaySettings, state: StateBackend, listeners: Iterable[Listener]) -> None:
        self.settings = settings
        self.state = state
        if not isinstance(state, NullBackend):
            state.check_restore_allowed()
        spec = SpecValidator.load(settings.spec, settings.base_url) if settings.spec else None
        self.client = Client(settings.base_url, timeout=settings.timeout, retries=1)
        log = LogFile(settings.log_file, 20) if settings.log_file else None
        self.runner = JourneyRunner(self.client, state, listeners=listeners, spec=spec, log_source=log)

    def __enter__(self) -> _Replayer:
        self.state.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.state.disconnect()
        finally:
            self.client.close()

    def group(self, recording: Recording, group: list[dict[str, Any]]) -> tuple[JourneyResult, _GroupState]:
        return _replay_group(recording, group, self.settings, self.runner, self.state)


def _groups(recording: Recording, names: tuple[str, ...]) -> list[list[dict[str, Any]]]:
    groups: dict[int, list[dict[str, Any]]] = {}
    for session in recording.sessions():
        groups.setdefault(session["group_id"], []).append(session)
    chosen = list(groups.values())
    if names:
        chosen = [g for g in chosen if any(s["name"] in names for s in g)]
    return chosen


def _replay_group(
    recording: Recording,
    group: list[dict[str, Any]],
    settings: ReplaySettings,
    runner: JourneyRunner,
    state: StateBackend,
) -> tuple[JourneyResult, _GroupState]:
    first = group[0]
    if first["start_checkpoint_id"] and not isinstance(state, NullBackend):
        state.restore_capture(recording.capture(first["start_checkpoint_id"]))
    ids = {s["id"] for s in group}
    rows = sorted((r for r in recording.exchanges() if r["session_id"] in ids), key=lambda r: r["id"])
    rows = [r for r in rows if r["status"] is not None]  # nothing to compare without a recorded response
    rules = settings.rules + [NoiseRule(**r) for r in recording.noise_rules()]
    group_state = _GroupState(rows, trace(rows), Comparer(rules=rules))
    group_state.comparer.bindings = group_state.values
    name = "+".join(s["name"] for s in group)
    steps: list[Node] = [
        Step(
            f"#{row['id']} {row['method']} {urlsplit(row['url']).path}",  # the recording's exchange id
            _ReplayAction(index, group_state, settings.secrets),
            checks=(Check("status", value=row["status"]), *((Check("schema"),) if settings.spec else ())),
            continue_on_failure=True,
        )
        for index, row in enumerate(rows)
    ]
    journey = Journey(name, steps, description=f"replay of {recording.path.name}", source=str(recording.path))
    result = runner.run_journey(journey)
    _attach_diffs(result, group_state)
    if group[-1]["end_checkpoint_id"] and not isinstance(state, NullBackend):
        _compare_database(recording, group, group_state, state, result)
    return result, group_state


class _ReplayAction:
    """Send one recorded request, rebound; compare its response with the recording."""

    def __init__(self, index: int, group: _GroupState, secrets: dict[str, str]) -> None:
        self.index = index
        self.group = group
        self.secrets = {k.lower(): v for k, v in secrets.items()}

    def __call__(self, client: Client, context: Any) -> Any:
        row = self.group.rows[self.index]
        url = urlsplit(row["url"])
        path = self._rebind_path(url.path)
        query = self._rebind_query(url.query)
        headers = {
            k: self._rebind_text(k, v) for k, v in row["request_headers"] if k.lower() not in _HOP_BY_HOP
        }
        fields = form_fields(row["request_headers"], row["request_body"])
        if fields is not None:  # a form: each field rebound by its name, then encoded again
            body: str | None = urlencode([(k, self._rebind_value(k, v)) for k, v in fields])
        else:
            body = self._rebind_body(row["request_body"])
        response = client.request(
            row["method"],
            path + (f"?{query}" if query else ""),
            headers=headers,
            content=body.encode() if body is not None else None,
        )
        replayed = client.last_exchange.response if client.last_exchange else None
        assert replayed is not None
        self.group.replayed[self.index] = replayed
        self._learn(row, replayed)
        recorded = HttpResponse(row["status"], dict(row["response_headers"]), row["response_body"] or "")
        if row["response_body"] is None and row["response_body_sha256"]:  # binary: compared by hash
            digest = hashlib.sha256(response.content).hexdigest()
            recorded.body = replayed.body = ""
            differences = self.group.comparer.responses(recorded, replayed, row["operation"])
            if digest != row["response_body_sha256"]:
                old, new = f"sha256:{row['response_body_sha256'][:16]}", f"sha256:{digest[:16]}"
                differences.append(Difference("body", "$", "changed", old, new))
        else:
            differences = self.group.comparer.responses(recorded, replayed, row["operation"])
        if differences:
            self.group.diffs[self.index] = differences
            raise ReplayMismatch(
                "; ".join(d.describe() for d in differences[:5])
                + (f"; and {len(differences) - 5} more" if len(differences) > 5 else "")
            )
        return response

    # -- rebinding ---------------------------------------------------------------

    def _new_value(self, recorded: str) -> Any:
        return self.group.values.get(recorded)

    def _rebind_path(self, path: str) -> str:
        return "/".join(
            _text(self._new_value(s)) if self._new_value(s) is not None else s for s in path.split("/")
        )

    def _rebind_query(self, query: str) -> str:
        if not query:
            return ""
        pairs = parse_qsl(query, keep_blank_values=True)
        return urlencode([(k, self._rebind_text(k, v)) for k, v in pairs])

    def _rebind_text(self, name: str, value: str) -> str:
        """Replace recorded values inside a string (``Bearer <token>``); secrets for placeholders."""
        for recorded, new in self.group.values.items():
            if recorded in value and new is not None:
                pattern = re.compile(rf"(?<![\w-]){re.escape(recorded)}(?![\w-])")
                value = pattern.sub(_text(new).replace("\\", "\\\\"), value)
        secret = self.secrets.get(name.lower())
        return fill_secret(value, secret) if secret is not None else value

    def _rebind_value(self, name: str, value: str) -> str:
        new = self._new_value(value)
        return _text(new) if new is not None else self._rebind_text(name, value)

    def _rebind_body(self, body: str | None) -> str | None:
        if body is None:
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return self._rebind_text("", body)
        return json.dumps(self._rebind_json(data, ""))

    def _rebind_json(self, data: Any, name: str) -> Any:
        if isinstance(data, dict):
            return {k: self._rebind_json(v, k) for k, v in data.items()}
        if isinstance(data, list):
            return [self._rebind_json(v, name) for v in data]
        if isinstance(data, bool) or data is None:
            return data
        new = self._new_value(_text(data))
        if new is not None:
            return new
        return self._rebind_text(name, data) if isinstance(data, str) else data

    def _learn(self, row: dict[str, Any], replayed: HttpResponse) -> None:
        """For values later requests send (and only those), pair recorded with replayed, by location.

        Learning every changed value would make a real regression (a changed
        price) compare equal "through a binding".
        """
        wanted = self.group.sources.get(self.index)
        if not wanted:
            return
        new = dict(produced_values(replayed.status, replayed.headers.items(), replayed.body))
        for location, value in wanted.items():
            if location in new:
                self.group.values[value] = _typed(new[location], location)


def fill_secret(value: str, secret: str) -> str:
    """Put ``--secret``'s value where the recording has a placeholder.

    A header keeps its scheme when redacted (``Basic [redacted]``), and users
    give either the credential alone or the whole value as they would type the
    header (``--secret "authorization=Basic dXNlcjpwdw=="``): both must work.
    """
    match = _PLACEHOLDER.search(value)
    if match is None:
        return value
    scheme = value[: match.start()].strip()
    if scheme and secret.lower().startswith(scheme.lower() + " "):
        return secret
    return _PLACEHOLDER.sub(lambda _: secret, value)


def _attach_diffs(result: JourneyResult, group: _GroupState) -> None:
    """Give each mismatch issue its recorded response and structured diff."""
    by_step = {f"#{row['id']}": i for i, row in enumerate(group.rows)}
    for issue in result.issues:
        index = by_step.get(issue.step.split(" ", 1)[0])
        if index is None:
            continue
        row = group.rows[index]
        issue.kind = "regression"
        issue.expected = HttpResponse(
            row["status"], dict(row["response_headers"]), row["response_body"] or ""
        )
        issue.diff = [d.to_dict() for d in group.diffs.get(index, [])]


def _compare_database(
    recording: Recording,
    group: list[dict[str, Any]],
    group_state: _GroupState,
    state: StateBackend,
    result: JourneyResult,
) -> None:
    recorded = capture_rows(recording.capture(group[-1]["end_checkpoint_id"]))
    try:
        replayed = capture_rows(state.capture(ColumnRedaction(stable_placeholders())))
    except ReplayqaError as exc:
        result.issues.append(Issue(result.journey, "main", "database", f"cannot capture the database: {exc}"))
        return
    group_state.database = replayed
    differences = group_state.comparer.tables(recorded, replayed)
    if differences:
        message = "database differs from the recording: " + "; ".join(d.describe() for d in differences[:5])
        issue = Issue(
            result.journey,
            "main",
            "database effects",
            message,
            Severity.HIGH,
            "db-regression",
            suggestion=suggest(Finding(message)),
        )
        issue.diff = [d.to_dict() for d in differences]
        result.issues.append(issue)
        for path_result in result.paths:
            path_result.issues.append(issue)


def _typed(value: str, location: str) -> Any:
    """A produced value with its JSON type back (an id stays an int)."""
    if location.startswith("body:") and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


def _text(value: Any) -> str:
    return str(value)
