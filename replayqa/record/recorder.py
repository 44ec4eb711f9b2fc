"""Recording logic, free of mitmproxy: the addon and the HAR importer both feed it.

For each request: answer session markers, drop what the filter does not
want, assign a session (capturing the database when a session group starts),
and remember the request. For each response: learn the credentials it hands
out, redact, tag the OpenAPI operation, and queue the row for the writer.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from replayqa.errors import ReplayqaError
from replayqa.record.filters import TrafficFilter
from replayqa.record.rows import checkpoint_row
from replayqa.record.sessions import (
    MARKER_PREFIX,
    Identity,
    SessionTracker,
    TrackedSession,
    cookie_keys,
    is_marker,
    request_keys,
    response_keys,
)
from replayqa.record.settings import RecorderSettings
from replayqa.record.sink import ProcessSink, ThreadSink
from replayqa.record.traffic import RequestInfo, ResponseInfo
from replayqa.redact import Redactor, stable_placeholders
from replayqa.state import open_state
from replayqa.state.base import ColumnRedaction, StateBackend, row_counts

if TYPE_CHECKING:
    from replayqa.spec import SpecIndex

log = logging.getLogger("replayqa.record")


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
        self.spec: SpecIndex | None = None
        if settings.spec:
            from replayqa.spec import SpecIndex  # only with --spec: it is slow to load

            self.spec = SpecIndex.load(settings.spec)
        key = secrets.token_bytes(32)  # redaction key: in memory only, shared with the writer
        self.redactor = Redactor(settings.rules, stable_placeholders(key))
        self.state: StateBackend | None = None
        try:
            self._open(settings, key)
        except BaseException:
            if self.state is not None:  # a half-made recorder holds nothing open
                self.state.disconnect()
            raise
        self.counts = {"exchanges": 0, "checkpoints": 0, "websocket_messages": 0}
        self._exchange_ids = itertools.count(1)
        self._checkpoint_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self.tracker = SessionTracker(
            settings.idle_gap,
            clock=clock,
            on_group_start=lambda group: self._capture(group, "start"),
            on_group_end=lambda group: self._capture(group, "end"),
            on_session_change=self._session_changed,
        )
        self._pending: dict[str, _Pending] = {}
        self._written_counts: dict[int, int] = {}
        self._summary: dict[str, Any] | None = None
        self.dropped = 0
        self.capture_errors: list[str] = []

    def _open(self, settings: RecorderSettings, key: bytes) -> None:
        if settings.db or settings.stores:
            self.state = open_state(settings.db, track_changes=False, stores=settings.stores)
            self.state.connect()
        meta = {
            "name": settings.name or settings.out.stem,
            "mode": settings.mode,
            "upstream": settings.upstream,
            "database": _database_kind(settings.db),
            "stores": [_database_kind(url) for url in settings.stores],
            "spec": settings.spec,
            "redaction": {
                **settings.rules.describe(),
                "database_columns": "named as secret fields are; salted password hashes kept",
            },
            "idle_gap": settings.idle_gap,
            **settings.extra_meta,
        }
        self.sink: ThreadSink | ProcessSink
        if settings.writer == "process":  # the writer process makes the file: this one never loads storage
            self.sink = ProcessSink(
                settings.out, key, settings.rules, settings.body_cap, settings.started_writer, create=meta
            )
        else:
            self.sink = ThreadSink(settings.out, key, settings.rules, settings.body_cap, create=meta)

    # -- requests ----------------------------------------------------------------

    def marker_response(self, request: RequestInfo) -> tuple[int, dict[str, Any]] | None:
        """Answer ``/__replayqa/session/start|end`` here; the app never sees them."""
        if not is_marker(request):
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

    def keeps(self, request: RequestInfo) -> bool:
        """Whether the recording keeps a request: a quick check, fit for the proxy's event loop."""
        if self.filter.wants_request(request.host, request.path):
            return True
        self.dropped += 1
        return False

    def on_request(self, request: RequestInfo) -> bool:
        """Note a request; False when the recording does not keep it."""
        if not self.keeps(request):
            return False
        session = self.tracker.assign(Identity(request.client_ip, request_keys(request.headers)))
        operation = self.spec.match(request.method, request.path) if self.spec else None
        self._pending[request.flow_id] = _Pending(next(self._exchange_ids), session, request, operation)
        return True

    # -- responses -----------------------------------------------------------------

    def on_response(self, flow_id: str, response: ResponseInfo) -> int | None:
        """Queue the exchange; returns its place in the writer's queue, for :meth:`when_committed`."""
        pending = self._pending.pop(flow_id, None)
        if pending is None:
            return None
        if not self.filter.wants_response(response.body.content_type):
            self.dropped += 1
            return None
        self.tracker.learn(
            pending.session,
            response_keys(response.headers, response.body.json_if_credentials()),
            cookie=bool(cookie_keys(response.headers)),
        )
        written = self._write(pending, response, None)
        if pending.request.method not in _READS and not self._pending:
            self._note_write_effects(pending.exchange_id)
        return written

    def when_committed(self, written: int, callback: Callable[[str | None], None]) -> None:
        """``callback(None)`` once an exchange :meth:`on_response` queued is on disk, or
        ``callback(problem)`` when it cannot be. The writer thread of HAR imports and tests
        promises nothing until :meth:`close`, so it answers at once."""
        if isinstance(self.sink, ProcessSink):
            self.sink.when_committed(written, callback)
        else:
            callback(None)

    def on_error(self, flow_id: str, error: str) -> None:
        pending = self._pending.pop(flow_id, None)
        if pending is not None:
            self._write(pending, None, error)

    def on_websocket_message(
        self, flow_id: str, from_client: bool, content: bytes, is_text: bool, timestamp: float
    ) -> None:
        self.counts["websocket_messages"] += 1
        self.sink.websocket(next(self._message_ids), flow_id, from_client, content, is_text, timestamp)

    # -- lifecycle -------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        sessions = self.tracker.sessions
        return {
            "exchanges": self.counts["exchanges"],
            "sessions": len(sessions),
            "open_sessions": sum(s.open for s in sessions),
            "captures": self.counts["checkpoints"],
            "dropped": self.dropped,
        }

    def tick(self) -> None:
        """End sessions that went idle, and refresh open sessions' counts (about once a second)."""
        self.tracker.expire()
        for session in self.tracker.sessions:
            if session.open and self._written_counts.get(session.id) != session.exchange_count:
                self._written_counts[session.id] = session.exchange_count
                self.sink.row("sessions", session.row())

    def close(self) -> dict[str, Any]:
        """End every session (capturing the end state), flush, and summarise. Safe to call twice."""
        if self._summary is not None:
            return self._summary
        for flow_id in list(self._pending):
            self.on_error(flow_id, "recording stopped before the response arrived")
        self.tracker.close_all("stopped")
        if self.capture_errors:
            self.sink.row("meta", {"key": "capture_errors", "value": json.dumps(self.capture_errors)})
        self.sink.close()
        if self.state is not None:
            self.state.disconnect()
        self._summary = {
            "out": str(self.settings.out),
            "sessions": len(self.tracker.sessions),
            "exchanges": self.counts["exchanges"],
            "checkpoints": self.counts["checkpoints"],
            "websocket_messages": self.counts["websocket_messages"],
            "dropped": self.dropped,
        }
        if self.sink.failure:
            raise RuntimeError(self.sink.failure)
        return self._summary

    # -- internals ---------------------------------------------------------------------

    def _session_changed(self, session: TrackedSession) -> None:
        self.sink.row("sessions", session.row())

    def _capture(self, group_id: int, kind: str) -> int | None:
        if self.state is None:
            return None
        try:
            capture = self.state.capture(ColumnRedaction(self.redactor.secret, self.redactor.is_secret_field))
        except ReplayqaError as exc:  # keep recording traffic; say so in the recording and the log
            self.capture_errors.append(f"{kind} of group {group_id}: {exc}")
            log.error("database capture failed: %s", exc)
            return None
        checkpoint_id = next(self._checkpoint_ids)
        self.counts["checkpoints"] += 1
        self.sink.row("checkpoints", checkpoint_row(checkpoint_id, group_id, kind, capture))
        return checkpoint_id

    def _note_write_effects(self, exchange_id: int) -> None:
        """Rows per table after a write nothing else overlapped: a replay compares what each step wrote.

        A create sent twice, whose second copy a later step deletes, leaves the
        end state as recorded; only the step's own effect shows it.
        """
        if self.state is None:
            return
        try:
            counts = row_counts(self.state)
        except ReplayqaError as exc:  # the traffic is kept; the recording and the log say what is missing
            if not any(e.startswith("row counts") for e in self.capture_errors):
                self.capture_errors.append(f"row counts after exchange {exchange_id} and maybe later: {exc}")
            log.error("counting rows after exchange %s failed: %s", exchange_id, exc)
            return
        if counts is not None:
            self.sink.row("write_effects", {"id": exchange_id, "counts": json.dumps(counts)})

    def _write(self, pending: _Pending, response: ResponseInfo | None, error: str | None) -> int:
        """Hand the raw exchange to the sink: redaction and row building happen on its side."""
        self.counts["exchanges"] += 1
        return self.sink.exchange(
            pending.exchange_id, pending.session.id, pending.operation, pending.request, response, error
        )


_READS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _database_kind(url: str | None) -> str | None:
    return url.split(":", 1)[0] if url else None
