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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from replayqa import events as ev
from replayqa.client import Client
from replayqa.diff import Comparer, Difference, NoiseRule, made_anew
from replayqa.errors import ConfigError, ReplayError
from replayqa.events import Listener
from replayqa.knowledge import route_template
from replayqa.logs import LogFile
from replayqa.model import (
    Check,
    Exchange,
    HttpResponse,
    Issue,
    IssueKind,
    Journey,
    JourneyResult,
    Node,
    RunResult,
    Step,
)
from replayqa.provenance import Binding, form_fields, parse_json, produced_values, trace, value_text
from replayqa.record.storage import Recording, write_meta
from replayqa.redact import credential, stable_placeholders
from replayqa.runner import JourneyRunner
from replayqa.spec import SpecIndex, SpecValidator, load_spec_document
from replayqa.state import NullBackend, StateBackend
from replayqa.state.base import ColumnRedaction, capture_rows, row_counts
from replayqa.suggest import Finding, suggest

_HOP_BY_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive", "accept-encoding"}
_PLACEHOLDER = re.compile(r"\[redacted(:[0-9a-f]+)?\]")


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
    transport: httpx.BaseTransport | None = None  # the client's seam: tests and embedders


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
    recorded_database: dict[str, dict[str, dict[str, Any]]] | None = None  # the recorded end state
    db_diffs: list[Difference] = field(default_factory=list)
    digests: dict[int, str] = field(default_factory=dict)  # binary bodies, compared by hash
    undescribed: int = 0  # exchanges the --spec does not describe: not validated
    #: Write effects: recorded rows per table after some writes (by exchange id), and this run's.
    effects: dict[int, dict[str, int]] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # "recorded"/"replayed" -> last seen
    state: StateBackend | None = None
    effect_diffs: dict[int, list[Difference]] = field(default_factory=dict)

    def differs(self) -> bool:
        return bool(self.diffs or self.db_diffs)

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
        with _Replayer(settings, state, listeners) as replayer:
            return replayer.run(groups)
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
    merged.journeys = sorted(journeys, key=lambda j: rank.get(j.sessions[0], 0))
    merged.duration_ms = (time.time() - started) * 1000
    return merged


def learn_noise(
    recordings: Iterable[Path], settings: ReplaySettings, state: StateBackend | None = None
) -> list[NoiseRule]:
    """Replay each session group twice from the same state; values made anew each time are learned.

    Only replays that behave as recorded teach anything: a step answered with
    another status (a 401 for a missing ``--secret``) changes what follows, so
    it stops the learning with an error instead of becoming a rule. Rules are
    per operation and per field, never a status, a whole body or a whole row.
    They are written into each recording's metadata, where later replays pick
    them up and where a person can review them (``replayqa show --json``).
    Returns the rules that are new.
    """
    learned: list[NoiseRule] = []
    for path in recordings:
        recording = open_recording(Path(path))
        try:
            rules = {(r["path"], r.get("operation")): r for r in recording.noise_rules()}
            with _Replayer(settings, state or NullBackend(), ()) as replayer:
                for group in _selected_groups([recording], settings, must_exist=False):
                    first, second = replayer.run_group(*group), replayer.run_group(*group)
                    _require_as_recorded(group[1], first, second)
                    for rule in generated_rules(first, second):
                        if (rule.path, rule.operation) not in rules:
                            rules[(rule.path, rule.operation)] = rule.__dict__
                            learned.append(rule)
        finally:
            recording.close()
        write_meta(path, "noise_rules", list(rules.values()))
    return learned


def _require_as_recorded(group: list[dict[str, Any]], *runs: _GroupState) -> None:
    for run in runs:
        for index, row in enumerate(run.rows):
            replayed = run.replayed.get(index)
            got = f"answered {replayed.status}" if replayed else "got no answer"
            if replayed is None or replayed.status != row["status"]:
                raise ReplayError(
                    f"cannot learn noise from session {group[0]['name']}: #{row['id']} {row['method']} "
                    f"{urlsplit(row['url']).path} {got}, recorded {row['status']}; "
                    "noise is learned only from replays that behave as recorded (a missing --secret?)"
                )


