"""Counting from the app's own access log: which spec operations answered 2xx, which answered 500.

Neither tool's report is trusted for reach: both are counted the same way,
from the lines the app itself wrote for each request it served, matched to
the spec's operations by path template.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# "GET /path HTTP/1.1" 200 (uvicorn, common log format) and "GET   /path?" 200 (Pyramid/Kinto)
REQUEST_LINE = re.compile(
    r'"(?P<method>[A-Z]{3,7})\s+(?P<path>/[^"\s]*)(?:\s+HTTP/[\d.]+)?"\s+(?P<status>\d{3})'
)
# [I 2026-11-30 00:00:00.000 ServerApp] 200 GET /api/contents (...) (Tornado)
STATUS_FIRST = re.compile(r"\]\s+(?P<status>\d{3})\s+(?P<method>[A-Z]{3,7})\s+(?P<path>/\S*)")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    status: int


def hits(log: Path, pattern: re.Pattern[str], since: int = 0) -> list[Hit]:
    """Every request line in ``log`` from byte offset ``since`` on."""
    with log.open("rb") as handle:
        handle.seek(since)
        text = handle.read().decode("utf-8", "replace")
    found = []
    for line in text.splitlines():
        match = pattern.search(_ANSI.sub("", line))
        if match:
            path = urlsplit(match["path"]).path
            found.append(Hit(match["method"].upper(), unquote(path), int(match["status"])))
    return found


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    regex: re.Pattern[str]
    params: int

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


def load_spec(text: str) -> dict[str, Any]:
    return json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)


def base_path(spec: dict[str, Any]) -> str:
    if "swagger" in spec:
        return (spec.get("basePath") or "").rstrip("/")
    servers = spec.get("servers") or [{}]
    return urlsplit(servers[0].get("url", "")).path.rstrip("/")


def operations(spec: dict[str, Any]) -> list[Operation]:
    prefix = base_path(spec)
    found = []
    for template, item in (spec.get("paths") or {}).items():
        pattern, params = _template_regex(prefix + template)
        for method in METHODS:
            if isinstance(item, dict) and method in item:
                found.append(Operation(method.upper(), template, pattern, params))
    return found


def _template_regex(template: str) -> tuple[re.Pattern[str], int]:
    parts = re.split(r"(\{[^}]+\})", template)
    params = sum(1 for p in parts if p.startswith("{"))
    body = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    # a trailing parameter may hold slashes (a file path): allowed only when nothing else matches
    return re.compile(f"^{body}/?$"), params


@dataclass
class Reach:
    operations: int
    ops_2xx: set[str] = field(default_factory=set)
    ops_500: set[str] = field(default_factory=set)
    unmatched: int = 0
    requests: int = 0


def reach(ops: list[Operation], seen: Iterable[Hit]) -> Reach:
    """Which operations the app answered 2xx, and which it answered 500."""
    result = Reach(operations=len(ops))
    by_specificity = sorted(ops, key=lambda o: (o.params, -len(o.template)))
    for hit in seen:
        result.requests += 1
        op = _match(by_specificity, hit)
        if op is None:
            result.unmatched += 1
            continue
        if 200 <= hit.status < 300:
            result.ops_2xx.add(op.key)
        elif hit.status == 500:
            result.ops_500.add(op.key)
    return result


def _match(ops: list[Operation], hit: Hit) -> Operation | None:
    for op in ops:
        if op.method == hit.method and op.regex.match(hit.path):
            return op
    for op in ops:  # a path parameter holding slashes, such as a file path
        if op.method == hit.method and op.params:
            loose = re.compile(op.regex.pattern.replace("[^/]+", ".+"))
            if loose.match(hit.path):
                return op
    return None
