"""``{{ ... }}`` templates and the small path language they share with checks.

A path is dotted names and ``[n]`` indexes: ``steps.create_item.body.id``,
``items[0].price``. A leading ``$`` or ``$.`` is allowed, as in JSONPath.
A string that is exactly one template keeps the value's type, so an id that is
an int stays an int in a JSON body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from replayqa.errors import TemplateError

_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_TOKEN = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


class PathNotFound(LookupError):
    """The path is well formed but the data has nothing there (a runtime finding)."""


def parse_path(path: str) -> list[str | int]:
    text = path.strip()
    if text.startswith("$"):
        text = text[1:].lstrip(".")
    parts: list[str | int] = []
    pos = 0
    while pos < len(text):
        if text[pos] == ".":
            pos += 1
            continue
        match = _TOKEN.match(text, pos)
        if not match:
            raise TemplateError(f"cannot parse path {path!r} at {text[pos:]!r}")
        name, index = match.groups()
        parts.append(int(index) if index is not None else name)
        pos = match.end()
    return parts


def resolve_path(data: Any, path: str) -> Any:
    """Follow ``path`` into nested dicts and lists; PathNotFound says where it stopped."""
    current = data
    walked = "$"
    for part in parse_path(path):
        if isinstance(current, list) and isinstance(part, str) and part.lstrip("-").isdigit():
            part = int(part)
        if isinstance(part, int):
            if not isinstance(current, list) or not -len(current) <= part < len(current):
                raise PathNotFound(f"{walked} has no element [{part}]")
            current = current[part]
            walked += f"[{part}]"
        else:
            if not isinstance(current, Mapping) or part not in current:
                raise PathNotFound(f"{walked} has no field {part!r}")
            current = current[part]
            walked += f".{part}"
    return current


def references(value: Any) -> list[str]:
    """Every template expression inside a (nested) value, for static validation."""
    if isinstance(value, str):
        return _TEMPLATE.findall(value)
    if isinstance(value, Mapping):
        return [ref for v in value.values() for ref in references(v)]
    if isinstance(value, list):
        return [ref for v in value for ref in references(v)]
    return []


def render(value: Any, scope: Mapping[str, Any]) -> Any:
    """Fill templates in strings, dicts and lists from ``scope``.

    An expression whose first name is not in scope is a TemplateError (the
    journey is wrong); one whose data is missing deeper down is PathNotFound
    (the app answered something unexpected).
    """
    if isinstance(value, str):
        whole = _TEMPLATE.fullmatch(value.strip())
        if whole:
            return _lookup(whole.group(1), scope)
        return _TEMPLATE.sub(lambda m: _as_text(_lookup(m.group(1), scope)), value)
    if isinstance(value, Mapping):
        return {render(k, scope): render(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, scope) for v in value]
    return value


def _lookup(expression: str, scope: Mapping[str, Any]) -> Any:
    parts = parse_path(expression)
    if not parts or parts[0] not in scope:
        known = ", ".join(sorted(str(k) for k in scope)) or "none"
        raise TemplateError(f"unknown template reference {{{{ {expression} }}}}; known: {known}")
    try:
        return resolve_path(scope, expression)
    except PathNotFound as exc:
        raise PathNotFound(f"{{{{ {expression} }}}}: {exc}") from None


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