def generated_rules(first: _GroupState, second: _GroupState) -> list[NoiseRule]:
    """The places where two replays from one state each got a value of their own, of one shape.

    Only steps answered as recorded in both runs count: after another status
    the chain has gone elsewhere and its values say nothing about noise.
    """
    reason = "made anew by the server: two replays from the same state each got their own value"
    rules: dict[tuple[str, str | None], NoiseRule] = {}
    for index, differences in sorted(first.diffs.items()):
        row, one, two = first.rows[index], first.replayed.get(index), second.replayed.get(index)
        if one is None or two is None or not row["status"] == one.status == two.status:
            continue
        twins = {(d.where, d.path): d for d in second.diffs.get(index, [])}
        for difference in differences:
            twin = twins.get((difference.where, difference.path))
            if difference.where not in ("body", "header") or difference.kind != "changed" or twin is None:
                continue
            if made_anew(difference.old, difference.new, twin.new):
                where = re.sub(r"\[\d+\]", "[*]", difference.path)
                where = where if difference.where == "body" else f"header:{difference.path}"
                rule = NoiseRule(where, operation_of(row), reason, "generated")
                rules.setdefault((rule.path, rule.operation), rule)
    db_twins = {d.path: d for d in second.db_diffs if d.kind == "changed"}
    for difference in (d for d in first.db_diffs if d.kind == "changed"):
        twin = db_twins.get(difference.path)
        if twin is not None and made_anew(difference.old, difference.new, twin.new):
            table, column = difference.path.split("/", 1)[0], difference.path.rpartition("/")[2]
            rule = NoiseRule(f"db:{table}.{column}", None, reason, "generated")
            rules.setdefault((rule.path, None), rule)
    return list(rules.values())


def operation_of(row: dict[str, Any]) -> str:
    """The spec's operation when recorded with one; else the route, ids as ``{id}``."""
    return row["operation"] or route_template(row["method"], row["url"])


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


