"""`replayqa record` end to end: real clients through a real mitmproxy, real databases."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import psycopg
import pytest

from replayqa.demo.run import spec_path
from replayqa.record.storage import Recording
from replayqa.state import open_state
from tests.e2e.conftest import free_port, wait_listening

ADMIN = {"email": "admin@shop.test", "password": "admin-pass"}


def login(client: httpx.Client, email: str, password: str) -> str:
    client.post("/users", json={"email": email, "password": password})
    return client.post("/auth/login", json={"email": email, "password": password}).json()["token"]


def test_reverse_proxy_sessions_by_markers_credentials_and_idle_gap(
    cli, demo_shop, recording_proxy, tmp_path
):
    proxy = recording_proxy(
        "--upstream", demo_shop.base_url, "--out", "rec.db", "--idle-gap", "1", "--spec", str(spec_path())
    )
    # 1. A tester marks a session around what they do.
    assert cli("session", "start", "browse", "--proxy", proxy.url).returncode == 0
    with httpx.Client(base_url=proxy.url) as tester:
        tester.get("/items")
        tester.get("/items/2")
    done = cli("session", "end", "--proxy", proxy.url)
    assert done.stdout.strip() == "session 'browse' ended after 2 exchanges"

    # 2. Two users at once, on two machines (two loopback addresses), then told apart by their tokens.
    with (
        httpx.Client(base_url=proxy.url, transport=httpx.HTTPTransport(local_address="127.0.0.2")) as ada,
        httpx.Client(base_url=proxy.url, transport=httpx.HTTPTransport(local_address="127.0.0.3")) as bob,
    ):
        ada_token = login(ada, "ada@shop.test", "ada-password")
        bob_token = login(bob, "bob@shop.test", "bob-password")
        for _ in range(3):
            ada.get("/cart", headers={"Authorization": f"Bearer {ada_token}"})
            bob.get("/cart", headers={"Authorization": f"Bearer {bob_token}"})
        time.sleep(2.5)  # silence longer than the idle gap
        ada.get("/cart", headers={"Authorization": f"Bearer {ada_token}"})

    code, out, err = proxy.stop()
    assert code == 0, err
    assert "Recorded" in out and "to rec.db" in out

    shown = json.loads(cli("show", "rec.db", "--json").stdout)
    sessions = shown["sessions"]
    assert [(s["name"], s["source"], s["end_reason"]) for s in sessions[:1]] == [
        ("browse", "marker", "marker")
    ]
    assert [e["operation"] for e in sessions[0]["exchanges"]] == ["listItems", "getItem"]
    ada, bob, ada_later = sessions[1:]
    for person, address in ((ada, "127.0.0.2"), (bob, "127.0.0.3")):
        paths = [e["url"].split("/", 3)[3] for e in person["exchanges"]]
        assert paths == ["users", "auth/login", "cart", "cart", "cart"], "anonymous, then by token"
        assert person["client"] == address and person["overlapped"] and person["end_reason"] == "idle"
    assert ada["start_checkpoint_id"] == bob["start_checkpoint_id"]
    assert [e["url"].split("/", 3)[3] for e in ada_later["exchanges"]] == ["cart"]
    assert not ada_later["overlapped"], "after the idle gap, ada's next request opened a new session"
    ids = [e["id"] for s in sessions for e in s["exchanges"]]
    assert sorted(ids) == list(range(1, len(ids) + 1)), "every exchange, numbered in arrival order"


def test_forward_proxy_records_what_a_client_sends_through_it(cli, demo_shop, recording_proxy):
    proxy = recording_proxy("--mode", "regular", "--out", "fwd.db")
    with httpx.Client(proxy=proxy.url) as client:
        assert client.get(f"{demo_shop.base_url}/items").status_code == 200
        assert client.post(f"{demo_shop.base_url}/auth/login", json=ADMIN).status_code == 200
    code, _, err = proxy.stop()
    assert code == 0, err
    shown = json.loads(cli("show", "fwd.db", "--json").stdout)
    urls = [e["url"] for s in shown["sessions"] for e in s["exchanges"]]
    assert urls == [f"{demo_shop.base_url}/items", f"{demo_shop.base_url}/auth/login"]
    assert shown["meta"]["mode"] == "regular"


def sqlite_rows(path) -> dict[str, list]:
    conn = sqlite3.connect(path)
    try:
        tables = [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")
        ]
        return {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY 1').fetchall() for t in tables}
    finally:
        conn.close()


def test_a_sessions_start_checkpoint_restores_the_exact_sqlite_state(demo_shop, recording_proxy, tmp_path):
    with httpx.Client(base_url=demo_shop.base_url) as direct:  # state before recording: an existing user
        token = login(direct, "early@shop.test", "early-password")
        direct.post("/cart/items", json={"item_id": 1}, headers={"Authorization": f"Bearer {token}"})
    at_start = sqlite_rows(demo_shop.db_path)

    proxy = recording_proxy("--upstream", demo_shop.base_url, "--out", "rec.db", "--db", demo_shop.db_url)
    with httpx.Client(base_url=proxy.url) as client:
        token = client.post("/auth/login", json=ADMIN).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        cart = client.post("/cart/items", json={"item_id": 2, "quantity": 2}, headers=auth).json()
        client.post(f"/carts/{cart['id']}/checkout", json={"card_number": "4242424242424242"}, headers=auth)
    assert proxy.stop()[0] == 0
    assert sqlite_rows(demo_shop.db_path) != at_start

    recording = Recording.open(tmp_path / "rec.db")
    (session,) = recording.sessions()
    start = recording.capture(session["start_checkpoint_id"])
    end = recording.capture(session["end_checkpoint_id"])
    assert (start.tables["orders"], end.tables["orders"]) == (0, 1)
    backend = open_state(demo_shop.db_url)
    backend.connect()
    backend.restore_capture(start)
    backend.disconnect()

    restored = sqlite_rows(demo_shop.db_path)
    # Live tokens are credentials: the capture keeps their rows, with placeholders for values.
    assert [row[1:] for row in restored.pop("tokens")] == [row[1:] for row in at_start.pop("tokens")]
    assert restored == at_start
    with httpx.Client(base_url=demo_shop.base_url) as client:  # the app goes on working
        assert client.post("/auth/login", json=ADMIN).status_code == 200


def test_a_sessions_start_checkpoint_restores_the_exact_postgres_state(
    notes_app, recording_proxy, tmp_path, make_pg_database
):
    app, dsn = notes_app
    with httpx.Client(base_url=app.base_url) as direct:
        for text in ("before-1", "before-2"):
            direct.post("/notes", json={"text": text})
    with psycopg.connect(dsn) as conn:
        at_start = conn.execute("SELECT * FROM notes ORDER BY id").fetchall()

    proxy = recording_proxy("--upstream", app.base_url, "--out", "pg.db", "--db", dsn)
    with httpx.Client(base_url=proxy.url) as client:
        for text in ("during-1", "during-2", "during-3"):
            client.post("/notes", json={"text": text})
    assert proxy.stop()[0] == 0

    recording = Recording.open(tmp_path / "pg.db")
    (session,) = recording.sessions()
    capture = recording.capture(session["start_checkpoint_id"])
    ci_dsn = make_pg_database("ci_test")  # another database, as CI would have
    with psycopg.connect(ci_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, text text NOT NULL)")
        conn.execute("INSERT INTO notes (text) VALUES ('stale')")
    backend = open_state(ci_dsn)
    backend.connect()
    backend.restore_capture(capture)
    backend.disconnect()
    with psycopg.connect(ci_dsn) as conn:
        assert conn.execute("SELECT * FROM notes ORDER BY id").fetchall() == at_start
        assert conn.execute("INSERT INTO notes (text) VALUES ('next') RETURNING id").fetchone() == (3,)


def test_sigkill_loses_no_exchange_completed_a_second_before(demo_shop, recording_proxy, tmp_path):
    proxy = recording_proxy("--upstream", demo_shop.base_url, "--out", "killed.db")
    completed: list[tuple[int, float]] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(base_url=proxy.url, timeout=5) as client:
            for n in range(100_000):
                if stop.is_set():
                    return
                try:
                    client.get("/items", params={"n": n})
                except httpx.HTTPError:
                    return
                completed.append((n, time.monotonic()))

    worker = threading.Thread(target=traffic)
    worker.start()
    time.sleep(3)
    killed_at = time.monotonic()
    proxy.process.send_signal(signal.SIGKILL)
    proxy.process.wait()
    stop.set()
    worker.join()

    must_have = {n for n, at in completed if at < killed_at - 1.0}
    assert len(must_have) > 20
    conn = sqlite3.connect(tmp_path / "killed.db")
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stored = {int(q.split("=")[1]) for (q,) in conn.execute("SELECT query FROM exchanges")}
    assert must_have <= stored, f"lost: {sorted(must_have - stored)[:10]}"


def test_twenty_concurrent_clients_lose_nothing_and_mix_no_sessions(demo_shop, recording_proxy, tmp_path):
    proxy = recording_proxy("--upstream", demo_shop.base_url, "--out", "busy.db")
    clients, per_client = 20, 200
    failures: list[str] = []

    def user(number: int) -> None:
        headers = {"Authorization": f"Bearer client-{number:02d}-secret-token"}
        with httpx.Client(base_url=proxy.url, headers=headers, timeout=30) as client:
            for n in range(per_client):
                if client.get("/items/1", params={"client": number, "n": n}).status_code != 200:
                    failures.append(f"{number}/{n}")

    threads = [threading.Thread(target=user, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert proxy.stop()[0] == 0

    recording = Recording.open(tmp_path / "busy.db")
    sessions = recording.sessions()
    assert len(sessions) == clients
    total = 0
    for session in sessions:
        rows = list(recording.exchanges(session["id"]))
        total += len(rows)
        owners = {row["query"].split("&")[0] for row in rows}
        tokens = {v for row in rows for k, v in row["request_headers"] if k.lower() == "authorization"}
        assert len(rows) == per_client and len(owners) == 1 and len(tokens) == 1
        assert [int(r["query"].split("n=")[1]) for r in rows] == list(range(per_client)), "in order"
    assert total == clients * per_client
    assert all(s["overlapped"] for s in sessions)
    assert len({s["start_checkpoint_id"] for s in sessions}) == 1


def test_no_secret_reaches_the_recording_file(demo_shop, recording_proxy, tmp_path):
    password, api_key = "correct-horse-battery", "key-0123456789abcdef"
    session_token = "st-fedcba9876543210"
    proxy = recording_proxy("--upstream", demo_shop.base_url, "--out", "secret.db", "--db", demo_shop.db_url)
    with httpx.Client(base_url=proxy.url) as client:
        token = login(client, "carol@shop.test", password)
        auth = {"Authorization": f"Bearer {token}", "X-API-Key": api_key, "Cookie": f"sessionid={token}"}
        client.get("/cart", headers=auth)
        client.post("/auth/login", data={"email": "carol@shop.test", "password": password})
        # A page posting FormData sends multipart; some APIs take tokens in the query or odd headers.
        avatar = {"avatar": ("me.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "image/png")}
        client.post("/auth/login", data={"email": "carol@shop.test", "password": password}, files=avatar)
        client.get("/cart", params={"access_token": token}, headers={"X-Access-Token": session_token})
    assert proxy.stop()[0] == 0
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("secret.db*"))
    for secret in (password, token, api_key, session_token):
        assert secret.encode() not in raw, f"{secret} reached the recording"
    recording = Recording.open(tmp_path / "secret.db")
    assert "authorization" in recording.meta["redaction"]["headers"]
    cart = next(e for e in recording.exchanges() if e["path"] == "/cart")
    headers = {k.lower(): v for k, v in cart["request_headers"]}
    login_body = json.loads(
        next(e for e in recording.exchanges() if e["path"] == "/auth/login")["response_body"]
    )
    assert headers["authorization"] == f"Bearer {login_body['token']}"  # one placeholder, value flow kept
    assert headers["x-api-key"].startswith("[redacted:") and headers["cookie"].startswith(
        "sessionid=[redacted:"
    )


def test_project_redaction_rules_reach_the_recording(demo_shop, recording_proxy, tmp_path):
    """Config and flags add headers and whole field names; the recording says which rules it used."""
    (tmp_path / "replayqa.toml").write_text('redact_fields = ["otp"]\n')
    proxy = recording_proxy(
        "--upstream", demo_shop.base_url, "--out", "rules.db", "--redact-header", "X-Tenant",
        "--redact-field", "pin",
    )  # fmt: skip
    with httpx.Client(base_url=proxy.url) as client:
        client.post("/users", json={"email": "dan@shop.test", "pin": "pin-48151623", "otp": "otp-42424242"})
        client.get("/items", headers={"X-Tenant": "tenant-secret-77"}, params={"pin": "pin-48151623"})
        client.post("/users", json={"email": "eve@shop.test", "shipping": "12 Pine St"})
    assert proxy.stop()[0] == 0
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("rules.db*"))
    for secret in ("pin-48151623", "otp-42424242", "tenant-secret-77"):
        assert secret.encode() not in raw, f"{secret} reached the recording"
    recording = Recording.open(tmp_path / "rules.db")
    rules = recording.meta["redaction"]
    assert "x-tenant" in rules["headers"] and set(rules["extra_fields"]) == {"otp", "pin"}
    shipping = [e["request_body"] for e in recording.exchanges() if "eve@" in (e["request_body"] or "")]
    assert json.loads(shipping[0])["shipping"] == "12 Pine St"  # "pin" is a whole name, not a substring


def test_bad_input_gets_one_line_and_exit_2(cli, demo_shop, tmp_path):
    port = free_port()
    done = cli("record", "--upstream", f"http://127.0.0.1:{port}")
    assert done.returncode == 2 and "cannot reach the app" in done.stderr and "--upstream" in done.stderr

    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        busy = held.getsockname()[1]
        done = cli("record", "--upstream", demo_shop.base_url, "--listen", f"127.0.0.1:{busy}")
    assert done.returncode == 2 and f"port {busy} on 127.0.0.1 is in use" in done.stderr

    (tmp_path / "notes.txt").write_text("not a recording")
    done = cli("show", "notes.txt")
    assert done.returncode == 2 and "is not a replayqa recording" in done.stderr

    done = cli("session", "start", "x", "--proxy", f"http://127.0.0.1:{port}")
    assert done.returncode == 2 and "no replayqa recording proxy answered" in done.stderr
    for result in (done,):
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_record_needs_a_mode_or_an_upstream(cli):
    done = cli("record")
    assert done.returncode == 2 and "give --upstream URL" in done.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_whole_process_group_stops_cleanly_and_keeps_everything(
    cli, demo_shop, tmp_path, sig
):
    """Ctrl+C and service managers signal every process of the group, the writer included."""
    port = free_port()
    command = [sys.executable, "-m", "replayqa", "record", "--listen", f"127.0.0.1:{port}"]
    command += ["--upstream", demo_shop.base_url, "--db", demo_shop.db_url, "--out", "group.db"]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        wait_listening(port, process)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for n in range(30):
                assert client.get("/items", params={"n": n}).status_code == 200
        os.killpg(process.pid, sig)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 0, err
    shown = json.loads(cli("show", "group.db", "--json").stdout)
    (session,) = shown["sessions"]
    assert len(session["exchanges"]) == 30
    assert [c["kind"] for c in shown["checkpoints"]] == ["start", "end"]
