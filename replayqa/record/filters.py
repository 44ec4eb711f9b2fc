"""Which traffic a recording keeps.

Patterns are ``HOST``, ``HOST/PATH`` or ``/PATH``, with shell wildcards:
``api.example.com``, ``*.example.com/api/*``, ``/health``. With ``--include``
only matching traffic is kept; ``--exclude`` drops matches. Static assets and
browsers' own background requests are dropped unless asked for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fnmatch import translate
from functools import lru_cache

STATIC_EXTENSIONS = frozenset(
    {
        ".js",
        ".mjs",
        ".css",
        ".map",
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".svg",
        ".ico",
        ".webp",
        ".avif",
        ".woff",
        ".woff2",
        ".ttf",
        ".otf",
        ".eot",
        ".mp4",
        ".webm",
        ".mp3",
        ".wav",
    }
)
STATIC_TYPES = ("image/", "font/", "text/css", "javascript", "video/", "audio/")
BROWSER_HOSTS = (
    "*.google.com",
    "*.gstatic.com",
    "*.googleapis.com",
    "*.googleusercontent.com",
    "*.gvt1.com",
    "*.mozilla.com",
    "*.mozilla.net",
    "*.mozilla.org",
    "*.firefox.com",
    "*.msftconnecttest.com",
    "*.apple.com",
    "*.icloud.com",
)


class _Patterns:
    """A list of patterns compiled once, since every request is checked against them."""

    def __init__(self, patterns: Sequence[str]) -> None:
        paths = [p for p in patterns if p.startswith("/")]
        self._paths = re.compile("|".join(translate(p) for p in paths)) if paths else None
        self._hosts: list[tuple[re.Pattern[str], re.Pattern[str] | None]] = []
        for pattern in (p for p in patterns if not p.startswith("/")):
            host, slash, path = pattern.partition("/")
            hosts = re.compile(f"{translate(host)}|{translate('*.' + host.lstrip('*.'))}")
            self._hosts.append((hosts, re.compile(translate("/" + path)) if slash else None))
        self.empty = not patterns

    def matches(self, host: str, path: str) -> bool:
        if self._paths is not None and self._paths.match(path):
            return True
        return any(h.match(host) and (p is None or p.match(path)) for h, p in self._hosts)


_BROWSER = _Patterns(BROWSER_HOSTS)


@lru_cache(maxsize=4096)
def _browser_host(host: str) -> bool:
    return _BROWSER.matches(host, "")


class TrafficFilter:
    def __init__(
        self, include: Sequence[str] = (), exclude: Sequence[str] = (), include_static: bool = False
    ) -> None:
        self.include = _Patterns(include)
        self.exclude = _Patterns(exclude)
        self.include_static = include_static

    def wants_request(self, host: str, path: str) -> bool:
        if not self.include.empty and not self.include.matches(host, path):
            return False
        if not self.exclude.empty and self.exclude.matches(host, path):
            return False
        if self.include_static:
            return True
        if _browser_host(host):
            return False
        dot = path.rfind(".")
        return dot < path.rfind("/") or path[dot:].lower() not in STATIC_EXTENSIONS

    def wants_response(self, content_type: str) -> bool:
        lower = content_type.lower()
        return self.include_static or not any(t in lower for t in STATIC_TYPES)
