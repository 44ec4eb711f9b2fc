"""Turning traffic into recording rows: redaction, hashing, JSON columns.

This is the work the proxy must not do on its own event loop; it runs on the
writer's side (a thread, or the writer process).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from replayqa.model import DatabaseCapture
from replayqa.record.traffic import Body, RequestInfo, ResponseInfo
from replayqa.redact import Redactor


class RowBuilder:
    def __init__(self, redactor: Redactor, body_cap: int) -> None:
        self.redactor = redactor
        self.body_cap = body_cap

    def exchange(
        self,
        exchange_id: int,
        session_id: int,
        operation: str | None,
        request: RequestInfo,
        response: ResponseInfo | None,
        error: str | None,
    ) -> dict[str, Any]:
        redact = self.redactor
        ended = response.timestamp if response and response.timestamp else request.timestamp
        row: dict[str, Any] = {
            "id": exchange_id,
            "flow_id": request.flow_id,
            "session_id": session_id,
            "started_at": request.timestamp,
            "ended_at": ended,
            "duration_ms": round((ended - request.timestamp) * 1000, 3) if request.timestamp else None,
            "client": request.client,
            "http_version": request.http_version,
            "method": request.method,
            "scheme": request.scheme,
            "host": request.host,
            "port": request.port,
            "path": request.path,
            "query": redact.url("?" + request.query)[1:] if request.query else "",
            "url": redact.url(request.url),
            "operation": operation,
            "request_headers": json.dumps(redact.header_pairs(request.headers)),
            "request_content_type": request.header("content-type"),
            **self._body("request", request.body, request.header("content-type")),
            "error": error,
        }
        if response is not None:
            row |= {
                "status": response.status,
                "reason": response.reason,
                "response_headers": json.dumps(redact.header_pairs(response.headers)),
                "response_content_type": response.header("content-type"),
                "response_streamed": int(response.streamed),
                **self._body("response", response.body, response.header("content-type")),
            }
        return row

    def websocket(
        self,
        message_id: int,
        flow_id: str,
        from_client: bool,
        content: bytes,
        is_text: bool,
        timestamp: float,
    ) -> dict[str, Any]:
        text = content.decode("utf-8", errors="replace") if is_text else None
        return {
            "id": message_id,
            "flow_id": flow_id,
            "from_client": int(from_client),
            "is_text": int(is_text),
            "content": self.redactor.body(text) if text is not None else None,
            "content_blob": None if is_text else self._message_blob(content),
            "timestamp": timestamp,
        }

    def _message_blob(self, content: bytes) -> bytes:
        """A binary WebSocket message that is JSON after all keeps its redacted text, encoded back."""
        decoded = self.redactor.decoded(content)
        return decoded.encode() if decoded is not None else content[: self.body_cap]

    def _body(self, prefix: str, body: Body, content_type: str) -> dict[str, Any]:
        """Text is stored redacted and hashed as stored, so no hash can betray a secret."""
        if body.raw and content_type.lower().startswith("multipart/form-data"):
            raw = self.redactor.multipart(body.raw, content_type)
            body = Body(raw, body.content_type, body.cap, body.total)
        text, blob = stored_body(self.redactor, body, content_type)
        digest = hashlib.sha256(text.encode()).hexdigest() if text is not None else body.sha256
        return {
            f"{prefix}_body": text,
            f"{prefix}_body_blob": blob,
            f"{prefix}_body_size": body.size,
            f"{prefix}_body_sha256": digest,
        }


def stored_body(redactor: Redactor, body: Body, content_type: str) -> tuple[str | None, bytes | None]:
    """What a recording keeps of a body: redacted text, or bytes that are not text at all.

    A body cut at the cap keeps only whole lines; bytes that turn out to be
    JSON in another charset are kept as redacted text.
    """
    if body.text is not None:
        if body.truncated:
            return redactor.truncated_body(body.text, content_type), None
        return redactor.body(body.text, content_type), None
    if body.blob is None:
        return None, None
    if body.truncated:
        text = body.raw.decode("utf-8", "replace")
        return (redactor.truncated_body(text, content_type), None) if _textual(text) else (None, body.blob)
    decoded = redactor.decoded(body.raw, content_type)
    return (decoded, None) if decoded is not None else (None, body.blob)


def _textual(text: str) -> bool:
    """Mostly printable: a cut text body whose last character was split, not an image."""
    sample = text[:4096]
    return sum(c.isprintable() or c in "\r\n\t" for c in sample) > 0.95 * len(sample)


def checkpoint_row(checkpoint_id: int, group_id: int, kind: str, capture: DatabaseCapture) -> dict[str, Any]:
    return {
        "id": checkpoint_id,
        "group_id": group_id,
        "kind": kind,
        "backend": capture.backend,
        "taken_at": capture.taken_at,
        "size": len(capture.data),
        "tables": json.dumps(capture.tables),
        "data": capture.data,
    }
