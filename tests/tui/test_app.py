"""The triage TUI, driven with Textual's Pilot: every screen opens, every action has its effect."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Static, Tree

from replayqa.knowledge import annotate
from replayqa.model import (
    Exchange,
    HttpRequest,
    HttpResponse,
    Issue,
    JourneyResult,
    PathResult,
    RunResult,
    StepResult,
)
from replayqa.redact import Redactor
from replayqa.store import RunStore
from replayqa.tui import TriageApp, open_target
from replayqa.tui.screens import IssuesScreen, RecordingScreen, RunScreen, StepScreen

RECORDING = Path(__file__).resolve().parents[2] / "recordings" / "demo-shop.db"


def fixed_run() -> RunResult:
    """A run with one passing path and one failing step, at a fixed time, so snapshots are stable."""
    request = HttpRequest("GET", "http://shop.test/cart", {"authorization": "Bearer [redacted]"})
    response = HttpResponse(200, {"content-type": "application/json"}, '{"lines": [], "total_cents": 0}')
    ok = StepResult("checkout", "approved", "pay", True, exchange=Exchange(request, response))
    bad = StepResult(
        "checkout",
        "declined",
        "cart_kept",
        False,
        error="total_cents: expected 2400, got 0",
        exchange=Exchange(request, response),
    )
    issue = Issue(
        "checkout",
        "declined",
        "cart_kept",
        "total_cents: expected 2400, got 0",
        request=request,
        response=response,
        logs=["WARNING payment declined for order 1"],
        suggestion="Look at the cart.",
    )
    journey = JourneyResult(
        "checkout",
        [PathResult("checkout", "approved", [ok]), PathResult("checkout", "declined", [bad], [issue])],
        [ok, bad],
        [issue],
    )
    run = RunResult("run-fixed", [journey], started_at=1_790_000_000, base_url="http://shop.test")
    annotate(run, [])
    return run


def text_of(widget: Static) -> str:
    from rich.console import Console

    console = Console(width=100, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(widget.content)
    return console.export_text()


@pytest.fixture
def store(tmp_path, monkeypatch) -> RunStore:
    import time

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", "UTC")  # the screens show local times; snapshots need one zone
    time.tzset()
    made = RunStore(tmp_path / "runs.db")
    made.save(fixed_run(), Redactor())
    return made


async def test_runs_then_tree_then_step_then_copy_as_curl(store):
    app = TriageApp(store)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1
        await pilot.press("enter")
        assert isinstance(app.screen, RunScreen)
        tree = app.screen.query_one(Tree)
        leaves = [str(node.label) for node in tree.root.children[0].children[1].children]
        assert leaves == ["✗ cart_kept"]
        for _ in range(5):
            await pilot.press("down")
        await pilot.press("enter")
        assert isinstance(app.screen, StepScreen)
        assert "Sent and received (0 ms)" in text_of(app.screen.query_one("#detail Static", Static))
        await pilot.press("c")
        assert app.last_copied.startswith("curl -X GET http://shop.test/cart")
        assert "Bearer [redacted]" in app.last_copied
        await pilot.press("escape", "escape")
        assert len(app.screen_stack) == 2


async def test_marking_an_issue_known_is_stored_and_honoured(store):
    app = TriageApp(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("i")
        assert isinstance(app.screen, IssuesScreen)
        detail = text_of(app.screen.query_one("#issue-detail", Static))
        assert "total_cents: expected 2400, got 0" in detail and "payment declined for order 1" in detail
        assert "seen 1× in 1 runs, first 09-21" in detail
        await pilot.press("k")
        await pilot.pause()
    fingerprint = store.occurrences()[0]["fingerprint"]
    assert [(r.fingerprint, r.status) for r in store.known_rules()] == [(fingerprint, "known")]
    again = fixed_run()
    annotate(again, store.known_rules())
    assert again.issues[0].status == "known"


async def test_export_writes_the_issue_as_markdown(store, tmp_path):
    app = TriageApp(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("i", "e")
        await pilot.pause()
    (exported,) = tmp_path.glob("issue-*.md")
    text = exported.read_text()
    assert text.startswith("# checkout › declined › cart_kept") and "curl -X GET" in text


async def test_the_recording_browser_lists_sessions_and_their_exchanges():
    app = TriageApp(open_target(RECORDING))
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, RecordingScreen)
        sessions = app.screen.query_one("#sessions", DataTable)
        assert sessions.row_count == 4
        await pilot.pause()
        exchanges = app.screen.query_one("#exchanges", DataTable)
        assert exchanges.row_count == 5  # the first session, highlighted
        await pilot.press("down")
        await pilot.pause()
        assert exchanges.row_count == 6


def test_bad_targets_are_clear_errors(tmp_path):
    from replayqa.errors import ConfigError

    with pytest.raises(ConfigError, match="no file at"):
        open_target(tmp_path / "missing.db")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConfigError, match="not a replayqa run store or recording"):
        open_target(tmp_path / "notes.txt")


def test_snapshot_runs_screen(store, snap_compare):
    assert snap_compare(TriageApp(store), terminal_size=(80, 24))


def test_snapshot_issues_screen(store, snap_compare):
    assert snap_compare(TriageApp(store), terminal_size=(80, 24), press=["i"])


def test_snapshot_run_tree(store, snap_compare):
    assert snap_compare(TriageApp(store), terminal_size=(80, 24), press=["enter"])


async def test_filter_narrows_the_issues_as_you_type(store):
    app = TriageApp(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("i")
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1
        await pilot.press("slash", *"nothing like it")
        assert table.row_count == 0
        for _ in "nothing like it":
            await pilot.press("backspace")
        await pilot.press(*"cart_kept", "enter")
        assert table.row_count == 1 and app.focused is table


async def test_the_diff_screen_shows_recorded_and_replayed_side_by_side(store):
    issue = store.issues(store.runs()[0]["run_id"])[0]
    issue["expected"] = {"status": 200, "headers": {}, "body": '{"lines": [{"id": 1}], "total_cents": 2400}'}
    issue["diff"] = [
        {"where": "body", "path": "$.total_cents", "kind": "changed", "old": 2400, "new": 0},
        {"where": "db", "path": "carts/1/total_cents", "kind": "changed", "old": 2400, "new": 0},
    ]
    step = store.steps(store.runs()[0]["run_id"])[1]
    app = TriageApp(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(StepScreen(store, step, issue))
        await pilot.press("d")
        from replayqa.tui.screens import DiffScreen

        assert isinstance(app.screen, DiffScreen)
        recorded, replayed = (text_of(w) for w in app.screen.query(".side Static"))
        assert '"total_cents": 2400' in recorded and '"total_cents": 0' in replayed
        assert "carts/1/total_cents: changed 2400 → 0" in text_of(app.screen.query_one("#db-diff", Static))


async def test_the_recording_browser_follows_a_recording_still_being_written(tmp_path):
    from replayqa.record.recorder import Recorder, RecorderSettings
    from replayqa.record.traffic import Body, RequestInfo, ResponseInfo

    recorder = Recorder(RecorderSettings(out=tmp_path / "live.db"))

    def exchange(n: int) -> None:
        request = RequestInfo(
            f"f{n}",
            "10.0.0.1:1",
            "GET",
            "http",
            "shop.test",
            80,
            f"/items/{n}",
            "",
            "HTTP/1.1",
            [],
            Body(),
            float(n),
        )
        recorder.on_request(request)
        recorder.on_response(
            request.flow_id, ResponseInfo(200, "OK", [], Body(b"{}", "application/json"), float(n))
        )

    exchange(1)
    recorder.tick()
    try:
        app = TriageApp(tmp_path / "live.db")
        app.follow_every = 0.2
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.6)
            exchanges = app.screen.query_one("#exchanges", DataTable)
            assert exchanges.row_count == 1
            exchange(2)
            exchange(3)
            recorder.tick()
            await pilot.pause(1.2)  # the writer commits, the screen notices
            assert exchanges.row_count == 3
    finally:
        recorder.close()


async def test_a_large_recording_loads_its_exchanges_a_page_at_a_time(tmp_path):
    from tests.support.big_recording import big_recording

    app = TriageApp(big_recording(tmp_path / "big.db", 1_200))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        exchanges = app.screen.query_one("#exchanges", DataTable)
        assert exchanges.row_count == 500, "only the first page at first"
        exchanges.focus()
        exchanges.move_cursor(row=495)
        await _until(pilot, lambda: exchanges.row_count == 1_000)  # a loaded machine takes longer
        assert exchanges.row_count == 1_000 and exchanges.cursor_row == 495
        exchanges.move_cursor(row=990)
        await _until(pilot, lambda: exchanges.row_count == 1_200)
        assert exchanges.row_count == 1_200


async def _until(pilot, condition, seconds: float = 5.0) -> None:
    """Let the app work until ``condition`` holds or ``seconds`` pass; the caller asserts after."""
    for _ in range(int(seconds / 0.05)):
        await pilot.pause()
        if condition():
            return
        await pilot.pause(0.05)


async def test_flaky_fixed_and_new_marks_from_the_issues_screen(store):
    fingerprint = store.occurrences()[0]["fingerprint"]
    app = TriageApp(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("i", "f")
        await pilot.pause()
        assert [(r.fingerprint, r.status) for r in store.known_rules()] == [(fingerprint, "flaky")]
        await pilot.press("r")
        await pilot.pause()
        assert store.known_rules() == [] and fingerprint in store.resolutions()
        await pilot.press("n")
        await pilot.pause()
        assert store.known_rules() == [] and store.resolutions() == {}
