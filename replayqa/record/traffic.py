"""Traffic as the recorder sees it, independent of where it came from.

mitmproxy flows (``flows.py``) and HAR entries (``har.py``) are converted
into these, each in one function, so recording logic is written once.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

_CREDENTIAL_HINT = re.compile(rb"token|session", re.IGNORECASE)
_TEXT_TYPES = (
    "json",
    "xml",
    "text/",
    "x-www-form-urlencoded",
    "javascript",
    "graphql",
    "yaml",
    "csv",
    "html",
)


class Body:
    """A message body, decoded lazily.

    The proxy only keeps the raw bytes; deciding text or binary, decoding and
    hashing happen when the writer asks, off the proxy's event loop.
    """

    __slots__ = ("_blob", "_decided", "_sha256", "_text", "cap", "content_type", "raw", "total")

    def __init__(
        self, raw: bytes | None = None, content_type: str = "", cap: int = 1_000_000, total: int | None = None
    ) -> None:
        self.raw = raw or b""
        self.content_type = content_type
        self.cap = cap
        #: The whole body's size, when only its start was kept (a streamed body over the cap).
        self.total = total
        self._decided = False
        self._text: str | None = None
        self._blob: bytes | None = None
        self._sha256: str | None = None

    @classmethod
    def from_bytes(cls, raw: bytes | None, content_type: str, cap: int, total: int | None = None) -> Body:
        return cls(raw, content_type, cap, total)

    def __getstate__(self) -> tuple[bytes, str, int, int | None]:
        return self.raw, self.content_type, self.cap, self.total

    def __setstate__(self, state: tuple[bytes, str, int, int | None]) -> None:
        self.__init__(*state)  # type: ignore[misc]

    def _decide(self) -> None:
        """Text stays text (already decoded from gzip, br, zstd); binary is kept up to ``cap`` bytes."""
        if self._decided:
            return
        self._decided = True
        raw = self.raw
        if not raw:
            return
        if _looks_textual(self.content_type, raw):
            try:  # text is hashed as stored (redacted), by the row builder
                self._text = raw.decode("utf-8")
                return
            except UnicodeDecodeError:
                pass
        self._blob = raw[: self.cap]
        self._sha256 = hashlib.sha256(raw).hexdigest()

    @property
    def text(self) -> str | None:
        self._decide()
        return self._text

    @property
    def blob(self) -> bytes | None:
        self._decide()
        return self._blob

    @property
    def sha256(self) -> str | None:
        self._decide()
        return self._sha256

    @property
    def size(self) -> int:
        return self.total if self.total is not None else len(self.raw)

    @property
    def truncated(self) -> bool:
        """Only the start was kept: what is stored must not depend on parsing the whole."""
        return self.total is not None and self.total > len(self.raw)

    def json_if_credentials(self) -> Any:
        """The parsed body, only when it may hand out a token: parsing every body would slow the proxy."""
        if not self.raw or len(self.raw) > 65536 or not _CREDENTIAL_HINT.search(self.raw):
            return None
        return self.json()

    def json(self) -> Any:
        if self.text is None:
            return None
        try:
            return json.loads(self.text)
        except ValueError:
            return None


def _looks_textual(content_type: str, raw: bytes) -> bool:
    lower = content_type.lower()
    if lower:
        return any(t in lower for t in _TEXT_TYPES)
    return b"\x00" not in raw[:1024]


@dataclass
class RequestInfo:
    flow_id: str
    client: str  # "ip:port"
    method: str
    scheme: str
    host: str
    port: int
    path: str
    query: str
    http_version: str
    headers: list[tuple[str, str]]
    body: Body = field(default_factory=Body)
    timestamp: float = 0.0

    @property
    def client_ip(self) -> str:
        return self.client.rsplit(":", 1)[0] if ":" in self.client else self.client

    @property
    def url(self) -> str:
        default = (self.scheme == "http" and self.port == 80) or (self.scheme == "https" and self.port == 443)
        netloc = self.host if default else f"{self.host}:{self.port}"
        return f"{self.scheme}://{netloc}{self.path}" + (f"?{self.query}" if self.query else "")

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")


@dataclass
class ResponseInfo:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: Body = field(default_factory=Body)
    timestamp: float = 0.0
    streamed: bool = False

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")
