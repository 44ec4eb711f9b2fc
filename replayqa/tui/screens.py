"""The screens: runs, a run's tree, a step, issues by fingerprint, a recording's sessions."""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Iterator
from contextlib import contextmanager
from getpass import getuser
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Static, Tree
from textual.worker import Worker, WorkerState

from replayqa.execute import rerun
from replayqa.model import IssueStatus
from replayqa.record.storage import Recording, accept_baseline, add_noise_rules
from replayqa.replay import operation_of
from replayqa.store import RunStore
from replayqa.tui.widgets import FilterableTable, sync_rows

MARKS = {"passed": "✓", "failed": "✗", "known": "≈", "flaky": "~"}


def _when(timestamp: float | None) -> str:
    return time.strftime("%m-%d %H:%M", time.localtime(timestamp)) if timestamp else "-"


def _body(text: str | None) -> Syntax | Text:
    if not text:
        return Text("(no body)", style="dim")
    try:
        return Syntax(json.dumps(json.loads(text), indent=2, ensure_ascii=False), "json", word_wrap=True)
    except ValueError:
        return Text(text[:5000])


def exchange_view(request: dict[str, Any] | None, response: dict[str, Any] | None, title: str = "") -> Group:
    parts: list[Any] = [Text(title, style="bold")] if title else []
    if request:
        head = f"{request['method']} {request['url']}"
        parts += [Text(head, style="bold cyan")]
        parts += [Text(f"{k}: {v}", style="dim") for k, v in (request.get("headers") or {}).items()]
        if request.get("body"):
            parts.append(_body(request["body"]))
    if response:
        parts += [Text(f"\n→ {response['status']}", style="bold magenta")]
        parts += [Text(f"{k}: {v}", style="dim") for k, v in (response.get("headers") or {}).items()]
        parts.append(_body(response.get("body")))
    return Group(*parts)


def _noise_path(difference: dict[str, Any]) -> str:
    path = re.sub(r"\[\d+\]", "[*]", str(difference["path"]))
    if difference["where"] == "header":
        return f"header:{path}"
    if difference["where"] == "db":
        table, _, rest = path.partition("/")
        return f"db:{table}.{rest.rpartition('/')[2]}"
    return path


def curl(request: dict[str, Any]) -> str:
    """The request as a curl command (already redacted, as stored)."""
    parts = ["curl", "-X", request["method"], shlex.quote(request["url"])]
    for name, value in (request.get("headers") or {}).items():
        if name.lower() not in ("content-length", "host", "accept-encoding", "connection"):
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if request.get("body"):
        parts += ["--data", shlex.quote(request["body"])]
    return " ".join(parts)


@contextmanager
def reading(store: RunStore) -> Iterator[RunStore]:
    """The store on a connection of the calling worker thread's own.

    sqlite3 connections stay in the thread that opened them, and the UI
    thread's connection is the one the screens write with (marks).
    """
    own = RunStore(store.path)
    try:
        yield own
    finally:
        own.db.close()


