"""Grouping exchanges into user sessions.

Explicit markers win: between ``/__replayqa/session/start?name=...`` and
``/__replayqa/session/end`` everything a client address sends belongs to the
named session. Without markers, a session is one client identity: the bearer
token, session cookie or API key it sends, or its address when it sends none. A
token or cookie that a session's response hands out (``Set-Cookie``, a
``token`` field in a JSON body) joins that session, so an anonymous visitor
who logs in stays one session. A browser sends the cookies it was handed on
every request to that server, so a request with none, from an address whose
session was handed a session cookie, comes from another cookie jar: a second
browser or profile behind the same address, and a session of its own. A
session ends after ``idle_gap`` seconds without traffic.

Sessions that overlap in time form a *group*. The database is captured when a
group's first session starts and when its last one ends, so concurrent users
share one start and one end capture, and the sessions say so (``overlapped``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from replayqa.record.traffic import RequestInfo

MARKER_PREFIX = "/__replayqa/session/"
_SESSION_COOKIE = re.compile(r"sess|sid|token|auth|jwt|login|remember", re.IGNORECASE)
#: Headers that carry who the caller is, besides Authorization and Cookie (mobile apps often use these).
_KEY_HEADER = re.compile(r"^x-(api-?key|auth-token|access-token|session-?(id|token)?)$|^api-?key$", re.I)
_TOKEN_FIELD = re.compile(
    r"^(access_?|id_?|refresh_?|auth_?|session_?)?token$|^session(_?id)?$", re.IGNORECASE
)


def is_marker(request: RequestInfo) -> bool:
    return request.path.startswith(MARKER_PREFIX)


@dataclass(frozen=True)
class Identity:
    """Who sent a request: its address, and the credentials that name a user."""

    client: str
    keys: tuple[str, ...] = ()


@dataclass
class TrackedSession:
    id: int
    name: str
    identity: str
    source: str  # marker | identity
    client: str
    started_at: float
    group_id: int
    last_seen: float
    overlapped: bool = False
    ended_at: float | None = None
    end_reason: str | None = None
    start_checkpoint_id: int | None = None
    end_checkpoint_id: int | None = None
    exchange_count: int = 0
    keys: set[str] = field(default_factory=set)
    handed_cookie: bool = False  # a response set a session-like cookie: its browser sends it from now on

    @property
    def open(self) -> bool:
        return self.ended_at is None

    def row(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "identity": self.identity,
            "source": self.source,
            "client": self.client,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "end_reason": self.end_reason,
            "group_id": self.group_id,
            "overlapped": int(self.overlapped),
            "start_checkpoint_id": self.start_checkpoint_id,
            "end_checkpoint_id": self.end_checkpoint_id,
            "exchange_count": self.exchange_count,
        }


def request_keys(headers: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """Credentials in a request that identify a user: bearer tokens, session-like cookies, API keys."""
    keys: list[str] = []
    for name, value in headers:
        lower = name.lower()
        if lower == "authorization":
            keys.append("token:" + value.partition(" ")[2].strip() if " " in value else "token:" + value)
        elif lower == "cookie":
            for pair in value.split(";"):
                cookie, _, cookie_value = pair.strip().partition("=")
                if cookie_value and (_SESSION_COOKIE.search(cookie) or len(cookie_value) >= 16):
                    keys.append("token:" + cookie_value)
        elif value and _KEY_HEADER.match(lower):
            keys.append("token:" + value.strip())
    return tuple(keys)


def cookie_keys(headers: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """Session-like cookies a response sets (``Set-Cookie``), as request_keys will see them."""
    keys = []
    for name, value in headers:
        if name.lower() == "set-cookie":
            cookie, _, rest = value.partition(";")[0].partition("=")
            if rest and (_SESSION_COOKIE.search(cookie) or len(rest) >= 16):
                keys.append("token:" + rest.strip())
    return tuple(keys)


def response_keys(headers: Iterable[tuple[str, str]], json_body: object) -> tuple[str, ...]:
    """Credentials a response hands out, which later requests will send."""
    keys = list(cookie_keys(headers))
    if isinstance(json_body, dict):
        for key, value in json_body.items():
            if isinstance(value, str) and value and _TOKEN_FIELD.match(key):
                keys.append("token:" + value)
    return tuple(keys)


class SessionTracker:
    """Decides the session of every request; tells its owner when capture points come.

    ``on_group_start(group_id)`` and ``on_group_end(group_id)`` return the id
    of the database checkpoint they took (or None without a database).
    ``on_session_change(session)`` is called whenever a session's row changes.
    """

    def __init__(
        self,
        idle_gap: float = 300.0,
        clock: Callable[[], float] = time.time,
        on_group_start: Callable[[int], int | None] = lambda group: None,
        on_group_end: Callable[[int], int | None] = lambda group: None,
        on_session_change: Callable[[TrackedSession], None] = lambda session: None,
    ) -> None:
        self.idle_gap = idle_gap
        self.clock = clock
        self.on_group_start = on_group_start
        self.on_group_end = on_group_end
        self.on_session_change = on_session_change
        self.sessions: list[TrackedSession] = []
        self._open: dict[int, TrackedSession] = {}  # per-request work must not grow with history
        self._groups_members: dict[int, list[TrackedSession]] = {}
        self._by_key: dict[str, TrackedSession] = {}
        self._marked: dict[str, TrackedSession] = {}  # client address -> marker session
        self._group: int | None = None
        self._group_start_checkpoint: int | None = None
        self._groups = 0

    # -- markers ---------------------------------------------------------------

    def start_marked(self, name: str, identity: Identity) -> TrackedSession:
        previous = self._marked.pop(identity.client, None)
        if previous is not None:
            self._end(previous, "marker")
        session = self._new(identity, name=name, source="marker")
        self._marked[identity.client] = session
        return session

    def end_marked(self, identity: Identity) -> TrackedSession | None:
        session = self._marked.pop(identity.client, None)
        if session is not None:
            self._end(session, "marker")
        return session

    # -- traffic ---------------------------------------------------------------

    def assign(self, identity: Identity) -> TrackedSession:
        """The session a request belongs to, opening one if needed."""
        now = self.clock()
        self.expire(now)
        session = self._marked.get(identity.client) or self._find(identity)
        if session is None:
            session = self._new(identity)
        session.last_seen = now
        session.exchange_count += 1
        self._remember(session, identity.keys)
        return session

    def learn(self, session: TrackedSession, keys: Iterable[str], cookie: bool = False) -> None:
        """Credentials a session's response handed out now point to that session.

        ``cookie``: some of them were set as cookies, which a browser sends back unasked.
        """
        self._remember(session, keys)
        session.handed_cookie = session.handed_cookie or cookie

    def expire(self, now: float | None = None) -> list[TrackedSession]:
        """End identity sessions that have been idle longer than the gap."""
        now = self.clock() if now is None else now
        idle = [
            s for s in self._open.values() if s.source == "identity" and now - s.last_seen > self.idle_gap
        ]
        for session in idle:
            self._end(session, "idle", ended_at=session.last_seen)
        return idle

    def close_all(self, reason: str = "stopped") -> None:
        for session in list(self._open.values()):
            self._end(session, reason)
        self._marked.clear()

    # -- internals ---------------------------------------------------------------

    def _find(self, identity: Identity) -> TrackedSession | None:
        for key in identity.keys:
            session = self._by_key.get(key)
            if session is not None and session.open:
                return session
        if identity.keys:
            return None  # credentials nobody has seen: a user of their own
        session = self._by_key.get("client:" + identity.client)
        if session is None or not session.open or session.handed_cookie:
            return None  # none, or it would have sent the cookie it was handed: another browser
        return session

    def _remember(self, session: TrackedSession, keys: Iterable[str]) -> None:
        for key in keys:
            self._by_key[key] = session
            session.keys.add(key)

    def _new(self, identity: Identity, name: str = "", source: str = "identity") -> TrackedSession:
        now = self.clock()
        open_sessions = list(self._open.values())
        if not open_sessions:
            self._groups += 1
            self._group = self._groups
            self._group_start_checkpoint = self.on_group_start(self._group)
        assert self._group is not None
        session = TrackedSession(
            id=len(self.sessions) + 1,
            name=name or f"session-{len(self.sessions) + 1}",
            identity=_describe(identity, source),
            source=source,
            client=identity.client,
            started_at=now,
            group_id=self._group,
            last_seen=now,
            start_checkpoint_id=self._group_start_checkpoint,
        )
        if open_sessions:
            session.overlapped = True
            for other in open_sessions:
                if not other.overlapped:
                    other.overlapped = True
                    self.on_session_change(other)
        self.sessions.append(session)
        self._open[session.id] = session
        self._groups_members.setdefault(session.group_id, []).append(session)
        if source == "identity" and not identity.keys:
            self._by_key["client:" + identity.client] = session
        self.on_session_change(session)
        return session

    def _end(self, session: TrackedSession, reason: str, ended_at: float | None = None) -> None:
        session.ended_at = ended_at if ended_at is not None else self.clock()
        session.end_reason = reason
        self._open.pop(session.id, None)
        for key in session.keys:
            if self._by_key.get(key) is session:
                del self._by_key[key]
        if self._by_key.get("client:" + session.client) is session:
            del self._by_key["client:" + session.client]
        group = self._groups_members[session.group_id]
        if all(not s.open for s in group):
            checkpoint = self.on_group_end(session.group_id)
            for member in group:
                member.end_checkpoint_id = checkpoint
                self.on_session_change(member)
        else:
            self.on_session_change(session)


def _describe(identity: Identity, source: str) -> str:
    """How the session was recognised; never the credential itself."""
    if source == "marker":
        return f"markers from {identity.client}"
    return "credentials (token or session cookie)" if identity.keys else f"client {identity.client}"
