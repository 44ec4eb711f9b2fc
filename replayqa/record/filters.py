"""Which traffic a recording keeps.

Patterns are ``HOST``, ``HOST/PATH`` or ``/PATH``, with shell wildcards:
``api.example.com``, ``*.example.com/api/*``, ``/health``. With ``--include``
only matching traffic is kept; ``--exclude`` drops matches. Static assets and
browsers' own background requests are dropped unless asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import PurePosixPath

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


def _matches(pattern: str, host: str, path: str) -> bool:
    if pattern.startswith("/"):
        return fnmatchcase(path, pattern)
    host_pattern, slash, path_pattern = pattern.partition("/")
    if not (fnmatchcase(host, host_pattern) or fnmatchcase(host, "*." + host_pattern.lstrip("*."))):
        return False
    return not slash or fnmatchcase(path, "/" + path_pattern)


class TrafficFilter:
    def __init__(
        self, include: Sequence[str] = (), exclude: Sequence[str] = (), include_static: bool = False
    ) -> None:
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.include_static = include_static

    def wants_request(self, host: str, path: str) -> bool:
        if self.include and not any(_matches(p, host, path) for p in self.include):
            return False
        if any(_matches(p, host, path) for p in self.exclude):
            return False
        if self.include_static:
            return True
        if any(_matches(p, host, path) for p in BROWSER_HOSTS):
            return False
        return PurePosixPath(path).suffix.lower() not in STATIC_EXTENSIONS

    def wants_response(self, content_type: str) -> bool:
        lower = content_type.lower()
        return self.include_static or not any(t in lower for t in STATIC_TYPES)