class _Replayer:
    """The client, runner and database a replay shares across session groups."""

    def __init__(self, settings: ReplaySettings, state: StateBackend, listeners: Iterable[Listener]) -> None:
        self.settings = settings
        self.state = state
        if not isinstance(state, NullBackend):
            state.check_restore_allowed()
        document = load_spec_document(settings.spec) if settings.spec else None
        spec = SpecValidator(document, settings.base_url) if document else None
        self.described = _describer(document, settings.base_url) if document else None
        self.client = Client(
            settings.base_url,
            timeout=settings.timeout,
            retries=1,
            keep_cookies=False,
            transport=settings.transport,
        )
        log = LogFile(settings.log_file, 20) if settings.log_file else None
        self.listeners = list(listeners)
        self.runner = JourneyRunner(self.client, state, listeners=self.listeners, spec=spec, log_source=log)

    def __enter__(self) -> _Replayer:
        self.state.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.state.disconnect()
        finally:
            self.client.close()

    def run(self, groups: list[tuple[Recording, list[dict[str, Any]]]]) -> RunResult:
        """Every group as one journey, on the runner; each judged once it ran (see ``_settle``)."""
        self._built: dict[int, tuple[Recording, list[dict[str, Any]], _GroupState]] = {}
        journeys = []
        for recording, group in groups:
            journey, group_state = self.build(recording, group)
            self._built[id(journey)] = (recording, group, group_state)
            journeys.append(journey)
        run_id = time.strftime("replay-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        return self.runner.run(journeys, run_id, isolate=False, settle=self._settle)

    def build(self, recording: Recording, group: list[dict[str, Any]]) -> tuple[Journey, _GroupState]:
        return _journey(recording, group, self.settings, self.state, self.described)

    def run_group(self, recording: Recording, group: list[dict[str, Any]]) -> _GroupState:
        """A run of a group from its recorded state (its journey's setup restores it), for comparing.

        No listener hears of it: inside ``settle`` the runner has none, and
        learning noise gives it none.
        """
        journey, group_state = self.build(recording, group)
        self.runner.run_journey(journey)
        return group_state

    def _settle(self, journey: Journey, result: JourneyResult, events: list[ev.Event]) -> None:
        """Judge a group's run before anyone hears of it.

        When it differs from the recording and the state can be restored, a
        second run from the same state tells noise from change: a value both
        runs got anew, in one shape (a random name the server makes), is noise
        where it first shows up and is held to that value everywhere after. A
        difference the second run did not see is still reported, and says so.
        """
        recording, group, first = self._built[id(journey)]
        _attach_diffs(result, first)
        notes = []
        if first.differs() and self._can_restore(group):
            second = self.run_group(recording, group)
            learned = generated_rules(first, second)
            _rejudge(result, first, learned, second, events)
            if learned:
                notes.append("values the server makes anew each run: " + ", ".join(_described(learned)))
        broke_at = _fold_consequences(result, first, events)
        if broke_at is not None and self._can_restore(group):
            notes.append(f"database not compared: the chain broke at {broke_at}")
        if first.undescribed:
            notes.append(f"{first.undescribed} of {len(first.rows)} exchanges not in the spec, not validated")
        for note in notes:
            events.insert(_before_path_end(events), ev.Note(result.journey, note))
        _split_by_cause(result, first.db_diffs, events)

    def _can_restore(self, group: list[dict[str, Any]]) -> bool:
        return not isinstance(self.state, NullBackend) and bool(group[0]["start_checkpoint_id"])


def _groups(recording: Recording, names: tuple[str, ...]) -> list[list[dict[str, Any]]]:
    groups: dict[int, list[dict[str, Any]]] = {}
    for session in recording.sessions():
        groups.setdefault(session["group_id"], []).append(session)
    chosen = list(groups.values())
    if names:
        chosen = [g for g in chosen if any(s["name"] in names for s in g)]
    return chosen


DATABASE_STEP = "database effects"


def _journey(
    recording: Recording,
    group: list[dict[str, Any]],
    settings: ReplaySettings,
    state: StateBackend,
    described: Callable[[dict[str, Any]], bool] | None = None,
) -> tuple[Journey, _GroupState]:
    """A group as a journey: its recorded state as setup, its requests as steps, the end state judged last."""
    first, last = group[0], group[-1]
    ids = {s["id"] for s in group}
    rows = sorted((r for r in recording.exchanges() if r["session_id"] in ids), key=lambda r: r["id"])
    rows = [r for r in rows if r["status"] is not None]  # nothing to compare without a recorded response
    rules = settings.rules + [NoiseRule(**r) for r in recording.noise_rules()]
    group_state = _GroupState(rows, trace(rows), Comparer(rules=rules))
    group_state.comparer.bindings = group_state.values
    setup = None
    restores = bool(first["start_checkpoint_id"]) and not isinstance(state, NullBackend)
    if restores:
        start = recording.capture(first["start_checkpoint_id"])
        end = recording.capture(last["end_checkpoint_id"]) if last["end_checkpoint_id"] else None
        # tables the session made must go, so it can make them again; those it dropped come back
        made = set(end.tables) - set(start.tables) if end else set()
        dropped = set(start.tables) - set(end.tables) if end else set()

        def setup() -> None:
            state.restore_capture(start, drop=made, create=dropped)

        ids_here = {row["id"] for row in rows}
        group_state.effects = {k: v for k, v in recording.write_effects().items() if k in ids_here}
        group_state.counts = {"recorded": dict(start.tables), "replayed": dict(start.tables)}
        group_state.state = state
    # the spec validates what it describes: a single-page app's HTML and public routes are not in it
    validated = [described(row) if described else False for row in rows]
    group_state.undescribed = validated.count(False) if described else 0
    steps: list[Node] = [
        Step(
            f"#{row['id']} {row['method']} {urlsplit(row['url']).path}",
            _ReplayAction(index, group_state, settings.secrets),
            checks=(
                Check("custom", value=_AsRecorded(index, group_state)),
                *((Check("schema"),) if validated[index] else ()),
            ),
            continue_on_failure=True,  # every step runs: the session's own clean-up too
            exchange_id=row["id"],
        )
        for index, row in enumerate(rows)
    ]
    if restores and end is not None:
        steps.append(Step(DATABASE_STEP, _DatabaseCheck(group_state, capture_rows(end), state)))
    sessions = tuple(s["name"] for s in group)
    journey = Journey(
        "+".join(sessions),  # for display only: a session's own name may hold a "+"
        steps,
        f"replay of {recording.path.name}",
        source=str(recording.path),
        setup=setup,
        sessions=sessions,
    )
    return journey, group_state


class DatabaseMismatch(AssertionError):
    """The end state differs from the recorded one (a step failure, not an error)."""


class _DatabaseCheck:
    """The last step: the database as the session left it, against the recorded end capture."""

    def __init__(self, group: _GroupState, recorded: dict[str, Any], state: StateBackend) -> None:
        self.group, self.recorded, self.state = group, recorded, state

    def __call__(self, client: Client, context: Any) -> None:
        self.group.recorded_database = self.recorded
        self.group.database = capture_rows(self.state.capture(ColumnRedaction(stable_placeholders())))
        self.group.db_diffs = self.group.comparer.tables(self.recorded, self.group.database)
        if self.group.db_diffs:
            raise DatabaseMismatch(_database_message(self.group.db_diffs))


def _database_message(differences: list[Difference]) -> str:
    return "database differs from the recording: " + "; ".join(d.describe() for d in differences[:5])


class _ReplayAction:
    """Send one recorded request, rebound; learn what the response hands on to later requests."""

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
        if row["response_body"] is None and row["response_body_sha256"]:  # binary: compared by hash
            self.group.digests[self.index] = hashlib.sha256(response.content).hexdigest()
        return response

    # -- rebinding ---------------------------------------------------------------

    def _new_value(self, recorded: str) -> Any:
        return self.group.values.get(recorded)

    def _rebind_path(self, path: str) -> str:
        return "/".join(
            value_text(self._new_value(s)) if self._new_value(s) is not None else s for s in path.split("/")
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
                value = pattern.sub(value_text(new).replace("\\", "\\\\"), value)
        secret = self.secrets.get(name.lower())
        return fill_secret(value, secret) if secret is not None else value

    def _rebind_value(self, name: str, value: str) -> str:
        new = self._new_value(value)
        return value_text(new) if new is not None else self._rebind_text(name, value)

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
        new = self._new_value(value_text(data))
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
            location = _same_item(location, row["response_body"], replayed.body)
            if location in new:
                self.group.values[value] = _typed(new[location], location)


class _AsRecorded:
    """The step's check: the response, and the rows the step wrote, as the recording has them."""

    def __init__(self, index: int, group: _GroupState) -> None:
        self.index = index
        self.group = group

    def __call__(self, exchange: Exchange) -> str | None:
        row, replayed = self.group.rows[self.index], self.group.replayed.get(self.index)
        if replayed is None:
            return None
        differences = _compare(row, replayed, self.group.digests.get(self.index), self.group.comparer)
        effects = self._write_effects(row["id"])
        if effects:
            self.group.effect_diffs[self.index] = effects
            differences += effects
        if not differences:
            return None
        self.group.diffs[self.index] = differences
        return _mismatch(differences)

    def _write_effects(self, exchange_id: int) -> list[Difference]:
        """Rows per table this step added or removed, against what the recorded exchange did."""
        recorded = self.group.effects.get(exchange_id)
        if recorded is None or self.group.state is None:
            return []
        replayed = row_counts(self.group.state)
        if replayed is None:
            return []
        before = self.group.counts
        found = []
        for table in sorted(set(recorded) | set(replayed)):
            wrote = recorded.get(table, 0) - before["recorded"].get(table, 0)
            writes = replayed.get(table, 0) - before["replayed"].get(table, 0)
            if wrote != writes:
                found.append(Difference("db", f"{table}/rows written", "changed", wrote, writes))
        self.group.counts = {"recorded": recorded, "replayed": replayed}
        return found


_LIST_ITEM = re.compile(r"^body:(\$[^\[]*)\[(\d+)\](.*)$")


def _same_item(location: str, recorded_body: str | None, replayed_body: str | None) -> str:
    """A value taken from a list item is taken from the same item, wherever the list now puts it.

    ``body:$.runs[1].name`` was the second run's when recorded; if the
    replayed list comes in another order, the name must come from the item
    most like the recorded one (its job, its state), not from the second place.
    """
    match = _LIST_ITEM.match(location)
    if match is None:
        return location
    prefix, index, rest = match.group(1), int(match.group(2)), match.group(3)
    old_items = _at(parse_json(recorded_body, None), prefix)
    new_items = _at(parse_json(replayed_body, None), prefix)
    if not (isinstance(old_items, list) and isinstance(new_items, list)) or index >= len(old_items):
        return location
    item = old_items[index]
    if not isinstance(item, dict) or not all(isinstance(other, dict) for other in new_items):
        return location
    nearest = range(len(new_items))
    best = max(nearest, key=lambda j: (_likeness(item, new_items[j]), -abs(j - index)), default=index)
    return f"body:{prefix}[{best}]{rest}"


def _at(data: Any, path: str) -> Any:
    for key in path.removeprefix("$").split(".")[1:]:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _likeness(recorded: dict[str, Any], replayed: dict[str, Any]) -> int:
    """How many plain fields two items share: server-made ids differ, names and kinds do not."""
    return sum(
        1
        for key, value in recorded.items()
        if not isinstance(value, dict | list) and key in replayed and replayed[key] == value
    )


def fill_secret(value: str, secret: str) -> str:
    """Put ``--secret``'s value where the recording has a placeholder.

    A header keeps its scheme when redacted (``Basic [redacted]``), and users
    give either the credential alone or the whole value as they would type the
    header (``--secret "authorization=Basic dXNlcjpwdw=="``): both must work.
    For HTTP Basic, ``user:password`` is encoded as the scheme wants (base64
    has no colon, so the two cannot be confused).
    """
    match = _PLACEHOLDER.search(value)
    if match is None:
        return value
    secret = credential(value[: match.start()].strip(), secret)
    return _PLACEHOLDER.sub(lambda _: secret, value)


def _attach_diffs(result: JourneyResult, group: _GroupState) -> None:
    """Give each mismatch issue its recorded response and structured diff; the database its own kind."""
    by_exchange = {row["id"]: i for i, row in enumerate(group.rows)}
    for issue in result.issues:
        if issue.step == DATABASE_STEP and group.db_diffs:
            _database_issue(issue, group.db_diffs)
            continue
        index = by_exchange.get(issue.exchange_id)
        if index is None:
            continue
        row = group.rows[index]
        issue.kind = IssueKind.REGRESSION
        issue.expected = HttpResponse(
            row["status"], dict(row["response_headers"]), row["response_body"] or ""
        )
        issue.diff = [d.to_dict() for d in group.diffs.get(index, [])]


def _database_issue(issue: Issue, differences: list[Difference]) -> None:
    issue.kind, issue.error = IssueKind.DB_REGRESSION, _database_message(differences)
    issue.diff = [d.to_dict() for d in differences]
    issue.suggestion = suggest(Finding(issue.error))


def _fold_consequences(result: JourneyResult, run: _GroupState, events: list[ev.Event]) -> str | None:
    """Failures that only echo a broken chain are folded into the step that broke it.

    The chain breaks where a later request needs a value this response
    produced (an id, a token, a cookie) and the response left its recorded
    status class: a login answered 401, a create answered 500. The steps
    that sent what it should have made fail too, and say nothing new; they
    are named on the breaking step's issue instead. Every step still ran, so
    the session's own clean-up did too. What the database holds then is no
    regression of its own: it is not compared. Returns the breaking step.
    """
    broken: set[int] = set()
    first: Issue | None = None
    folded: list[str] = []
    issues = {i.exchange_id: i for i in result.issues if i.exchange_id is not None}
    uses: dict[int, set[int]] = {}
    for binding in run.bindings:
        uses.setdefault(binding.exchange, set()).add(binding.source.exchange)
    for index, row in enumerate(run.rows):
        issue = issues.get(row["id"])
        if issue is not None and uses.get(index, set()) & broken:  # it needed what a broken step made
            folded.append(issue.step)
            _withdraw(result, issue, events)
            broken.add(index)
            continue
        replayed = run.replayed.get(index)
        changed_class = replayed is None or replayed.status // 100 != row["status"] // 100
        if issue is not None and changed_class and index in run.sources:
            broken.add(index)
            first = first or issue
    if first is None:
        return None
    if folded:
        first.error += f" (then {len(folded)} later steps that needed what it made failed too)"
    database = next((i for i in result.issues if i.step == DATABASE_STEP), None)
    if database is not None:
        _withdraw(result, database, events)
    return first.step


def _split_by_cause(result: JourneyResult, differences: list[Difference], events: list[ev.Event]) -> None:
    """One database issue per cause (table, column, kind of change), each with its own fingerprint.

    Three faults in one end state are three findings: marking one known or
    accepted must leave the other two standing.
    """
    issue = next(
        (i for i in result.issues if i.step == DATABASE_STEP and i.kind == IssueKind.DB_REGRESSION), None
    )
    causes: dict[tuple[str, str, str], list[Difference]] = {}
    for difference in differences:
        table = difference.path.split("/", 1)[0]
        column = difference.path.rpartition("/")[2] if difference.kind == "changed" else ""
        causes.setdefault((table, column, difference.kind), []).append(difference)
    if issue is None or len(causes) < 2:
        return
    split = [replace(issue) for _ in causes]
    for one, group in zip(split, causes.values(), strict=True):
        _database_issue(one, group)
    for issues in [result.issues, *(p.issues for p in result.paths)]:
        if issue in issues:
            at = issues.index(issue)
            issues[at : at + 1] = split
    found = next((i for i, e in enumerate(events) if isinstance(e, ev.IssueFound) and e.issue is issue), None)
    if found is not None:
        events[found : found + 1] = [ev.IssueFound(one) for one in split]


def _describer(document: dict[str, Any], base_url: str) -> Callable[[dict[str, Any]], bool]:
    """Whether the spec has an operation for a recorded exchange (under the app's base path too)."""
    index = SpecIndex(document)
    base = urlsplit(base_url).path.rstrip("/")

    def described(row: dict[str, Any]) -> bool:
        path = urlsplit(row["url"]).path
        stripped = path[len(base) :] or "/" if base and path.startswith(base + "/") else path
        return any(index.match(row["method"], p) is not None for p in (path, stripped))

    return described


def _compare(
    row: dict[str, Any], replayed: HttpResponse, digest: str | None, comparer: Comparer
) -> list[Difference]:
    """The recorded response against the replayed one, through the comparer's bindings and rules."""
    recorded = HttpResponse(row["status"], dict(row["response_headers"]), row["response_body"] or "")
    if digest is None:
        return comparer.responses(recorded, replayed, operation_of(row))
    recorded.body = ""
    differences = comparer.responses(recorded, replace(replayed, body=""), operation_of(row))
    if digest != row["response_body_sha256"]:
        old, new = f"sha256:{row['response_body_sha256'][:16]}", f"sha256:{digest[:16]}"
        differences.append(Difference("body", "$", "changed", old, new))
    return differences


def _mismatch(differences: list[Difference]) -> str:
    return "; ".join(d.describe() for d in differences[:5]) + (
        f"; and {len(differences) - 5} more" if len(differences) > 5 else ""
    )


def _rejudge(
    result: JourneyResult,
    run: _GroupState,
    learned: list[NoiseRule],
    second: _GroupState,
    buffer: list[ev.Event],
) -> None:
    """Compare the first run again with what the second taught; name what the second did not see."""
    comparer = Comparer(dict(run.values), rules=run.comparer.rules + learned)
    diffs: dict[int, list[Difference]] = {}
    for index, replayed in sorted(run.replayed.items()):
        found = _compare(run.rows[index], replayed, run.digests.get(index), comparer)
        twins = {d.path: d for d in second.effect_diffs.get(index, [])}
        found += [
            d
            for d in run.effect_diffs.get(index, [])
            if not (d.path in twins and made_anew(d.old, d.new, twins[d.path].new))
        ]
        if found:
            diffs[index] = found
    steps = {s.exchange_id: s for s in result.steps if s.exchange_id is not None}
    for index in set(run.diffs) | set(diffs):
        exchange_id = run.rows[index]["id"]
        issue = next((i for i in result.issues if i.exchange_id == exchange_id and i.diff), None)
        step = steps.get(exchange_id)
        if issue is None or step is None:
            continue
        if index not in diffs:
            step.passed, step.error = True, None
            _withdraw(result, issue, buffer)
            continue
        seen_twice = {(d.where, d.path) for d in second.diffs.get(index, [])}
        once = [d for d in diffs[index] if (d.where, d.path) not in seen_twice]
        issue.error = step.error = _mismatch(diffs[index]) + (
            f" ({len(once)} of these not seen on a second run from the same state)" if once else ""
        )
        issue.diff = [d.to_dict() for d in diffs[index]]
    run.diffs = diffs
    if run.recorded_database is not None and run.db_diffs:
        run.db_diffs = comparer.tables(run.recorded_database, run.database)
        issue = next((i for i in result.issues if i.step == DATABASE_STEP), None)
        step = next((s for s in result.steps if s.step == DATABASE_STEP), None)
        if issue is not None and not run.db_diffs:
            _withdraw(result, issue, buffer)
            if step is not None:
                step.passed, step.error = True, None
        elif issue is not None:
            _database_issue(issue, run.db_diffs)
            if step is not None:
                step.error = issue.error


def _withdraw(result: JourneyResult, issue: Issue, buffer: list[ev.Event]) -> None:
    result.issues.remove(issue)
    for path in result.paths:
        if issue in path.issues:
            path.issues.remove(issue)
    buffer[:] = [e for e in buffer if not (isinstance(e, ev.IssueFound) and e.issue is issue)]


def _before_path_end(buffer: list[ev.Event]) -> int:
    """Where an issue about the whole path goes: before the path is reported finished."""
    return next((i for i, e in enumerate(buffer) if isinstance(e, ev.PathFinished)), len(buffer))


def _described(rules: list[NoiseRule]) -> tuple[str, ...]:
    return tuple(f"{r.path} of {r.operation}" if r.operation else r.path for r in rules)


def _typed(value: str, location: str) -> Any:
    """A produced value with its JSON type back (an id stays an int)."""
    if location.startswith("body:") and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value
