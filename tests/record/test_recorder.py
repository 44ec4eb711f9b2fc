"""The recorder, fed plain traffic: what lands in the recording file."""

from __future__ import annotations

import itertools
import json
import sqlite3

import pytest

from replayqa.demo.run import spec_path
from replayqa.errors import ConfigError
from replayqa.record.recorder import Recorder, RecorderSettings
from replayqa.record.storage import Recording
from replayqa.record.traffic import Body, RequestInfo, ResponseInfo

_ids = itertools.count(1)


def request(method, path, headers=(), body=b"", client="127.0.0.1:50000", query=""):
    content_type = dict((k.lower(), v) for k, v in headers).get("content-type", "")
    return RequestInfo(
        flow_id=f"flow-{next(_ids)}",
        client=client,
        method=method,
        scheme="http",
        host="shop.test",
        port=80,
        path=path,
        query=query,
        http_version="HTTP/1.1",
        headers=list(headers),
        body=Body.from_bytes(body, content_type, 1000),
        timestamp=1.0,
    )


def response(status, body=b"", content_type="application/json", headers=()):
    all_headers = [("Content-Type", content_type), *headers]
    return ResponseInfo(status, "OK", all_headers, Body.from_bytes(body, content_type, 1000), timestamp=2.0)


@pytest.fixture
def recorder(tmp_path):
    made = Recorder(RecorderSettings(out=tmp_path / "rec.db", name="unit", spec=str(spec_path())))
    yield made
    made.close()


def exchange(recorder, req, resp):
    assert recorder.on_request(req)
    recorder.on_response(req.flow_id, resp)


def test_exchanges_are_stored_in_order_with_operations_and_redaction(recorder, tmp_path):
    login = request(
        "POST",
        "/auth/login",
        [("Content-Type", "application/json")],
        b'{"email": "a@b.c", "password": "hunter2-pass"}',
    )
    exchange(recorder, login, response(200, b'{"token": "tok-XYZ-123", "user_id": 1}'))
    cart = request("GET", "/cart", [("Authorization", "Bearer tok-XYZ-123")])
    exchange(recorder, cart, response(200, b'{"id": 1, "lines": [], "status": "open", "total_cents": 0}'))
    summary = recorder.close()
    assert summary["exchanges"] == 2 and summary["sessions"] == 1

    recording = Recording.open(tmp_path / "rec.db")
    rows = list(recording.exchanges())
    assert [(r["method"], r["path"], r["status"], r["operation"]) for r in rows] == [
        ("POST", "/auth/login", 200, "login"),
        ("GET", "/cart", 200, "getCart"),
    ]
    token_placeholder = json.loads(rows[0]["response_body"])["token"]
    assert dict(rows[1]["request_headers"])["Authorization"] == f"Bearer {token_placeholder}"
    assert json.loads(rows[0]["request_body"])["password"].startswith("[redacted:")
    raw = (tmp_path / "rec.db").read_bytes()
    assert b"hunter2-pass" not in raw and b"tok-XYZ-123" not in raw
    assert recording.meta["redaction"]["headers"][0] == "api-key"
    assert recording.sessions()[0]["exchange_count"] == 2


