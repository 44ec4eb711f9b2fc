"""HAR in and out: devtools exports become recordings, and recordings become HAR."""

from __future__ import annotations

import base64
import json

import pytest

from replayqa.errors import ConfigError
from replayqa.record.har import export_har, import_har
from replayqa.record.recorder import RecorderSettings
from replayqa.record.storage import Recording


def entry(started, method, url, status, text="", mime="application/json", headers=(), post=None, **content):
    request = {"method": method, "url": url, "httpVersion": "HTTP/2", "headers": list(headers)}
    if post is not None:
        request["postData"] = {"mimeType": "application/json", "text": post}
    return {
        "startedDateTime": started,
        "time": 12.5,
        "request": request,
        "response": {
            "status": status,
            "statusText": "",
            "headers": [{"name": "Content-Type", "value": mime}],
            "content": {"mimeType": mime, "text": text, **content},
        },
    }


def write_har(path, entries):
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))
    return path


def test_import_then_export_then_import_keeps_what_har_can_hold(tmp_path):
    png = bytes(range(200))
    har = write_har(
        tmp_path / "in.har",
        [
            entry("2026-11-21T10:00:01.000Z", "GET", "https://shop.test/items?page=2", 200, '[{"id": 1}]'),
            entry(
                "2026-11-21T10:00:00.000Z",
                "POST",
                "https://shop.test/auth/login",
                200,
                '{"token": "tok-secret-1"}',
                post='{"email": "a@b.c", "password": "pw-secret-1"}',
            ),
            entry(
                "2026-11-21T10:00:02.000Z",
                "GET",
                "https://shop.test/report",
                200,
                base64.b64encode(png).decode(),
                mime="application/octet-stream",
                encoding="base64",
            ),
            entry("2026-11-21T10:00:03.000Z", "GET", "https://shop.test/slow", 0),
        ],
    )
    summary = import_har(har, RecorderSettings(out=tmp_path / "one.db", idle_gap=300))
    assert (summary["exchanges"], summary["sessions"]) == (4, 1)
    export_har(tmp_path / "one.db", tmp_path / "out.har")
    import_har(tmp_path / "out.har", RecorderSettings(out=tmp_path / "two.db"))

    def essence(path):
        recording = Recording.open(path)
        return [
            (
                r["method"],
                r["url"],
                r["status"],
                r["request_body"],
                r["response_body"],
                r["response_body_blob"],
                r["http_version"],
                r["error"],
            )
            for r in recording.exchanges()
        ]

    first = essence(tmp_path / "one.db")
    assert first == essence(tmp_path / "two.db")
    assert [row[1] for row in first] == [  # sorted by start time
        "https://shop.test/auth/login",
        "https://shop.test/items?page=2",
        "https://shop.test/report",
        "https://shop.test/slow",
    ]
    assert first[2][5] == png and first[3][7] == "no response"
    assert b"pw-secret-1" not in (tmp_path / "out.har").read_bytes()  # redacted on the way in


def test_idle_gaps_are_measured_on_the_hars_own_clock(tmp_path):
    har = write_har(
        tmp_path / "gaps.har",
        [
            entry("2026-11-21T10:00:00Z", "GET", "http://shop.test/a", 200),
            entry("2026-11-21T10:00:30Z", "GET", "http://shop.test/b", 200),
            entry("2026-11-21T11:00:00Z", "GET", "http://shop.test/c", 200),
        ],
    )
    summary = import_har(har, RecorderSettings(out=tmp_path / "gaps.db", idle_gap=60))
    assert summary["sessions"] == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not a valid HAR file (not JSON"),
        ('{"log": {}}', "no log.entries list"),
        (
            '{"log": {"entries": [{"request": {"method": "GET"}}]}}',
            "entry 1 is malformed (ValueError: request.url is None, not an absolute http(s) URL)",
        ),
    ],
)
def test_malformed_har_is_refused_and_leaves_no_file(tmp_path, text, message):
    (tmp_path / "bad.har").write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_har(tmp_path / "bad.har", RecorderSettings(out=tmp_path / "out.db"))
    assert not (tmp_path / "out.db").exists()
