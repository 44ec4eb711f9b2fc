"""The triage loop on a real replay: mark known (honoured by the next replay), accept baseline, mark noise."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from replayqa.demo.bugs import BUGS
from replayqa.demo.server import DemoServer
from replayqa.record.storage import Recording
from replayqa.store import RunStore
from replayqa.tui import TriageApp
from replayqa.tui.screens import IssuesScreen, StepScreen
from tests.support.pilot import settle

RECORDING = Path(__file__).resolve().parents[2] / "recordings" / "demo-shop.db"
ONLY_DECLINED_CART = {"REPLAYQA_DEMO_FIX_ALL": "0", **{b.env: "1" for b in BUGS if b.key != "declined_cart"}}


def replay(cwd: Path, recording: Path, *extra: str) -> tuple[int, dict]:
    with DemoServer(cwd / f"shop-{len(list(cwd.glob('shop-*')))}", env=ONLY_DECLINED_CART) as shop:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "replayqa",
                "replay",
                str(recording),
                "--base-url",
                shop.base_url,
                "--db",
                shop.db_url,
                "--secret",
                "password=admin-pass",
                "--session",
                "declined-payment",
                "--json",
                *extra,
            ],
            cwd=cwd,
            capture_output=True,
            text=True,
            env={**os.environ},
            timeout=120,
        )
    return done.returncode, json.loads(done.stdout)


async def test_known_issues_marked_in_the_tui_pass_the_next_replay(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recording = tmp_path / "demo.db"
    shutil.copy(RECORDING, recording)
    code, summary = replay(tmp_path, recording)
    # the response, and the database effects: one issue per cause (a cart line removed, a total changed)
    assert code == 1 and summary["summary"]["issues"] == 3

    store = RunStore(tmp_path / ".replayqa" / "runs.db")
    app = TriageApp(store, open_first_failure=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        assert isinstance(app.screen, IssuesScreen)
        await settle(pilot)
        await pilot.press("k", "down", "k", "down", "k")
        await pilot.pause()
    assert {r.status for r in store.known_rules()} == {"known"} and len(store.known_rules()) == 3

    code, summary = replay(tmp_path, recording, "--fail-on", "new")
    assert code == 0, "the rules made in the TUI are honoured by the replay's exit code"
    assert {i["status"] for j in summary["journeys"] for i in j["issues"]} == {"known"}


async def test_accepting_a_baseline_and_marking_noise_change_the_recording(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recording = tmp_path / "demo.db"
    shutil.copy(RECORDING, recording)
    code, summary = replay(tmp_path, recording)
    assert code == 1
    store = RunStore(tmp_path / ".replayqa" / "runs.db")
    run_id = store.runs()[0]["run_id"]
    issue = next(i for i in store.issues(run_id) if i["step"] == "#5 GET /cart")
    db_issues = [i for i in store.issues(run_id) if i["kind"] == "db-regression"]  # one per cause
    step = next(s for s in store.steps(run_id) if s["step"] == "#5 GET /cart")

    app = TriageApp(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)  # the runs screen opens the first failure; push after it did
        await app.push_screen(StepScreen(store, step, issue))
        await pilot.press("a")
        await pilot.pause()
        for db_issue in db_issues:
            await app.push_screen(StepScreen(store, {**step, "step": "database effects"}, db_issue))
            await pilot.press("x")
            await pilot.pause()

    opened = Recording.open(recording)
    try:
        meta = opened.meta
        exchange = next(e for e in opened.exchanges() if e["id"] == 5)
    finally:
        opened.close()
    assert [(u["exchange"], u["by"] != "") for u in meta["baseline_updates"]] == [(5, True)]
    assert json.loads(exchange["response_body"])["total_cents"] == 0, (
        "the replayed response is now the recorded one"
    )
    assert [r["path"] for r in meta["noise_rules"]] == ["db:carts.total_cents"]  # a removed row is no field

    code, summary = replay(tmp_path, recording)
    steps_with_issues = {i["step"] for j in summary["journeys"] for i in j["issues"]}
    assert "#5 GET /cart" not in steps_with_issues, "the accepted baseline is what replays compare with now"


async def test_rerunning_a_journey_from_the_tree_adds_a_run(tmp_path, monkeypatch, demo_shop):
    from textual.widgets import Tree

    from replayqa.config import load_settings
    from replayqa.demo.run import journeys_dir
    from replayqa.execute import run_journeys
    from replayqa.loader import load_file
    from replayqa.tui.screens import RunScreen

    monkeypatch.chdir(tmp_path)
    journey_file = tmp_path / "checkout.yaml"
    shutil.copy(journeys_dir() / "checkout_payment.yaml", journey_file)
    (tmp_path / "replayqa.toml").write_text(f'base_url = "{demo_shop.base_url}"\ndb = "{demo_shop.db_url}"\n')
    run_journeys(load_file(journey_file).journeys, load_settings())
    store = RunStore(tmp_path / ".replayqa" / "runs.db")
    assert len(store.runs()) == 1

    app = TriageApp(store, open_first_failure=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        assert isinstance(app.screen, RunScreen)
        await settle(pilot)
        tree = app.screen.query_one(Tree)
        await pilot.press("down", "down", "down")  # journey, path, first step
        assert tree.cursor_node is not None and tree.cursor_node.data is not None
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
    runs = store.runs()
    assert len(runs) == 2 and runs[0]["issues"] == 2  # the same two planted bugs, found again


async def test_rerunning_a_replayed_session_whose_name_holds_a_plus(tmp_path, monkeypatch, demo_shop):
    import sqlite3
    from contextlib import closing

    from textual.widgets import Tree

    from replayqa.config import load_settings
    from replayqa.execute import ReplayOptions, replay_recordings

    monkeypatch.chdir(tmp_path)
    recording = tmp_path / "demo.db"
    shutil.copy(RECORDING, recording)
    with closing(sqlite3.connect(recording)) as conn, conn:
        conn.execute("UPDATE sessions SET name = 'quantity+update' WHERE name = 'quantity-update'")
    (tmp_path / "replayqa.toml").write_text(f'base_url = "{demo_shop.base_url}"\ndb = "{demo_shop.db_url}"\n')
    replay_recordings([recording], load_settings(), ReplayOptions(sessions=("quantity+update",)))
    store = RunStore(tmp_path / ".replayqa" / "runs.db")
    (first,) = store.runs()
    replayed = store.steps(first["run_id"])
    assert replayed and all(s["sessions"] == ["quantity+update"] for s in replayed)

    app = TriageApp(store, open_first_failure=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("down", "down", "down")  # journey, path, first step
        assert app.screen.query_one(Tree).cursor_node.data["step"]["journey"] == "quantity+update"
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
    runs = store.runs()
    assert len(runs) == 2, "the re-run replays the session by its name, not by the parts of it"
    again = store.steps(runs[0]["run_id"])
    assert {s["journey"] for s in again} == {"quantity+update"}
    assert [s["step"] for s in again] == [s["step"] for s in replayed]


def replayed_cart_step(tmp_path: Path) -> tuple[Path, RunStore, dict, dict]:
    """A copy of the demo recording replayed with one bug: its store, and the step that differs."""
    recording = tmp_path / "demo.db"
    shutil.copy(RECORDING, recording)
    replay(tmp_path, recording)
    store = RunStore(tmp_path / ".replayqa" / "runs.db")
    run_id = store.runs()[0]["run_id"]
    issue = next(i for i in store.issues(run_id) if i["step"] == "#5 GET /cart")
    step = next(s for s in store.steps(run_id) if s["step"] == "#5 GET /cart")
    return recording, store, step, issue


async def test_a_noise_rule_marked_on_a_step_holds_for_its_operation_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recording, store, step, issue = replayed_cart_step(tmp_path)
    app = TriageApp(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)  # the runs screen opens the first failure; push after it did
        await app.push_screen(StepScreen(store, step, issue))
        await pilot.press("x")
        await pilot.pause()
    opened = Recording.open(recording)
    try:
        rules = opened.meta["noise_rules"]
    finally:
        opened.close()
    # the recording was made with the spec: its operation id; the same field on another
    # endpoint may carry a real change
    assert {r["operation"] for r in rules} == {"getCart"}
    assert "$.total_cents" in {r["path"] for r in rules}


async def test_accepting_a_server_error_as_the_baseline_asks_first(tmp_path, monkeypatch):
    from replayqa.tui.screens import ConfirmScreen

    monkeypatch.chdir(tmp_path)
    recording, store, step, issue = replayed_cart_step(tmp_path)
    issue = {**issue, "response": {**issue["response"], "status": 500, "body": '{"detail": "boom"}'}}

    def updates() -> list:
        opened = Recording.open(recording)
        try:
            return opened.meta.get("baseline_updates") or []
        finally:
            opened.close()

    app = TriageApp(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)  # the runs screen opens the first failure; push after it did
        await app.push_screen(StepScreen(store, step, issue))
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert updates() == [], "declined: the recording is unchanged"
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
    assert [u["exchange"] for u in updates()] == [5]


async def test_a_rerun_from_the_tui_redacts_the_projects_secret_fields(tmp_path, monkeypatch, demo_shop):
    """The TUI hands its settings' redactor on: a field named in redact_fields is at rest nowhere."""
    from textual.widgets import Tree

    from replayqa.config import load_settings
    from replayqa.demo.run import journeys_dir
    from replayqa.execute import run_journeys
    from replayqa.loader import load_file

    monkeypatch.chdir(tmp_path)
    journey_file = tmp_path / "checkout.yaml"
    shutil.copy(journeys_dir() / "checkout_payment.yaml", journey_file)
    (tmp_path / "replayqa.toml").write_text(
        f'base_url = "{demo_shop.base_url}"\ndb = "{demo_shop.db_url}"\nredact_fields = ["email"]\n'
    )
    run_journeys(load_file(journey_file).journeys, load_settings())
    store = RunStore(tmp_path / ".replayqa" / "runs.db")
    app = TriageApp(store, load_settings(), open_first_failure=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("down", "down", "down")
        await pilot.press("e")
        await settle(pilot)
        assert app.screen.query_one(Tree) is not None
    assert len(store.runs()) == 2
    written = [p for p in (tmp_path / ".replayqa").rglob("*") if p.is_file()]
    assert len([p for p in written if p.name == "report.json"]) == 2
    assert not [p for p in written if b"@shop.test" in p.read_bytes()], "an email reached the disk"
