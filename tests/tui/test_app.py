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
    made.save(fixed_run())
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
