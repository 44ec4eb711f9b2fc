"""Record, replay and a fault, end to end, with the app's data in MariaDB (``--db mysql://...``)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.apps import ChildApp


@pytest.fixture
def notes(mysql_url):
    apps: list[ChildApp] = []

    def start() -> ChildApp:
        app = ChildApp("mysql_notes_app.py", mysql_url)
        apps.append(app)
        return app

    yield start, mysql_url
    for app in apps:
        app.stop()


def record_session(recording_proxy, app: ChildApp, db: str) -> None:
    proxy = recording_proxy("--upstream", app.base_url, "--out", "notes.db", "--db", db)
    with httpx.Client(base_url=proxy.url) as client:
        client.post("/notes", json={"text": "keep"})
        made = client.post("/notes", json={"text": "soup"}).json()
        client.delete(f"/notes/{made['id']}")
        client.post("/notes", json={"text": "bread"})
        client.get("/notes")
    code, _, err = proxy.stop()
    assert code == 0, err


def test_record_replay_and_a_fault_only_the_database_shows(cli, notes, recording_proxy, monkeypatch):
    start, db = notes
    app = start()
    record_session(recording_proxy, app, db)

    for attempt in range(2):  # each replay starts from the recorded state, whatever the last one left
        done = cli("replay", "notes.db", "--base-url", app.base_url, "--db", db, "--json")
        assert done.returncode == 0, f"replay {attempt + 1}: " + done.stdout[-2000:] + done.stderr

    app.stop()
    monkeypatch.setenv("NOTES_FAULT", "shout")
    faulty = start()
    done = cli("replay", "notes.db", "--base-url", faulty.base_url, "--db", db, "--json")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr
    errors = [i["error"] for j in json.loads(done.stdout)["journeys"] for i in j.get("issues", [])]
    assert errors == [
        "database differs from the recording: db notes/1/text: 'keep' → 'KEEP'; "
        "db notes/3/text: 'bread' → 'BREAD'"
    ], "MySQL's DATETIME(6) values are timestamps: noise, not differences"


def test_recorded_captures_are_mysql_ones(cli, notes, recording_proxy):
    start, db = notes
    record_session(recording_proxy, start(), db)
    shown = cli("show", "notes.db", "--json")
    assert shown.returncode == 0, shown.stderr
    assert '"mysql"' in shown.stdout or "mysql" in json.dumps(json.loads(shown.stdout))


def test_a_mysql_url_that_cannot_connect_is_one_line(cli, demo_shop):
    recording = Path(__file__).resolve().parents[2] / "recordings" / "demo-shop.db"
    for command in (
        ["replay", str(recording), "--base-url", demo_shop.base_url],
        ["run", str(demo_journeys()), "--base-url", demo_shop.base_url],
    ):
        done = cli(*command, "--db", "mysql://qa@127.0.0.1:1/shop_test")
        assert done.returncode == 2, done.stdout + done.stderr
        assert "cannot connect to MySQL" in done.stderr and "check --db" in done.stderr
        assert "Traceback" not in done.stderr


def demo_journeys() -> Path:
    import replayqa.demo

    return Path(replayqa.demo.__file__).parent / "journeys"
