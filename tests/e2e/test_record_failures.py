"""`replayqa record` never forwards what it cannot record, and loses nothing a client saw.

Each test runs the real command as its own process group, as a shell or a
service manager starts it, in front of the real demo shop.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from replayqa.record.storage import Recording
from tests.e2e.conftest import free_port, wait_listening


class RecorderGroup:
    """``replayqa record`` in a process group of its own, so a test can signal the whole group."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "replayqa", "record", "--listen", f"127.0.0.1:{self.port}", *args],
            cwd=cwd,
            env={**os.environ, "COLUMNS": "80"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        wait_listening(self.port, self.process)

    def writer_pid(self) -> int:
        """The writer process the proxy spawned (not multiprocessing's resource tracker)."""
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return int(child)
        raise AssertionError("the recorder has no writer process")

    def group_pids(self) -> list[int]:
        return [
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and _pgid(int(p.name)) == self.process.pid
        ]

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, out, err


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


@pytest.fixture
def recorder_group(tmp_path):
    started: list[RecorderGroup] = []

    def start(*args: str) -> RecorderGroup:
        group = RecorderGroup(tmp_path, *args)
        started.append(group)
        return group

    yield start
    for group in started:
        for pid in group.group_pids():
            os.kill(pid, signal.SIGKILL)
        group.process.communicate()


def assert_one_line_refusal(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Recorded" not in result.stdout and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("replayqa: error: "), result.stderr
    for text in expected:
        assert text in lines[0]


def test_a_db_url_the_driver_refuses_fails_the_start(cli, demo_shop, tmp_path):
    port = free_port()
    result = cli(
        "record",
        "--upstream",
        demo_shop.base_url,
        "--listen",
        f"127.0.0.1:{port}",
        "--db",
        "postgresql://qa@127.0.0.1:1/shop_test?connect_timeout=soon",
        "--out",
        "rec.db",
    )
    assert_one_line_refusal(result, "connect_timeout", "check --db")
    assert not (tmp_path / "rec.db").exists()


@pytest.mark.parametrize(
    "out",
    [
        "a-file/rec.db",  # a regular file where the folder should be
        "/proc/replayqa/rec.db",  # a folder nobody can create
        "n" * 300 + ".db",  # a name longer than the file system allows
    ],
)
def test_an_out_path_that_cannot_be_written_fails_the_start(cli, demo_shop, tmp_path, out):
    (tmp_path / "a-file").write_text("not a folder")
    port = free_port()
    result = cli("record", "--upstream", demo_shop.base_url, "--listen", f"127.0.0.1:{port}", "--out", out)
    assert_one_line_refusal(result, "cannot create", "choose another --out")


def test_a_killed_writer_stops_the_proxy_and_keeps_what_clients_received(demo_shop, recorder_group, tmp_path):
    proxy = recorder_group("--upstream", demo_shop.base_url, "--out", "rec.db")
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        for n in range(5):
            assert client.get("/items", params={"n": n}).status_code == 200
        os.kill(proxy.writer_pid(), signal.SIGKILL)
        with pytest.raises(httpx.HTTPError):  # not forwarded as if it were recorded
            for n in range(5, 10):
                client.get("/items", params={"n": n})
                time.sleep(0.2)
    code, out, err = proxy.finish()
    assert code == 2 and "Recorded" not in out
    (line,) = err.strip().splitlines()
    assert line.startswith("replayqa: error: the recording writer process stopped"), err
    assert "the proxy stopped with it" in line
    queries = [e["query"] for e in _exchanges(tmp_path / "rec.db")]
    assert queries[:5] == [f"n={n}" for n in range(5)]


@pytest.mark.parametrize("victims", ["proxy", "group"])
def test_sigkill_loses_no_exchange_a_client_received(demo_shop, recorder_group, tmp_path, victims):
    proxy = recorder_group("--upstream", demo_shop.base_url, "--out", "rec.db")
    writer = proxy.writer_pid()
    received: list[str] = []
    stop = threading.Event()

    def client(name: str) -> None:
        with httpx.Client(base_url=proxy.url, timeout=10) as http:
            for n in range(10_000):
                if stop.is_set():
                    return
                try:
                    response = http.get("/items", params={"c": name, "n": n})
                except httpx.HTTPError:
                    return
                if response.status_code == 200 and response.json():  # read whole and parsed
                    received.append(f"c={name}&n={n}")

    threads = [threading.Thread(target=client, args=(str(c),)) for c in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(received) < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proxy.process.pid, signal.SIGKILL)
    if victims == "group":
        os.kill(writer, signal.SIGKILL)
    for thread in threads:
        thread.join()
    stop.set()
    proxy.finish()
    if victims == "proxy":  # the orphaned writer commits what reached it, folds the file, exits
        _wait_gone(writer)
    assert len(received) >= 300
    recorded = {e["query"] for e in _exchanges(tmp_path / "rec.db")}
    lost = [q for q in received if q not in recorded]
    assert lost == [], f"{len(lost)} of {len(received)} exchanges clients received are not recorded"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_group_ends_every_session_with_an_end_capture(
    demo_shop, recorder_group, tmp_path, sig
):
    proxy = recorder_group("--upstream", demo_shop.base_url, "--out", "rec.db", "--db", demo_shop.db_url)
    with (
        httpx.Client(base_url=proxy.url, transport=httpx.HTTPTransport(local_address="127.0.0.2")) as ada,
        httpx.Client(base_url=proxy.url, transport=httpx.HTTPTransport(local_address="127.0.0.3")) as bob,
    ):
        ada.get("/items")
        bob.get("/items/1")
    members = proxy.group_pids()
    assert len(members) >= 2, "the proxy and its writer"
    os.killpg(proxy.process.pid, sig)
    code, out, err = proxy.finish()
    assert code == 0, err
    assert "Recorded 2 exchanges in 2 sessions, 2 database captures" in out
    recording = Recording.open(tmp_path / "rec.db")
    sessions = recording.sessions()
    assert [(s["end_reason"], s["overlapped"]) for s in sessions] == [("stopped", 1), ("stopped", 1)]
    assert all(s["end_checkpoint_id"] for s in sessions)
    assert [c["kind"] for c in recording.checkpoints()] == ["start", "end"]


def test_sigterm_to_the_writer_alone_stops_the_recording_cleanly(demo_shop, recorder_group, tmp_path):
    proxy = recorder_group("--upstream", demo_shop.base_url, "--out", "rec.db", "--db", demo_shop.db_url)
    with httpx.Client(base_url=proxy.url) as client:
        client.get("/items")
    os.kill(proxy.writer_pid(), signal.SIGTERM)
    code, out, err = proxy.finish()
    assert code == 0, err
    assert "Recorded 1 exchange in 1 session, 2 database captures" in out
    (session,) = Recording.open(tmp_path / "rec.db").sessions()
    assert session["end_reason"] == "stopped" and session["end_checkpoint_id"]


def _exchanges(path: Path) -> list[dict[str, object]]:
    """Rows as they are on disk, WAL included: a killed writer leaves no folded file."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM exchanges ORDER BY id")]
    finally:
        conn.close()


def _wait_gone(pid: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if "State:\tZ" in Path(f"/proc/{pid}/status").read_text():
                return  # exited; its new parent has not reaped it yet
        except FileNotFoundError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still runs")


def test_a_long_database_capture_holds_up_only_the_requests_that_wait_for_it(notes_app, recorder_group):
    """While a session's start capture cannot finish, other clients' requests still get through.

    A test connection holds a table locked, so the capture waits for as long as
    the test decides; no timing is measured.
    """
    app, dsn = notes_app
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("CREATE TABLE audit (id serial PRIMARY KEY, note text)")
    proxy = recorder_group("--upstream", app.base_url, "--out", "rec.db", "--db", dsn, "--exclude", "/health")
    answered: list[int] = []

    def start_a_session() -> None:  # its request waits for the start capture, as it must
        with httpx.Client(base_url=proxy.url, timeout=120) as client:
            answered.append(client.get("/notes").status_code)

    with psycopg.connect(dsn) as locker:
        locker.execute("LOCK TABLE audit IN ACCESS EXCLUSIVE MODE")
        session = threading.Thread(target=start_a_session)
        session.start()
        _wait_for_a_blocked_capture(locker)
        with httpx.Client(base_url=proxy.url, timeout=60) as client:
            others = [client.get("/health").status_code for _ in range(5)]
        assert others == [200] * 5
        assert session.is_alive() and not answered, "the session's request must wait for its capture"
        locker.rollback()  # the capture can read the table now
    session.join(timeout=120)
    assert answered == [200]
    os.kill(proxy.process.pid, signal.SIGTERM)
    code, out, err = proxy.finish()
    assert code == 0, err
    assert "Recorded 1 exchange in 1 session, 2 database captures" in out


def _wait_for_a_blocked_capture(locker: psycopg.Connection) -> None:
    """Until another connection waits for the lock the test holds (the recorder's capture)."""
    for _ in range(1200):
        waiting = locker.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        ).fetchone()
        if waiting and waiting[0]:
            return
        time.sleep(0.05)
    raise AssertionError("the recorder's start capture never reached the locked table")
