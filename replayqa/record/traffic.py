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

_CREDENTIAL_HINT = re.compile(r"token|session", re.IGNORECASE)
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


@dataclass
class Body:
    text: str | None = None
    blob: bytes | None = None
    size: int = 0
    sha256: str | None = None

    @classmethod
    def from_bytes(cls, raw: bytes | None, content_type: str, cap: int) -> Body:
        """Text stays text (decoded already: gzip, br, zstd); binary is kept up to ``cap`` bytes."""
        if not raw:
            return cls()
        if _looks_textual(content_type, raw):
            try:  # text is hashed as stored (redacted), by the recorder
                return cls(text=raw.decode("utf-8"), size=len(raw))
            except UnicodeDecodeError:
                pass
        return cls(blob=raw[:cap], size=len(raw), sha256=hashlib.sha256(raw).hexdigest())

    def json_if_credentials(self) -> Any:
        """The parsed body, only when it may hand out a token: parsing every body would slow the proxy."""
        if self.text is None or len(self.text) > 65536 or not _CREDENTIAL_HINT.search(self.text):
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
