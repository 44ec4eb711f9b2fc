"""Recording logic, free of mitmproxy: the addon and the HAR importer both feed it.

For each request: answer session markers, drop what the filter does not
want, assign a session (capturing the database when a session group starts),
and remember the request. For each response: learn the credentials it hands
out, redact, tag the OpenAPI operation, and queue the row for the writer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from replayqa.errors import ReplayqaError
from replayqa.record.filters import TrafficFilter
from replayqa.record.sessions import (
    MARKER_PREFIX,
    Identity,
    SessionTracker,
    TrackedSession,
    request_keys,
    response_keys,
)
from replayqa.record.storage import RecordingWriter
from replayqa.record.traffic import Body, RequestInfo, ResponseInfo
from replayqa.redact import RedactionRules, Redactor, stable_placeholders
from replayqa.spec import SpecIndex
from replayqa.state import open_state
from replayqa.state.base import ColumnRedaction, StateBackend

log = logging.getLogger("replayqa.record")

#: Recordings keep card numbers: replays need the real test card to get the same answer.
RECORDING_RULES = RedactionRules(cards=False)


@dataclass
class RecorderSettings:
    out: Path
    name: str = ""
    db: str | None = None
    spec: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    include_static: bool = False
    idle_gap: float = 300.0
    body_cap: int = 1_000_000
    rules: RedactionRules = RECORDING_RULES
    mode: str = ""
    upstream: str | None = None
    extra_meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Pending:
    exchange_id: int
    session: TrackedSession
    request: RequestInfo
    operation: str | None


class Recorder:
    def __init__(self, settings: RecorderSettings, clock: Any = time.time) -> None:
        self.settings = settings
        self.filter = TrafficFilter(settings.include, settings.exclude, settings.include_static)
        self.spec = SpecIndex.load(settings.spec) if settings.spec else None
        self.redactor = Redactor(settings.rules, stable_placeholders())
        self.state: StateBackend | None = None
        if settings.db:
            self.state = open_state(settings.db, track_changes=False)
            self.state.connect()
        self.writer = RecordingWriter(
            settings.out,
            {
                "name": settings.name or settings.out.stem,
                "mode": settings.mode,
                "upstream": settings.upstream,
                "database": _database_kind(settings.db),
                "spec": settings.spec,
                "redaction": {
                    **settings.rules.describe(),
                    "database_columns": ColumnRedaction(str).columns.pattern,
                },
                "idle_gap": settings.idle_gap,
                **settings.extra_meta,
            },
        )
        self.tracker = SessionTracker(
            settings.idle_gap,
            clock=clock,
            on_group_start=lambda group: self._capture(group, "start"),
            on_group_end=lambda group: self._capture(group, "end"),
            on_session_change=lambda session: self.writer.add("sessions", session.row()),
        )
        self._pending: dict[str, _Pending] = {}
        self._written_counts: dict[int, int] = {}
        self.dropped = 0
        self.capture_errors: list[str] = []

    # -- requests ----------------------------------------------------------------

    def marker_response(self, request: RequestInfo) -> tuple[int, dict[str, Any]] | None:
        """Answer ``/__replayqa/session/start|end`` here; the app never sees them."""
        if not request.path.startswith(MARKER_PREFIX):
            return None
        action = request.path[len(MARKER_PREFIX) :].strip("/")
        identity = Identity(request.client_ip, request_keys(request.headers))
        if action == "start":
            name = (parse_qs(request.query).get("name") or [""])[0]
            session = self.tracker.start_marked(name, identity)
            return 200, {"session": session.name, "id": session.id, "started": True}
        if action == "end":
            ended = self.tracker.end_marked(identity)
            if ended is None:
                return 409, {"error": f"no session was started from {identity.client}"}
            return 200, {
                "session": ended.name,
                "id": ended.id,
                "ended": True,
                "exchanges": ended.exchange_count,
            }
        return 404, {"error": f"unknown marker {action!r}: use start?name=NAME or end"}

    def on_request(self, request: RequestInfo) -> bool:
        """Note a request; False when the recording does not keep it."""
        if not self.filter.wants_request(request.host, request.path):
            self.dropped += 1
            return False
        session = self.tracker.assign(Identity(request.client_ip, request_keys(request.headers)))
        operation = self.spec.match(request.method, request.path) if self.spec else None
        self._pending[request.flow_id] = _Pending(next(self.writer.exchange_ids), session, request, operation)
        return True

    # -- responses -----------------------------------------------------------------

    def on_response(self, flow_id: str, response: ResponseInfo) -> None:
        pending = self._pending.pop(flow_id, None)
        if pending is None:
            return
        if not self.filter.wants_response(response.header("content-type")):
            self.dropped += 1
            return
        self.tracker.learn(
            pending.session, response_keys(response.headers, response.body.json_if_credentials())
        )
        # Redaction, hashing and row building happen on the writer's thread, off the proxy's.
        self.writer.add("exchanges", lambda: self._row(pending, response, None))

    def on_error(self, flow_id: str, error: str) -> None:
        pending = self._pending.pop(flow_id, None)
        if pending is not None:
            self.writer.add("exchanges", lambda: self._row(pending, None, error))

    def on_websocket_message(
        self, flow_id: str, from_client: bool, content: bytes, is_text: bool, timestamp: float
    ) -> None:
        text = content.decode("utf-8", errors="replace") if is_text else None
        self.writer.add(
            "websocket_messages",
            {
                "id": next(self.writer.message_ids),
                "flow_id": flow_id,
                "from_client": int(from_client),
                "is_text": int(is_text),
                "content": self.redactor.body(text) if text is not None else None,
                "content_blob": None if is_text else content[: self.settings.body_cap],
                "timestamp": timestamp,
            },
        )

    # -- lifecycle -------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        sessions = self.tracker.sessions
        return {
            "exchanges": self.writer.counts["exchanges"],
            "sessions": len(sessions),
            "open_sessions": sum(s.open for s in sessions),
            "captures": self.writer.counts["checkpoints"],
            "dropped": self.dropped,
        }

    def tick(self) -> None:
        """End sessions that went idle, and refresh open sessions' counts (about once a second)."""
        self.tracker.expire()
        for session in self.tracker.sessions:
            if session.open and self._written_counts.get(session.id) != session.exchange_count:
                self._written_counts[session.id] = session.exchange_count
                self.writer.add("sessions", session.row())

    def close(self) -> dict[str, Any]:
        """End every session (capturing the end state), flush, and summarise."""
        for flow_id in list(self._pending):
            self.on_error(flow_id, "recording stopped before the response arrived")
        self.tracker.close_all("stopped")
        if self.capture_errors:
            self.writer.set_meta({"capture_errors": self.capture_errors})
        self.writer.close()
        if self.state is not None:
            self.state.disconnect()
        return {
            "out": str(self.settings.out),
            "sessions": len(self.tracker.sessions),
            "exchanges": self.writer.counts["exchanges"],
            "checkpoints": self.writer.counts["checkpoints"],
            "websocket_messages": self.writer.counts["websocket_messages"],
            "dropped": self.dropped,
        }

    # -- internals ---------------------------------------------------------------------

    def _capture(self, group_id: int, kind: str) -> int | None:
        if self.state is None:
            return None
        try:
            capture = self.state.capture(ColumnRedaction(self.redactor.secret))
        except ReplayqaError as exc:  # keep recording traffic; say so in the recording and the log
            self.capture_errors.append(f"{kind} of group {group_id}: {exc}")
            log.error("database capture failed: %s", exc)
            return None
        return self.writer.add_checkpoint(group_id, kind, capture)

    def _row(self, pending: _Pending, response: ResponseInfo | None, error: str | None) -> dict[str, Any]:
        request = pending.request
        ended = response.timestamp if response and response.timestamp else time.time()
        row: dict[str, Any] = {
            "id": pending.exchange_id,
            "flow_id": request.flow_id,
            "session_id": pending.session.id,
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
            "query": self.redactor.url("?" + request.query)[1:] if request.query else "",
            "url": self.redactor.url(request.url),
            "operation": pending.operation,
            "request_headers": json.dumps(self.redactor.header_pairs(request.headers)),
            "request_content_type": request.header("content-type"),
            **self._body("request", request.body, request.header("content-type")),
            "error": error,
        }
        if response is not None:
            row |= {
                "status": response.status,
                "reason": response.reason,
                "response_headers": json.dumps(self.redactor.header_pairs(response.headers)),
                "response_content_type": response.header("content-type"),
                "response_streamed": int(response.streamed),
                **self._body("response", response.body, response.header("content-type")),
            }
        return row

    def _body(self, prefix: str, body: Body, content_type: str) -> dict[str, Any]:
        """Text is stored redacted and hashed as stored, so no hash can betray a secret."""
        text = self.redactor.body(body.text, content_type) if body.text is not None else None
        digest = hashlib.sha256(text.encode()).hexdigest() if text is not None else body.sha256
        return {
            f"{prefix}_body": text,
            f"{prefix}_body_blob": body.blob,
            f"{prefix}_body_size": body.size,
            f"{prefix}_body_sha256": digest,
        }


def _database_kind(url: str | None) -> str | None:
    return url.split(":", 1)[0] if url else None
