"""The screens: runs, a run's tree, a step, issues by fingerprint, a recording's sessions."""

from __future__ import annotations

import json
import re
import shlex
import time
from getpass import getuser
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Static, Tree
from textual.worker import Worker, WorkerState

from replayqa.execute import rerun
from replayqa.record.storage import Recording, accept_baseline, add_noise_rules
from replayqa.replay import operation_of
from replayqa.store import RunStore

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


class FilteredTable:
    """Rows kept aside so a filter (``/``) can narrow a table as the user types, case-insensitively."""

    filter_table = ""
    AUTO_FOCUS: ClassVar[str | None] = "DataTable"  # not the filter field, hidden until "/"

    def set_rows(self, rows: list[tuple[str, tuple[Any, ...]]]) -> None:
        self._rows = rows
        self.apply_filter()

    def apply_filter(self) -> None:
        screen: Any = self
        needle = screen.query_one("#filter", Input).value.lower() if screen.query("#filter") else ""
        table = screen.query_one(f"#{self.filter_table}", DataTable)
        table.clear()
        for key, cells in getattr(self, "_rows", []):
            if not needle or needle in " ".join(str(c) for c in cells).lower():
                table.add_row(*cells, key=key)

    def action_filter(self) -> None:
        screen: Any = self
        field = screen.query_one("#filter", Input)
        field.add_class("visible")
        field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.apply_filter()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        screen: Any = self
        screen.query_one(f"#{self.filter_table}", DataTable).focus()


