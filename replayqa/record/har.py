"""HAR files (browser devtools exports) in and out of recordings.

Import feeds each entry through the same Recorder as live traffic, on the
HAR's own clock, so sessions, idle gaps, redaction and operation tags come
out exactly as if the traffic had been proxied. Export writes HAR 1.2 with
what a recording holds (already redacted).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from replayqa import __version__
from replayqa.errors import ConfigError
from replayqa.record.recorder import Recorder, RecorderSettings
from replayqa.record.storage import Recording
from replayqa.record.traffic import Body, RequestInfo, ResponseInfo


class _HarClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def import_har(har: Path, settings: RecorderSettings) -> dict[str, Any]:
    # Every entry is checked before the recording file is created: bad input leaves nothing behind.
    converted = [_convert(entry, i, har, settings.body_cap) for i, entry in enumerate(_read_entries(har))]
    clock = _HarClock()
    recorder = Recorder(settings, clock=clock)
    try:
        for request, response, error in converted:
            clock.now = request.timestamp
            if recorder.marker_response(request) is not None or not recorder.on_request(request):
                continue
            if response is None:
                recorder.on_error(request.flow_id, error or "no response")
            else:
                clock.now = response.timestamp
                recorder.on_response(request.flow_id, response)
    finally:
        summary = recorder.close()
    return summary


def export_har(recording_path: Path, har: Path) -> int:
    recording = Recording.open(recording_path)
    try:
        entries = [_entry(row) for row in recording.exchanges()]
        name = recording.meta.get("name", recording_path.stem)
    finally:
        recording.close()
    document = {
        "log": {
            "version": "1.2",
            "creator": {"name": "replayqa", "version": __version__},
            "pages": [],
            "entries": entries,
            "comment": f"exported from replayqa recording {name}",
        }
    }
    har.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    return len(entries)


# -- reading -------------------------------------------------------------------------


def _read_entries(har: Path) -> list[dict[str, Any]]:
    try:
        document = json.loads(har.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {har}: {exc.strerror}") from None
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ConfigError(
            f"{har} is not a valid HAR file (not JSON: {exc}); export it again from devtools"
        ) from None
    log = document.get("log") if isinstance(document, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(
            f"{har} is not a valid HAR file (no log.entries list); export it again from devtools"
        )
    return sorted(entries, key=lambda e: str(e.get("startedDateTime", "")) if isinstance(e, dict) else "")


def _convert(
    entry: Any, index: int, har: Path, body_cap: int
) -> tuple[RequestInfo, ResponseInfo | None, str | None]:
    where = f"{har}: entry {index + 1}"
    try:
        request = entry["request"]
        _require(request, where)
        url = urlsplit(request["url"])
        started = datetime.fromisoformat(entry["startedDateTime"].replace("Z", "+00:00")).timestamp()
        headers = [(h["name"], h["value"]) for h in request.get("headers", [])]
        post = request.get("postData") or {}
        info = RequestInfo(
            flow_id=f"har-{index + 1}",
            client=entry.get("_clientAddress") or "har",
            method=request["method"],
            scheme=url.scheme,
            host=url.hostname or "",
            port=url.port or (443 if url.scheme == "https" else 80),
            path=url.path or "/",
            query=url.query,
            http_version=request.get("httpVersion", ""),
            headers=headers,
            body=Body.from_bytes((post.get("text") or "").encode(), post.get("mimeType", ""), body_cap),
            timestamp=started,
        )
        response = entry.get("response") or {}
        status = response.get("status") or 0
        if isinstance(status, bool) or not isinstance(status, int) or not 0 <= status <= 999:
            raise ValueError(f"response.status is {status!r}, not an HTTP status")
        if status <= 0:  # HAR's way of saying there was no response
            return info, None, response.get("_error") or "no response"
        content = response.get("content") or {}
        text = content.get("text") or ""
        raw = base64.b64decode(text) if content.get("encoding") == "base64" else text.encode()
        mime = content.get("mimeType", "")
        return (
            info,
            ResponseInfo(
                status=status,
                reason=response.get("statusText", ""),
                headers=[(h["name"], h["value"]) for h in response.get("headers", [])],
                body=Body.from_bytes(raw, mime, body_cap),
                timestamp=started + float(entry.get("time") or 0) / 1000,
            ),
            None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # any shape a HAR file can have
        raise ConfigError(
            f"{where} is malformed ({type(exc).__name__}: {exc}); export the HAR again from devtools"
        ) from None


def _require(request: Any, where: str) -> None:
    """What a browser's export always has; without it the exchange would be recorded wrong."""
    method, url = request.get("method"), request.get("url")
    if not isinstance(method, str) or not method.isalpha():
        raise ValueError(f"request.method is {method!r}, not an HTTP method")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"request.url is {url!r}, not an absolute http(s) URL")
    for name in ("headers", "queryString", "cookies"):
        if not isinstance(request.get(name, []), list):
            raise ValueError(f"request.{name} is not a list")


# -- writing -------------------------------------------------------------------------


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    started = datetime.fromtimestamp(row["started_at"] or 0, tz=UTC).isoformat().replace("+00:00", "Z")
    request: dict[str, Any] = {
        "method": row["method"],
        "url": row["url"],
        "httpVersion": row["http_version"] or "HTTP/1.1",
        "headers": [{"name": k, "value": v} for k, v in row["request_headers"]],
        "queryString": [],
        "cookies": [],
        "headersSize": -1,
        "bodySize": row["request_body_size"] or 0,
    }
    if row["request_body"] is not None or row["request_body_blob"] is not None:
        request["postData"] = {
            "mimeType": row["request_content_type"] or "",
            "text": row["request_body"] if row["request_body"] is not None else "",
        }
    content: dict[str, Any] = {
        "size": row["response_body_size"] or 0,
        "mimeType": row["response_content_type"] or "",
    }
    if row["response_body"] is not None:
        content["text"] = row["response_body"]
    elif row["response_body_blob"] is not None:
        content["text"] = base64.b64encode(row["response_body_blob"]).decode()
        content["encoding"] = "base64"
    response = {
        "status": row["status"] or 0,
        "statusText": row["reason"] or "",
        "httpVersion": row["http_version"] or "HTTP/1.1",
        "headers": [{"name": k, "value": v} for k, v in row["response_headers"]],
        "cookies": [],
        "content": content,
        "redirectURL": "",
        "headersSize": -1,
        "bodySize": row["response_body_size"] or 0,
    }
    if row["error"]:
        response["_error"] = row["error"]
    duration = row["duration_ms"] or 0
    return {
        "startedDateTime": started,
        "time": duration,
        "request": request,
        "response": response,
        "cache": {},
        "timings": {"send": 0, "wait": duration, "receive": 0},
        "_clientAddress": (row["client"] or "").rsplit(":", 1)[0] or None,
    }