def test_binary_bodies_are_blobs_with_size_and_hash(recorder, tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10
    req = request("GET", "/report")
    exchange(recorder, req, response(200, png, content_type="application/octet-stream"))
    recorder.close()
    row = next(Recording.open(tmp_path / "rec.db").exchanges())
    assert row["response_body"] is None and row["response_body_size"] == len(png)
    assert row["response_body_blob"] == png[:1000] and len(row["response_body_sha256"]) == 64


def test_a_body_cut_at_the_cap_keeps_its_size_and_no_part_of_a_json_document(recorder, tmp_path):
    whole = b'{"token": "cut-tok-123", "filler": "' + b"x" * 5000 + b'"}'
    cut = ResponseInfo(
        200,
        "OK",
        [("Content-Type", "application/json")],
        Body.from_bytes(whole[:1000], "application/json", 1000, len(whole)),
    )
    lines = b'{"token": "line-tok-1"}\n{"token": "line-tok-2"}\n{"tok'
    streamed = ResponseInfo(
        200,
        "OK",
        [("Content-Type", "application/x-ndjson")],
        Body.from_bytes(lines, "application/x-ndjson", 1000, 9000),
    )
    exchange(recorder, request("GET", "/large"), cut)
    exchange(recorder, request("GET", "/stream"), streamed)
    recorder.close()
    large, stream = Recording.open(tmp_path / "rec.db").exchanges()
    assert large["response_body"] == "[redacted]" and large["response_body_size"] == len(whole)
    assert stream["response_body_size"] == 9000 and stream["response_body"].count("\n") == 2
    raw = (tmp_path / "rec.db").read_bytes()
    assert b"cut-tok-123" not in raw and b"line-tok-1" not in raw and b"line-tok-2" not in raw


def test_json_sent_as_bytes_in_another_charset_is_kept_as_redacted_text(recorder, tmp_path):
    body = '{"password": "utf16-pass-9", "name": "zoë"}'.encode("utf-16")
    exchange(recorder, request("GET", "/me"), response(200, body, content_type="application/octet-stream"))
    recorder.close()
    row = next(Recording.open(tmp_path / "rec.db").exchanges())
    assert json.loads(row["response_body"])["name"] == "zoë" and row["response_body_blob"] is None
    assert "utf16-pass-9".encode("utf-16-le") not in (tmp_path / "rec.db").read_bytes()


def test_failed_exchanges_and_unanswered_requests_are_kept(recorder, tmp_path):
    broken = request("GET", "/items")
    recorder.on_request(broken)
    recorder.on_error(broken.flow_id, "connection reset by peer")
    recorder.on_request(request("GET", "/items/1"))
    recorder.close()
    rows = list(Recording.open(tmp_path / "rec.db").exchanges())
    assert [r["error"] for r in rows] == [
        "connection reset by peer",
        "recording stopped before the response arrived",
    ]


def test_markers_are_answered_and_never_recorded(recorder, tmp_path):
    start = request("GET", "/__replayqa/session/start", query="name=checkout")
    assert recorder.marker_response(start) == (200, {"session": "checkout", "id": 1, "started": True})
    exchange(recorder, request("GET", "/items"), response(200, b"[]"))
    end = recorder.marker_response(request("GET", "/__replayqa/session/end"))
    assert end == (200, {"session": "checkout", "id": 1, "ended": True, "exchanges": 1})
    status, answer = recorder.marker_response(request("GET", "/__replayqa/session/end"))
    assert status == 409 and "no session was started" in answer["error"]
    recorder.close()
    recording = Recording.open(tmp_path / "rec.db")
    assert [r["path"] for r in recording.exchanges()] == ["/items"]
    assert recording.sessions()[0]["name"] == "checkout"


def test_static_assets_are_not_recorded(recorder, tmp_path):
    assert not recorder.on_request(request("GET", "/static/shop.js"))
    exchange(recorder, request("GET", "/logo"), response(200, b"\x89PNG", content_type="image/png"))
    assert recorder.close()["dropped"] == 2


def test_websocket_messages(recorder, tmp_path):
    recorder.on_websocket_message("flow-ws", True, b'{"password": "pw-123456"}', True, 5.0)
    recorder.on_websocket_message("flow-ws", False, b"\x00\x01", False, 6.0)
    recorder.close()
    messages = Recording.open(tmp_path / "rec.db").websocket_messages("flow-ws")
    assert json.loads(messages[0]["content"])["password"].startswith("[redacted:")
    assert messages[1]["content_blob"] == b"\x00\x01" and not messages[1]["from_client"]


def test_an_existing_file_is_never_overwritten(tmp_path):
    (tmp_path / "rec.db").write_text("precious")
    with pytest.raises(ConfigError, match="already exists"):
        Recorder(RecorderSettings(out=tmp_path / "rec.db"))
    assert (tmp_path / "rec.db").read_text() == "precious"


def test_opening_files_that_are_not_recordings(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConfigError, match="not a SQLite file"):
        Recording.open(tmp_path / "notes.txt")
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)")
    with pytest.raises(ConfigError, match="no replayqa-recording/1 metadata"):
        Recording.open(tmp_path / "other.db")
    with pytest.raises(ConfigError, match="no recording at"):
        Recording.open(tmp_path / "missing.db")
