"""No secret at rest: a catalogue of secret forms through record, capture, HAR, replay, reports and store.

A real ``replayqa record`` proxies a real app that hands out and takes
secrets in every form the catalogue (:data:`tests.support.secrets_app.SECRETS`)
lists, with a database capture of its SQLite file. The recording is exported
as HAR and replayed, which writes the four reports and the run store; the
replayed app answers with the real secrets again, so the reports see them
in the clear unless they redact them. Then every file replayqa left behind,
and every database capture decoded, is searched for every secret.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest

from replayqa.record.storage import Recording
from replayqa.state.base import capture_rows
from tests.support.apps import ChildApp
from tests.support.secrets_app import LARGE_SIZE, SECRETS

S = SECRETS


@pytest.fixture
def secrets_app(tmp_path):
    database = tmp_path / "app" / "secrets_test.db"
    database.parent.mkdir()
    app = ChildApp("secrets_app.py", str(database))
    app.database = database  # type: ignore[attr-defined]
    yield app
    app.stop()


def send_traffic(base_url: str) -> None:
    """What a browser or API client sends: credentials in headers, URLs, forms and JSON."""
    headers = {
        "Authorization": f"Bearer {S['request_authorization_bearer']}",
        "Cookie": f"theme=dark; session={S['request_cookie']}",
        "X-Session-Id": S["request_x_session_id"],
        "Referer": f"https://app.example/verify?step=2&otp={S['referer_otp']}",
    }
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        assert client.post("/login", json={"email": "ana@shop.test"}).status_code == 200
        client.post("/login", data={"email": "ana@shop.test", "password": S["form_password"]})
        client.post("/upload", data={"note": "hi", "pwd": S["multipart_pwd"]}, files={"f": ("a.txt", b"x")})
        client.get("/", params={"page": "1", "api_key": S["request_query_api_key"]})
        for path in ("/redirect", "/items", "/page", "/ndjson", "/events", "/latin1", "/utf16", "/octet"):
            assert client.get(path).status_code in (200, 302), path
        assert len(client.get("/large").content) == LARGE_SIZE


def files_at_rest(folder: Path, exclude: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and exclude not in p.parents]


def decoded_captures(recording_path: Path) -> str:
    """Captures are compressed inside the recording: searched as the rows they restore."""
    recording = Recording.open(recording_path)
    try:
        rows = [capture_rows(recording.capture(c["id"])) for c in recording.checkpoints()]
    finally:
        recording.close()
    assert rows, "the recording has no database capture"
    return json.dumps(rows, default=str)


def test_no_catalogued_secret_is_at_rest_anywhere(cli, secrets_app, recording_proxy, tmp_path):
    assert len(SECRETS) >= 40 and len(set(SECRETS.values())) == len(SECRETS)
    db_url = f"sqlite:///{secrets_app.database}"
    pristine = tmp_path / "app" / "pristine.db"
    shutil.copy(secrets_app.database, pristine)

    proxy = recording_proxy("--upstream", secrets_app.base_url, "--out", "rec.db", "--db", db_url)
    send_traffic(proxy.url)
    assert proxy.stop()[0] == 0

    exported = cli("export", "rec.db", "--har", "rec.har")
    assert exported.returncode == 0, exported.stderr
    replayed = cli("replay", "rec.db", "--base-url", secrets_app.base_url, "--db", db_url)
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr  # login_count differs: issues
    reports = list((tmp_path / ".replayqa" / "reports").rglob("*"))
    assert {p.name for p in reports} >= {"report.json", "report.html", "report.md", "junit.xml"}
    assert (tmp_path / ".replayqa" / "runs.db").is_file()

    files = files_at_rest(tmp_path, exclude=tmp_path / "app")
    texts = {str(p.relative_to(tmp_path)): p.read_bytes().decode("utf-8", "replace") for p in files}
    texts["captures in rec.db"] = decoded_captures(tmp_path / "rec.db")
    found = {name: [where for where, text in texts.items() if value in text] for name, value in S.items()}
    leaks = {name: where for name, where in found.items() if where}
    assert leaks == {}, f"{len(leaks)} of {len(S)} secrets at rest"

    # The app's own copy still holds them (the search would have found them), and sizes are right.
    assert S["db_password_plaintext"] in pristine.read_bytes().decode("utf-8", "replace")
    recording = Recording.open(tmp_path / "rec.db")
    try:
        large = next(e for e in recording.exchanges() if e["path"] == "/large")
        login = next(e for e in recording.exchanges() if e["path"] == "/login")
    finally:
        recording.close()
    assert large["response_body_size"] == LARGE_SIZE
    assert json.loads(login["response_body"])["user"]["name"] == "ana"  # redaction kept what is not secret