class RunsScreen(Screen[None]):
    """Every run, newest first; opens the latest run on its first failure when asked to."""

    BINDINGS = [
        Binding("i", "issues", "Issues"),
        Binding("slash", "filter", "Filter"),
        Binding("q", "app.quit", "Quit"),
    ]
    AUTO_FOCUS = "DataTable"

    class Loaded(Message):
        def __init__(self, runs: list[dict[str, Any]]) -> None:
            super().__init__()
            self.runs = runs

    def __init__(self, store: RunStore, open_first_failure: bool = False) -> None:
        super().__init__()
        self.store = store
        self.open_first_failure = open_first_failure

    def compose(self) -> ComposeResult:
        yield Static("replayqa · runs", id="title")
        yield FilterableTable("when", "result", "paths", "issues", "run", id="runs")
        yield Static("enter: open a run", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        with reading(self.store) as store:
            self.post_message(self.Loaded(store.runs()))

    @on(Loaded)
    def _show(self, message: Loaded) -> None:
        rows = []
        for run in message.runs:
            result = Text("passed", "green") if run["passed"] else Text("failed", "red")
            cells = (
                _when(run["started_at"]),
                result,
                f"{run['paths_passed']}/{run['paths']}",
                str(run["issues"]),
                run["run_id"],
            )
            rows.append((run["run_id"], cells))
        self.query_one(FilterableTable).set_rows(rows)
        latest = message.runs[0] if message.runs else None
        if self.open_first_failure and latest and not latest["passed"] and self.is_current:
            self.app.push_screen(RunScreen(self.store, latest["run_id"], at_first_failure=True))
        self.open_first_failure = False  # once: coming back here shows the list

    @on(DataTable.RowSelected, "#runs")
    def _open_run(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(RunScreen(self.store, str(event.row_key.value)))

    def action_filter(self) -> None:
        self.query_one(FilterableTable).open_filter()

    def action_issues(self) -> None:
        self.app.push_screen(IssuesScreen(self.store))


class RunScreen(Screen[None]):
    """A run's tree: journey → path → steps, with pass/fail/known/flaky marks."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("i", "issues", "Issues"),
        Binding("e", "rerun", "Re-run journey"),
    ]

    class Loaded(Message):
        def __init__(
            self, steps: list[dict[str, Any]], issues: list[dict[str, Any]], base_url: str | None
        ) -> None:
            super().__init__()
            self.steps, self.issues, self.base_url = steps, issues, base_url

    def __init__(self, store: RunStore, run_id: str, at_first_failure: bool = False) -> None:
        super().__init__()
        self.store, self.run_id = store, run_id
        self.at_first_failure = at_first_failure
        self.base_url: str | None = None  # the app this run went to, where a re-run goes too

    def compose(self) -> ComposeResult:
        yield Static(f"run {self.run_id}", id="title")
        yield Tree(self.run_id, id="tree")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Tree).root.expand()
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        with reading(self.store) as store:
            ran_at = next((r.get("base_url") for r in store.runs() if r["run_id"] == self.run_id), None)
            self.post_message(self.Loaded(store.steps(self.run_id), store.issues(self.run_id), ran_at))

    @on(Loaded)
    def _show(self, message: Loaded) -> None:
        self.base_url = message.base_url
        tree: Tree[dict[str, Any]] = self.query_one(Tree)
        issues = {(i["journey"], i["path"], i["step"]): i for i in message.issues}
        journeys: dict[str, Any] = {}
        paths: dict[tuple[str, str], Any] = {}
        first_failure = None
        for step in message.steps:
            journey = journeys.get(step["journey"]) or journeys.setdefault(
                step["journey"], tree.root.add(step["journey"], expand=True)
            )
            key = (step["journey"], step["path"])
            path = paths.get(key) or paths.setdefault(key, journey.add(step["path"], expand=True))
            issue = issues.get((step["journey"], step["path"], step["step"]))
            state = "passed" if step["passed"] else (issue or {}).get("status", "new")
            mark = MARKS.get(state, MARKS["failed"])
            style = "green" if step["passed"] else ("yellow" if state in ("known", "flaky") else "red")
            leaf = path.add_leaf(
                Text(f"{mark} {step['step']}", style=style), data={"step": step, "issue": issue}
            )
            if first_failure is None and not step["passed"]:
                first_failure = leaf
        if self.at_first_failure and first_failure is not None:
            tree.call_after_refresh(tree.move_cursor, first_failure)

    @on(Tree.NodeSelected)
    def _open_step(self, event: Tree.NodeSelected[dict[str, Any]]) -> None:
        if event.node.data:
            self.app.push_screen(StepScreen(self.store, event.node.data["step"], event.node.data["issue"]))

    def action_rerun(self) -> None:
        """Run the selected step's journey again against the configured app, in a worker thread."""
        node = self.query_one(Tree).cursor_node
        step = node.data["step"] if node is not None and node.data else None
        if not step or not step.get("source"):
            self.notify("select a step of the journey to re-run", severity="warning")
            return
        self.notify(f"re-running {step['journey']}…")
        # against the app this run went to; secrets from replayqa.toml or REPLAYQA_SECRET_* variables
        ran_at = self.base_url
        settings = self.app.settings  # type: ignore[attr-defined]
        self.run_worker(
            lambda: rerun(step["source"], step["journey"], settings, ran_at or None, step.get("sessions")),
            thread=True,
            name="rerun",
            exit_on_error=False,
        )

    @on(Worker.StateChanged)
    def _rerun_finished(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "rerun":
            return
        if event.state == WorkerState.SUCCESS and event.worker.result is not None:
            result = event.worker.result
            verdict = "passed" if result.passed else f"{len(result.issues)} issues"
            self.notify(f"re-run {result.run_id}: {verdict}")
        elif event.state == WorkerState.ERROR:
            self.notify(str(event.worker.error), severity="error")

    def action_issues(self) -> None:
        self.app.push_screen(IssuesScreen(self.store))


class StepScreen(Screen[None]):
    """One step: request and response (recorded and replayed side by side for replays), and its issue."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("c", "copy_curl", "Copy as curl"),
        Binding("x", "mark_noise", "Noise"),
        Binding("a", "accept", "Accept baseline"),
        Binding("d", "diff", "Diff"),
    ]

    def __init__(self, store: RunStore, step: dict[str, Any], issue: dict[str, Any] | None) -> None:
        super().__init__()
        self.store, self.step, self.issue = store, step, issue

    def compose(self) -> ComposeResult:
        yield Static(f"{self.step['journey']} › {self.step['path']} › {self.step['step']}", id="title")
        exchange = self.step.get("exchange") or {}
        parts: list[Any] = []
        if self.issue:
            parts.append(Text(f"{self.issue['error']}\n", style="bold red"))
            parts.append(Text(f"Suggestion: {self.issue['suggestion']}\n", style="italic"))
            for difference in self.issue.get("diff") or []:
                parts.append(
                    Text(
                        f"  {difference['where']} {difference['path']}: {difference['kind']} "
                        f"{json.dumps(difference.get('old'))} → {json.dumps(difference.get('new'))}"
                    )
                )
            if self.issue.get("expected"):
                parts.append(exchange_view(None, self.issue["expected"], "\nRecorded"))
        timing = f"{self.step.get('duration_ms') or 0:.0f} ms"
        if (self.step.get("attempts") or 1) > 1:
            timing += f", {self.step['attempts']} attempts"
        parts.append(
            exchange_view(
                exchange.get("request"), exchange.get("response"), f"\nSent and received ({timing})"
            )
        )
        if self.issue and self.issue.get("logs"):
            parts.append(Text("\nApp log", style="bold"))
            parts += [Text(line, style="dim") for line in self.issue["logs"]]
        with VerticalScroll(id="detail"):
            yield Static(Group(*parts))
        yield Footer()

    def action_diff(self) -> None:
        if self.issue and self.issue.get("expected"):
            self.app.push_screen(DiffScreen(self.issue))
        else:
            self.notify("a diff needs a replay's recorded response", severity="warning")

    def _recording(self) -> Path | None:
        """The recording a replay issue came from, if it still exists."""
        source = (self.issue or {}).get("source")
        return Path(source) if source and Path(source).is_file() else None

    def action_mark_noise(self) -> None:
        """Every field this replay found changed becomes a noise rule kept with the recording."""
        recording = self._recording()
        diff = (self.issue or {}).get("diff") or []
        if recording is None or not diff:
            self.notify("only a replay's differences can be marked as noise", severity="warning")
            return
        reason = f"marked noise in replayqa tui by {getuser()}"
        # A rule for a response field holds for this step's operation only: the same field of
        # another endpoint may carry a real change. A whole row added or removed is no field.
        operation = self._operation(recording)
        rules = [
            {"path": _noise_path(d), "operation": None if d["where"] == "db" else operation, "reason": reason}
            for d in diff
            if d["where"] != "db" or d["kind"] == "changed"
        ]
        if not rules:
            self.notify("no changed field here to mark as noise", severity="warning")
            return
        count = add_noise_rules(recording, rules)
        self.notify(f"{len(rules)} noise rules written to {recording.name} ({count} in all)")

    def _operation(self, recording: Path) -> str | None:
        """The recorded exchange's operation, as replay matches rules against it."""
        exchange_id = self.step.get("exchange_id")
        if exchange_id is None:
            return None
        opened = Recording.open(recording)
        try:
            row = next((e for e in opened.exchanges() if e["id"] == exchange_id), None)
        finally:
            opened.close()
        return operation_of(row) if row else None

    def action_accept(self) -> None:
        """The replayed response becomes the recorded one: the next replay compares with it."""
        recording = self._recording()
        response = (self.issue or {}).get("response")
        exchange_id = self.step.get("exchange_id")
        if recording is None or response is None or exchange_id is None:
            self.notify("only a replayed response can become the baseline", severity="warning")
            return

        def accept(confirmed: bool | None) -> None:
            if confirmed:
                accept_baseline(recording, exchange_id, response, getuser())
                self.notify(f"baseline updated in {recording.name}")

        if int(response.get("status") or 0) >= 500:  # a server error is rarely the intended behaviour
            question = f"Accept a {response['status']} server error as the expected answer?"
            self.app.push_screen(ConfirmScreen(question), accept)
        else:
            accept(True)

    def action_copy_curl(self) -> None:
        request = (self.step.get("exchange") or {}).get("request")
        if request:
            command = curl(request)
            self.app.copy_to_clipboard(command)  # OSC 52: the terminal's clipboard, over ssh too
            self.notify("request copied as curl")


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; dismissed with the answer."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        yield Static(f"{self.question}\n\n[b]y[/b] yes   [b]n[/b] no", id="confirm")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class DiffScreen(Screen[None]):
    """Recorded and replayed side by side, the lines that changed highlighted; the database diff below."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, issue: dict[str, Any]) -> None:
        super().__init__()
        self.issue = issue

    def compose(self) -> ComposeResult:
        yield Static(f"diff · {self.issue['journey']} › {self.issue['step']}", id="title")
        changed = {_last_key(d["path"]) for d in self.issue.get("diff") or [] if d["where"] != "db"}
        with Horizontal(id="sides"):
            with VerticalScroll(classes="side"):
                yield Static(_side("recorded", self.issue.get("expected"), changed, "red"))
            with VerticalScroll(classes="side"):
                yield Static(_side("replayed", self.issue.get("response"), changed, "green"))
        database = [d for d in self.issue.get("diff") or [] if d["where"] == "db"]
        if database:
            lines = [
                f"{d['path']}: {d['kind']} {json.dumps(d.get('old'))} → {json.dumps(d.get('new'))}"
                for d in database
            ]
            yield Static(Text("database\n" + "\n".join(lines)), id="db-diff")
        yield Footer()


def _last_key(path: str) -> str:
    return re.split(r"[.\[]", path.rstrip("]"))[-1]


def _side(title: str, response: dict[str, Any] | None, changed: set[str], colour: str) -> Text:
    text = Text(f"{title}: {response['status'] if response else '—'}\n", style="bold")
    if not response:
        return text
    try:
        lines = json.dumps(json.loads(response.get("body") or ""), indent=2, ensure_ascii=False).splitlines()
    except ValueError:
        lines = (response.get("body") or "").splitlines()
    for line in lines:
        key = line.strip().split(":", 1)[0].strip('"')
        text.append(line + "\n", style=f"bold {colour}" if key in changed else "")
    return text


class IssuesScreen(Screen[None]):
    """Issues grouped by fingerprint, with counts; mark known, flaky or new; export one as Markdown."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("k", "mark('known')", "Known"),
        Binding("f", "mark('flaky')", "Flaky"),
        Binding("n", "mark('new')", "New"),
        Binding("r", "mark('fixed')", "Fixed"),
        Binding("e", "export", "Export .md"),
        Binding("slash", "filter", "Filter"),
    ]
    AUTO_FOCUS = "DataTable"

    class Loaded(Message):
        def __init__(self, occurrences: list[dict[str, Any]], statuses: dict[str, IssueStatus]) -> None:
            super().__init__()
            self.occurrences, self.statuses = occurrences, statuses

    class DetailLoaded(Message):
        def __init__(
            self, fingerprint: str, issue: dict[str, Any] | None, seen: dict[str, Any] | None
        ) -> None:
            super().__init__()
            self.fingerprint, self.issue, self.seen = fingerprint, issue, seen

    def __init__(self, store: RunStore) -> None:
        super().__init__()
        self.store = store

    def compose(self) -> ComposeResult:
        yield Static("issues by fingerprint", id="title")
        yield FilterableTable("status", "seen", "last", "fingerprint", "where", id="issues")
        with VerticalScroll(id="detail"):
            yield Static(id="issue-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="rows")
    def load(self) -> None:
        with reading(self.store) as store:
            statuses = {r.fingerprint: r.status for r in store.known_rules() if r.fingerprint}
            statuses |= {fingerprint: IssueStatus.FIXED for fingerprint in store.resolutions()}
            self.post_message(self.Loaded(store.occurrences(), statuses))

    @on(Loaded)
    def _show(self, message: Loaded) -> None:
        rows = []
        for row in message.occurrences:
            status = message.statuses.get(row["fingerprint"], IssueStatus.NEW)
            cells = (
                Text(status, "yellow" if status != IssueStatus.NEW else "red"),
                f"{row['occurrences']}×",
                _when(row["last_seen"]),
                row["fingerprint"],
                row["latest_where"],
            )
            rows.append((row["fingerprint"], cells))
        self.query_one(FilterableTable).set_rows(rows)

    def action_filter(self) -> None:
        self.query_one(FilterableTable).open_filter()

    def _selected(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    @on(DataTable.RowHighlighted, "#issues")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.load_detail(str(event.row_key.value))

    @work(thread=True, exclusive=True, group="detail")
    def load_detail(self, fingerprint: str) -> None:
        with reading(self.store) as store:
            issue = store.latest_issue(fingerprint)
            seen = next((r for r in store.occurrences() if r["fingerprint"] == fingerprint), None)
        self.post_message(self.DetailLoaded(fingerprint, issue, seen))

    @on(DetailLoaded)
    def _show_detail(self, message: DetailLoaded) -> None:
        if message.fingerprint != self._selected():
            return  # the cursor moved on while this one loaded
        detail = self.query_one("#issue-detail", Static)
        issue, seen = message.issue, message.seen
        if issue is None:
            detail.update("")
            return
        history = (
            f"seen {seen['occurrences']}× in {seen['runs']} runs, first {_when(seen['first_seen'])}, "
            f"last {_when(seen['last_seen'])}"
            if seen
            else ""
        )
        parts: list[Any] = [
            Text(issue["error"], style="bold"),
            Text(history, style="dim"),
            Text(f"Suggestion: {issue['suggestion']}"),
        ]
        parts.append(exchange_view(issue.get("request"), issue.get("response")))
        parts += [Text(line, style="dim") for line in issue.get("logs") or []]
        detail.update(Group(*parts))

    def action_mark(self, status: str) -> None:
        fingerprint = self._selected()
        if fingerprint:
            self.store.mark(fingerprint, status, reason=f"marked {status} in replayqa tui")
            self.load()
            self.notify(f"{fingerprint} is now {status}")

    def action_export(self) -> None:
        fingerprint = self._selected()
        issue = self.store.latest_issue(fingerprint) if fingerprint else None
        if issue is None:
            return
        path = Path(f"issue-{fingerprint}.md")
        lines = [
            f"# {issue['journey']} › {issue['path']} › {issue['step']}",
            "",
            f"- Fingerprint: `{fingerprint}`",
            f"- Error: {issue['error']}",
            f"- Suggestion: {issue['suggestion']}",
            "",
        ]
        if issue.get("request"):
            lines += ["```", curl(issue["request"]), "```", ""]
        if issue.get("response"):
            lines += [
                f"Response: {issue['response']['status']}",
                "",
                "```",
                issue["response"].get("body") or "",
                "```",
            ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.notify(f"written to {path}")


class RecordingScreen(Screen[None]):
    """A recording's sessions and the selected one's exchanges; it follows a file still being written.

    Exchanges arrive a page at a time as the cursor nears the end of what is
    loaded, so a session of 100k opens as fast as one of 100. Following a
    recording that grows keeps the cursor, the scroll position and the pages
    loaded: only changed cells are updated and new rows appended.
    """

    BINDINGS = [
        Binding("q", "app.quit", "Quit"),
        Binding("r", "reload", "Reload"),
        Binding("slash", "filter", "Filter"),
    ]
    AUTO_FOCUS = "DataTable"
    PAGE = 500

    session: reactive[int | None] = reactive(None, init=False)

    class SessionsLoaded(Message):
        def __init__(self, stamp: tuple[float, ...], sessions: list[dict[str, Any]]) -> None:
            super().__init__()
            self.stamp, self.sessions = stamp, sessions

    class ExchangesLoaded(Message):
        """Exchanges of ``session`` from ``offset`` on; ``exhausted`` when the session has no more."""

        def __init__(self, session: int, offset: int, rows: list[dict[str, Any]], exhausted: bool) -> None:
            super().__init__()
            self.session, self.offset, self.rows, self.exhausted = session, offset, rows, exhausted

    def __init__(self, path: Path, follow_every: float = 1.0) -> None:
        super().__init__()
        self.path = path
        self.follow_every = follow_every
        self._seen: tuple[float, ...] = ()
        self._exhausted = False
        self._loading = False  # a page is on its way: one at a time

    def compose(self) -> ComposeResult:
        yield Static(f"recording {self.path.name}", id="title")
        yield DataTable(id="sessions", cursor_type="row")
        yield FilterableTable(
            "#", "method", "status", "path", "operation", id="exchanges", placeholder="filter exchanges"
        )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#sessions", DataTable).add_columns("session", "exchanges", "identity", "ended")
        self.action_reload()
        self.set_interval(self.follow_every, self._follow)

    @property
    def _exchanges(self) -> FilterableTable:
        return self.query_one(FilterableTable)

    def _stamp(self) -> tuple[float, ...]:
        return tuple(p.stat().st_mtime for p in (self.path, Path(f"{self.path}-wal")) if p.exists())

    def action_reload(self) -> None:
        self.load(True, self.session, len(self._exchanges.rows), self._exhausted)

    def action_filter(self) -> None:
        self._exchanges.open_filter()

    def _follow(self) -> None:
        """A recording that ``replayqa record`` is still writing grows: show what arrived."""
        self.load(False, self.session, len(self._exchanges.rows), self._exhausted)

    @work(thread=True, exclusive=True, group="sessions")
    def load(self, force: bool, session: int | None, loaded: int, exhausted: bool) -> None:
        """The sessions and, for the session shown, the last page loaded and what follows it."""
        stamp = self._stamp()
        if not force and stamp == self._seen:
            return
        recording = Recording.open(self.path)
        try:
            self.post_message(self.SessionsLoaded(stamp, recording.sessions()))
            if session is not None:
                # re-read the last page: a response may have arrived for an exchange
                # already listed; past the end only if the user has reached the end
                offset = max(0, loaded - self.PAGE)
                limit = loaded - offset + (self.PAGE if exhausted or not loaded else 0)
                page = recording.exchange_page(session, offset, limit) if limit else []
                self.post_message(self.ExchangesLoaded(session, offset, page, len(page) < limit))
        finally:
            recording.close()

    @work(thread=True, exclusive=True, group="page")
    def load_page(self, session: int, offset: int) -> None:
        recording = Recording.open(self.path)
        try:
            page = recording.exchange_page(session, offset, self.PAGE)
        finally:
            recording.close()
        self.post_message(self.ExchangesLoaded(session, offset, page, len(page) < self.PAGE))

    @on(SessionsLoaded)
    def _show_sessions(self, message: SessionsLoaded) -> None:
        self._seen = message.stamp
        rows = [
            (
                str(s["id"]),
                (s["name"], str(s["exchange_count"]), s["identity"], s["end_reason"] or "open"),
            )
            for s in message.sessions
        ]
        sync_rows(self.query_one("#sessions", DataTable), rows)

    @on(DataTable.RowHighlighted, "#sessions")
    def _session_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.session = int(str(event.row_key.value))

    def watch_session(self, session: int | None) -> None:
        self._exhausted = False
        self._exchanges.set_rows([])
        if session is not None:
            self._loading = True
            self.load_page(session, 0)

    @on(DataTable.RowHighlighted, "#exchanges")
    def _exchange_highlighted(self, event: DataTable.RowHighlighted) -> None:
        near_the_end = event.cursor_row >= event.data_table.row_count - 20
        if near_the_end and not self._exhausted and not self._loading and self.session is not None:
            self._loading = True
            self.load_page(self.session, len(self._exchanges.rows))

    @on(ExchangesLoaded)
    def _show_exchanges(self, message: ExchangesLoaded) -> None:
        if message.session != self.session:
            return  # for a session no longer shown
        self._loading = False
        if message.offset > len(self._exchanges.rows):
            return  # past what is loaded: overtaken by a newer load
        rows = [
            (
                str(r["id"]),
                (str(r["id"]), r["method"], str(r["status"] or "ERR"), r["path"], r["operation"] or ""),
            )
            for r in message.rows
        ]
        kept = self._exchanges.rows[: message.offset]
        beyond = self._exchanges.rows[message.offset + len(rows) :]  # a page loaded meanwhile
        if not beyond:  # a re-read of an earlier page says nothing about the end a later one reached
            self._exhausted = message.exhausted
        self._exchanges.set_rows(kept + rows + beyond)
