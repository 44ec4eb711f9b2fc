"""The triage TUI, driven with Textual's Pilot: every screen opens, every action has its effect."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from textual.coordinate import Coordinate
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
from replayqa.tui.screens import IssuesScreen, RecordingScreen, RunScreen, RunsScreen, StepScreen
from replayqa.tui.widgets import FilterableTable
from tests.support.pilot import settle

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
    app = TriageApp(store, open_first_failure=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1
        await pilot.press("enter")
        assert isinstance(app.screen, RunScreen)
        await settle(pilot)
        tree = app.screen.query_one(Tree)
        leaves = [str(node.label) for node in tree.root.children[0].children[1].children]
        assert leaves == ["✗ cart_kept"]
        for _ in range(5):
            await pilot.press("down")
        await pilot.press("enter")
        assert isinstance(app.screen, StepScreen)
        assert "Sent and received (0 ms)" in text_of(app.screen.query_one("#detail Static", Static))
        await pilot.press("c")
        assert app.clipboard.startswith("curl -X GET http://shop.test/cart")
        assert "Bearer [redacted]" in app.clipboard
        await pilot.press("escape", "escape")
        assert len(app.screen_stack) == 2


async def test_marking_an_issue_known_is_stored_and_honoured(store):
    app = TriageApp(store, open_first_failure=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        assert isinstance(app.screen, IssuesScreen)
        await settle(pilot)
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
    app = TriageApp(store, open_first_failure=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
    (exported,) = tmp_path.glob("issue-*.md")
    text = exported.read_text()
    assert text.startswith("# checkout › declined › cart_kept") and "curl -X GET" in text


async def test_the_recording_browser_lists_sessions_and_their_exchanges():
    app = TriageApp(open_target(RECORDING))
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, RecordingScreen)
        await settle(pilot)
        sessions = app.screen.query_one("#sessions", DataTable)
        assert sessions.row_count == 4
        exchanges = app.screen.query_one("#exchanges", DataTable)
        assert exchanges.row_count == 5  # the first session, highlighted
        await pilot.press("down")
        await settle(pilot)
        assert exchanges.row_count == 6


def test_bad_targets_are_clear_errors(tmp_path):
    from replayqa.errors import ConfigError

    with pytest.raises(ConfigError, match="no file at"):
        open_target(tmp_path / "missing.db")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConfigError, match="not a replayqa run store or recording"):
        open_target(tmp_path / "notes.txt")


def test_snapshot_runs_screen(store, snap_compare):
    assert snap_compare(TriageApp(store, open_first_failure=False), terminal_size=(80, 24), run_before=settle)


def test_snapshot_issues_screen(store, snap_compare):
    async def issues(pilot) -> None:
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)

    assert snap_compare(TriageApp(store, open_first_failure=False), terminal_size=(80, 24), run_before=issues)


def test_snapshot_run_tree(store, snap_compare):
    async def tree(pilot) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(TriageApp(store, open_first_failure=False), terminal_size=(80, 24), run_before=tree)


async def test_filter_narrows_the_issues_as_you_type(store):
    app = TriageApp(store, open_first_failure=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
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
    app = TriageApp(store, open_first_failure=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
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
        await settle(pilot)
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
    app = TriageApp(store, open_first_failure=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        await pilot.press("f")
        await pilot.pause()
        assert [(r.fingerprint, r.status) for r in store.known_rules()] == [(fingerprint, "flaky")]
        await pilot.press("r")
        await pilot.pause()
        assert store.known_rules() == [] and fingerprint in store.resolutions()
        await pilot.press("n")
        await pilot.pause()
        assert store.known_rules() == [] and store.resolutions() == {}


async def test_it_opens_on_the_first_failure_of_the_latest_run(store):
    app = TriageApp(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, RunScreen)
        node = app.screen.query_one(Tree).cursor_node
        assert node is not None and node.data["step"]["step"] == "cart_kept"
        await pilot.press("enter")
        assert isinstance(app.screen, StepScreen)
        assert "total_cents: expected 2400, got 0" in text_of(app.screen.query_one("#detail Static", Static))
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, RunsScreen), "the runs are one key away"


async def test_it_opens_on_the_runs_when_the_latest_run_passed(store):
    passing = fixed_run()
    passing.run_id, passing.started_at = "run-later", 1_790_000_100
    for journey in passing.journeys:
        journey.paths = journey.paths[:1]
        journey.steps, journey.issues = journey.steps[:1], []
    annotate(passing, [])
    store.save(passing, Redactor())
    app = TriageApp(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen)
        assert app.screen.query_one(DataTable).row_count == 2


async def test_following_a_growing_recording_keeps_the_cursor_and_the_loaded_pages(tmp_path):
    from tests.support.big_recording import append_exchanges, big_recording

    path = big_recording(tmp_path / "big.db", 1_200)
    app = TriageApp(path)
    app.follow_every = 0.1
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        sessions = app.screen.query_one("#sessions", DataTable)
        exchanges = app.screen.query_one("#exchanges", DataTable)
        exchanges.focus()
        exchanges.move_cursor(row=495)
        await _until(pilot, lambda: exchanges.row_count == 1_000)

        append_exchanges(path, 1_201, 10)  # past the pages loaded: only the session's count shows it
        await _until(pilot, lambda: sessions.get_cell_at(Coordinate(0, 1)) == "1210")
        assert sessions.get_cell_at(Coordinate(0, 1)) == "1210"
        assert (exchanges.row_count, exchanges.cursor_row) == (1_000, 495)

        exchanges.move_cursor(row=990)
        await _until(pilot, lambda: exchanges.row_count == 1_210)
        append_exchanges(path, 1_211, 5, status=None)  # the end is reached: new rows appear
        await _until(pilot, lambda: exchanges.row_count == 1_215)
        assert (exchanges.row_count, exchanges.cursor_row) == (1_215, 990)
        assert exchanges.get_cell_at(Coordinate(1_214, 2)) == "ERR"

        with sqlite3.connect(path) as conn:  # a response arrives for an exchange already listed
            conn.execute("UPDATE exchanges SET status = 201 WHERE id = 1215")
        await _until(pilot, lambda: exchanges.get_cell_at(Coordinate(1_214, 2)) == "201")
        assert exchanges.get_cell_at(Coordinate(1_214, 2)) == "201"
        assert (exchanges.row_count, exchanges.cursor_row) == (1_215, 990)


async def test_the_filter_keeps_rows_that_arrive_while_it_is_on(tmp_path):
    from tests.support.big_recording import big_recording

    app = TriageApp(big_recording(tmp_path / "big.db", 600))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        exchanges = app.screen.query_one("#exchanges", DataTable)
        await pilot.press("slash", *"/items/59")
        assert exchanges.row_count == 1  # /items/59 only: 590-599 are not loaded yet
        await pilot.press("enter")
        exchanges.move_cursor(row=0)
        app.screen.query_one(FilterableTable).needle = ""
        assert exchanges.row_count == 500
        exchanges.move_cursor(row=499)
        await _until(pilot, lambda: exchanges.row_count == 600)
        app.screen.query_one(FilterableTable).needle = "/items/59"
        assert exchanges.row_count == 11


async def test_copy_as_curl_goes_to_the_app_clipboard(store):
    app = TriageApp(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "c")
        assert app.clipboard.startswith("curl -X GET http://shop.test/cart -H")