class RunsScreen(FilteredTable, Screen[None]):
    BINDINGS = [
        Binding("i", "issues", "Issues"),
        Binding("slash", "filter", "Filter"),
        Binding("q", "app.quit", "Quit"),
    ]
    filter_table = "runs"

    def __init__(self, store: RunStore) -> None:
        super().__init__()
        self.store = store

    def compose(self) -> ComposeResult:
        yield Static("replayqa · runs", id="title")
        yield Input(placeholder="filter", id="filter")
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Static("enter: open a run", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("when", "result", "paths", "issues", "run")
        rows = []
        for run in self.store.runs():
            result = Text("passed", "green") if run["passed"] else Text("failed", "red")
            cells = (
                _when(run["started_at"]),
                result,
                f"{run['paths_passed']}/{run['paths']}",
                str(run["issues"]),
                run["run_id"],
            )
            rows.append((run["run_id"], cells))
        self.set_rows(rows)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(RunScreen(self.store, str(event.row_key.value)))

    def action_issues(self) -> None:
        self.app.push_screen(IssuesScreen(self.store))


class RunScreen(Screen[None]):
    """A run's tree: journey → path → steps, with pass/fail/known/flaky marks."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("i", "issues", "Issues"),
        Binding("e", "rerun", "Re-run journey"),
    ]

    def __init__(self, store: RunStore, run_id: str) -> None:
        super().__init__()
        self.store, self.run_id = store, run_id

    def compose(self) -> ComposeResult:
        yield Static(f"run {self.run_id}", id="title")
        yield Tree(self.run_id, id="tree")
        yield Footer()

    def on_mount(self) -> None:
        tree: Tree[dict[str, Any]] = self.query_one(Tree)
        tree.root.expand()
        issues = {(i["journey"], i["path"], i["step"]): i for i in self.store.issues(self.run_id)}
        journeys: dict[str, Any] = {}
        paths: dict[tuple[str, str], Any] = {}
        for step in self.store.steps(self.run_id):
            journey = journeys.get(step["journey"]) or journeys.setdefault(
                step["journey"], tree.root.add(step["journey"], expand=True)
            )
            key = (step["journey"], step["path"])
            path = paths.get(key) or paths.setdefault(key, journey.add(step["path"], expand=True))
            issue = issues.get((step["journey"], step["path"], step["step"]))
            state = "passed" if step["passed"] else (issue or {}).get("status", "new")
            mark = MARKS.get(state, MARKS["failed"])
            style = "green" if step["passed"] else ("yellow" if state in ("known", "flaky") else "red")
            path.add_leaf(Text(f"{mark} {step['step']}", style=style), data={"step": step, "issue": issue})

    def on_tree_node_selected(self, event: Tree.NodeSelected[dict[str, Any]]) -> None:
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
        ran_at = next((r.get("base_url") for r in self.store.runs() if r["run_id"] == self.run_id), None)
        settings = self.app.settings  # type: ignore[attr-defined]
        self.run_worker(
            lambda: rerun(step["source"], step["journey"], settings, ran_at or None),
            thread=True,
            name="rerun",
            exit_on_error=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
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
        step = self.step["step"]
        if not step.startswith("#"):
            return None
        exchange_id = int(step[1:].split(" ", 1)[0])
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
        step = self.step["step"]
        if recording is None or response is None or not step.startswith("#"):
            self.notify("only a replayed response can become the baseline", severity="warning")
            return
        exchange_id = int(step[1:].split(" ", 1)[0])

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
            self.app.copy_to_clipboard(command)
            self.app.last_copied = command  # type: ignore[attr-defined]
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


class IssuesScreen(FilteredTable, Screen[None]):
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
    filter_table = "issues"

    def __init__(self, store: RunStore) -> None:
        super().__init__()
        self.store = store

    def compose(self) -> ComposeResult:
        yield Static("issues by fingerprint", id="title")
        yield Input(placeholder="filter", id="filter")
        yield DataTable(id="issues", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="detail"):
            yield Static(id="issue-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_rows()

    def refresh_rows(self) -> None:
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        if not table.columns:
            table.add_columns("status", "seen", "last", "fingerprint", "where")
        known = {r.fingerprint: r.status for r in self.store.known_rules()}
        known |= {fingerprint: "fixed" for fingerprint in self.store.resolutions()}
        rows = []
        for row in self.store.occurrences():
            status = known.get(row["fingerprint"], "new")
            cells = (
                Text(status, "yellow" if status != "new" else "red"),
                f"{row['occurrences']}×",
                _when(row["last_seen"]),
                row["fingerprint"],
                row["latest_where"],
            )
            rows.append((row["fingerprint"], cells))
        self.set_rows(rows)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))

    def _selected(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        issue = self.store.latest_issue(str(event.row_key.value))
        detail = self.query_one("#issue-detail", Static)
        if issue is None:
            detail.update("")
            return
        seen = next(
            (r for r in self.store.occurrences() if r["fingerprint"] == str(event.row_key.value)), None
        )
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
            self.refresh_rows()
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


class RecordingScreen(FilteredTable, Screen[None]):
    """A recording's sessions and the selected one's exchanges; it follows a file still being written."""

    BINDINGS = [
        Binding("q", "app.quit", "Quit"),
        Binding("r", "reload", "Reload"),
        Binding("slash", "filter", "Filter"),
    ]
    filter_table = "exchanges"

    def __init__(self, path: Path, follow_every: float = 1.0) -> None:
        super().__init__()
        self.path = path
        self.follow_every = follow_every
        self._seen: tuple[float, ...] = ()
        self._session: int | None = None
        self._exhausted = False

    def compose(self) -> ComposeResult:
        yield Static(f"recording {self.path.name}", id="title")
        yield DataTable(id="sessions", cursor_type="row")
        yield Input(placeholder="filter exchanges", id="filter")
        yield DataTable(id="exchanges", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#sessions", DataTable).add_columns("session", "exchanges", "identity", "ended")
        self.query_one("#exchanges", DataTable).add_columns("#", "method", "status", "path", "operation")
        self.action_reload()
        self.set_interval(self.follow_every, self._follow)

    def _stamp(self) -> tuple[float, ...]:
        return tuple(p.stat().st_mtime for p in (self.path, Path(f"{self.path}-wal")) if p.exists())

    def _follow(self) -> None:
        """A recording that ``replayqa record`` is still writing grows: show what arrived."""
        if self._stamp() != self._seen:
            self.action_reload()

    def action_reload(self) -> None:
        self._seen = self._stamp()
        recording = Recording.open(self.path)
        try:
            sessions = recording.sessions()
        finally:
            recording.close()
        table = self.query_one("#sessions", DataTable)
        cursor = table.cursor_row
        table.clear()
        for session in sessions:
            table.add_row(
                session["name"],
                str(session["exchange_count"]),
                session["identity"],
                session["end_reason"] or "open",
                key=str(session["id"]),
            )
        if table.row_count:
            table.move_cursor(row=min(max(cursor, 0), table.row_count - 1))
        if self._session is not None:
            self._show_exchanges(self._session)

    PAGE = 500

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "sessions":
            self._show_exchanges(int(str(event.row_key.value)))
        elif event.cursor_row >= event.data_table.row_count - 20 and self._session is not None:
            self._load_page()  # near the end of what is loaded: load the next page

    def _show_exchanges(self, session_id: int) -> None:
        self._session = session_id
        self._rows = []
        self._exhausted = False
        self._load_page()

    def _load_page(self) -> None:
        """Exchanges arrive a page at a time, so a session of 100k opens as fast as one of 100."""
        if self._exhausted or self._session is None:
            return
        recording = Recording.open(self.path)
        try:
            page = recording.exchange_page(self._session, len(self._rows), self.PAGE)
        finally:
            recording.close()
        self._exhausted = len(page) < self.PAGE
        new = [
            (
                str(r["id"]),
                (str(r["id"]), r["method"], str(r["status"] or "ERR"), r["path"], r["operation"] or ""),
            )
            for r in page
        ]
        first_page = not self._rows
        self._rows.extend(new)
        if first_page or self.query_one("#filter", Input).value:
            self.apply_filter()
        else:  # appending keeps the cursor where it is
            table = self.query_one("#exchanges", DataTable)
            for key, cells in new:
                table.add_row(*cells, key=key)
