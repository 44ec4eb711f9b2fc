"""Checks: plain functions from a response to a failure message (or None)."""

from __future__ import annotations

import re
from typing import Any

from replayqa.model import Check, Exchange
from replayqa.spec import SpecValidator
from replayqa.templates import PathNotFound, resolve_path

CHECK_KINDS = ("status", "equals", "exists", "matches", "schema")


def status_matches(status: int, expected: Any) -> bool:
    """``expected`` is a code, a list of codes, or a class such as ``"4xx"``."""
    if isinstance(expected, list | tuple):
        return any(status_matches(status, e) for e in expected)
    text = str(expected).lower()
    if len(text) == 3 and text.endswith("xx") and text[0].isdigit():
        return status // 100 == int(text[0])
    return str(status) == text


def default_passed(exchange: Exchange) -> bool:
    """A step without checks passes when it got a non-error response."""
    return exchange.response is not None and exchange.response.status < 400


def evaluate(check: Check, exchange: Exchange, spec: SpecValidator | None = None) -> str | None:
    response = exchange.response
    if response is None:
        return f"no response: {exchange.error}"
    if check.kind == "status":
        if status_matches(response.status, check.value):
            return None
        return f"expected status {_show(check.value)}, got {response.status}"
    if check.kind == "schema":
        if spec is None:
            return None
        problems = spec.check_response(exchange)
        return "response does not match the OpenAPI spec: " + "; ".join(problems) if problems else None
    body = response.json_or_none()
    try:
        actual = resolve_path(body, check.path or "$")
    except PathNotFound as exc:
        if check.kind == "exists" and check.value is False:
            return None
        return f"{check.path}: {exc}"
    if check.kind == "exists":
        return None if check.value is not False else f"{check.path} should not exist, got {actual!r}"
    if check.kind == "equals":
        return None if actual == check.value else f"{check.path}: expected {check.value!r}, got {actual!r}"
    if check.kind == "matches":
        if re.search(str(check.value), _text(actual)):
            return None
        return f"{check.path}: {actual!r} does not match /{check.value}/"
    raise ValueError(f"unknown check kind {check.kind!r}")


def _show(expected: Any) -> str:
    if isinstance(expected, list | tuple):
        return " or ".join(str(e) for e in expected)
    return str(expected)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)
