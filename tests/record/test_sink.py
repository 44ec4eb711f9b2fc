"""Both sinks write the same rows; the writer process survives its proxy's death."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from replayqa.errors import StateError
from replayqa.record.sink import ProcessSink, ThreadSink
from replayqa.record.storage import Recording, create_recording
from replayqa.record.traffic import Body, RequestInfo, ResponseInfo
from replayqa.redact import RedactionRules

KEY = b"k" * 32


def traffic(n: int) -> tuple[RequestInfo, ResponseInfo]:
    request = RequestInfo(
        f"flow-{n}",
        "127.0.0.1:1",
        "POST",
        "http",
        "shop.test",
        80,
        "/login",
        "",
        "HTTP/1.1",
        [("Content-Type", "application/json")],
        Body.from_bytes(b'{"password": "pw-123456"}', "application/json", 100),
        1.0,
    )
    response = ResponseInfo(
        200,
        "OK",
        [("Content-Type", "application/json")],
        Body.from_bytes(b'{"token": "t-1"}', "application/json", 100),
        2.0,
    )
    return request, response


@pytest.mark.parametrize("sink_type", [ThreadSink, ProcessSink])
def test_sinks_write_redacted_rows(tmp_path, sink_type):
    path = create_recording(tmp_path / "rec.db", {"name": "sink"})
    sink = sink_type(path, KEY, RedactionRules(cards=False), 1000)
    for n in range(1, 4):
        sink.exchange(n, 1, "login", *traffic(n), None)
    sink.row("sessions", {"id": 1, "name": "s", "exchange_count": 3})
    sink.close()
    assert sink.failure is None
    recording = Recording.open(path)
    rows = list(recording.exchanges())
    assert [r["id"] for r in rows] == [1, 2, 3]
    bodies = {json.loads(r["request_body"])["password"] for r in rows}
    assert len(bodies) == 1 and bodies.pop().startswith("[redacted:")  # one secret, one placeholder
    assert recording.sessions()[0]["exchange_count"] == 3


def test_the_writer_process_commits_what_arrived_when_its_proxy_vanishes(tmp_path):
    path = create_recording(tmp_path / "rec.db", {"name": "orphan"})
    sink = ProcessSink(path, KEY, RedactionRules(), 1000)
    for n in range(1, 6):
        sink.exchange(n, 1, None, *traffic(n), None)
    # The feeder sends what it has and closes the pipe with no goodbye message, as a killed proxy would.
    sink._stop.set()
    sink._wake.set()
    sink._feeder.join()
    sink._listener.join(timeout=30)  # it reaps the writer: two threads waiting on one child race
    sink.process.join(timeout=30)
    assert sink.process.exitcode == 0
    assert [r["id"] for r in Recording.open(path).exchanges()] == [1, 2, 3, 4, 5]


def test_a_writer_process_that_cannot_open_the_file_stops_the_recorder_at_start(tmp_path):
    folder = tmp_path / "not-a-file.db"
    folder.mkdir()
    expected = r"recording writer could not start on .*not-a-file\.db: .*unable to open"
    with pytest.raises(StateError, match=expected):
        ProcessSink(folder, KEY, RedactionRules(), 1000)


def test_the_writer_process_is_ready_before_the_recorder_takes_traffic(tmp_path):
    """Its start-up (interpreter, imports) must not overlap the first requests."""
    path = create_recording(tmp_path / "rec.db", {"name": "ready"})
    sink = ProcessSink(path, KEY, RedactionRules(), 1000)
    try:
        assert sink.process.is_alive()
        files = {p.resolve() for p in Path(f"/proc/{sink.process.pid}/fd").iterdir()}
        assert path.resolve() in files  # it has opened the recording already
    finally:
        sink.close()


def test_a_writer_started_before_the_recording_is_known_makes_it_and_writes_to_it(tmp_path):
    """`replayqa record` starts the writer while mitmproxy loads; the file is named later."""
    from replayqa.record.writer import WriterProcess

    started = WriterProcess()
    path = tmp_path / "later.db"
    sink = ProcessSink(path, KEY, RedactionRules(), 1000, started, create={"name": "later"})
    assert sink.process is started.process
    sink.exchange(1, 1, None, *traffic(1), None)
    sink.close()
    started.discard()  # adopted: nothing to stop
    recording = Recording.open(path)
    assert recording.meta["name"] == "later"
    assert [r["id"] for r in recording.exchanges()] == [1]


def test_a_recording_the_writer_cannot_create_is_the_users_to_fix(tmp_path):
    from replayqa.errors import ConfigError

    create_recording(tmp_path / "taken.db", {"name": "first"})
    with pytest.raises(ConfigError, match=r"taken\.db already exists: choose another --out"):
        ProcessSink(tmp_path / "taken.db", KEY, RedactionRules(), 1000, create={"name": "second"})
    assert Recording.open(tmp_path / "taken.db").meta["name"] == "first"


def test_a_writer_no_recorder_took_exits_when_dropped():
    from replayqa.record.writer import WriterProcess

    unused = WriterProcess()
    unused.discard()
    assert unused.process.exitcode == 0
