"""Checks: plain functions from a response to a failure message (or None)."""

from __future__ import annotations

import re
from typing import Any

from replayqa.diff import Comparer
from replayqa.model import Check, Exchange
from replayqa.spec import SpecValidator
from replayqa.templates import PathNotFound, resolve_path

CHECK_KINDS = ("status", "equals", "exists", "matches", "length", "schema", "db")
#: How a step may change the database: see db_effect().
DB_MODES = ("unchanged", "kept", "idempotent", "kept-on-failure")
#: A list this long is probably one page of a longer one: its length says nothing about counts.
PAGE_SIZE_GUESS = 20


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
    if check.kind == "db":
        return None  # judged by the runner, which sees the database before and after
    if check.kind == "custom":  # a callable judge: what is wrong with the exchange, or None
        return check.value(exchange)
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
    if check.kind == "length":
        return _length(check, actual)
    if check.kind == "matches":
        if re.search(str(check.value), _text(actual)):
            return None
        return f"{check.path}: {actual!r} does not match /{check.value}/"
    raise ValueError(f"unknown check kind {check.kind!r}")


def _length(check: Check, actual: Any) -> str | None:
    """``{like: <a list or a number>, plus: n}``: list counts that move with creates and deletes."""
    spec = check.value if isinstance(check.value, dict) else {"like": check.value}
    like = spec.get("like")
    base = len(like) if isinstance(like, list) else like
    if not isinstance(actual, list) or not isinstance(base, int):
        return f"{check.path}: cannot compare lengths ({type(actual).__name__} against {base!r})"
    if base >= PAGE_SIZE_GUESS or len(actual) >= PAGE_SIZE_GUESS:
        return None  # a full page: creates and deletes need not show in it
    expected = base + int(spec.get("plus") or 0)
    if len(actual) == expected:
        return None
    return f"{check.path}: expected {expected} entries, got {len(actual)}"


Rows = dict[str, dict[str, dict[str, Any]]]


_NOISE = Comparer()


def db_effect(mode: str, status: int | None, before: Rows, after: Rows) -> str | None:
    """Whether a step changed the database as ``mode`` allows.

    unchanged: nothing added, changed or removed. kept: existing rows neither
    changed nor removed (a refused payment may still log an attempt).
    idempotent: a repeated request either succeeds without any change or is
    refused keeping existing rows. kept-on-failure: a refused request keeps them.
    """
    failed = status is None or status >= 400
    if mode == "kept-on-failure" and not failed:
        return None
    strict = mode == "unchanged" or (mode == "idempotent" and not failed)
    added, changed, removed = table_changes(before, after)
    problems = changed + removed + (added if strict else [])
    if not problems:
        return None
    what = {
        "unchanged": "the database changed",
        "kept": "existing rows changed",
        "idempotent": "the repeated request changed the database again"
        if not failed
        else "the refused repeat changed existing rows",
        "kept-on-failure": f"the refused request (status {status}) changed existing rows",
    }[mode]
    shown = ", ".join(problems[:6]) + (f" and {len(problems) - 6} more" if len(problems) > 6 else "")
    return f"{what}: {shown}"


def table_changes(before: Rows, after: Rows) -> tuple[list[str], list[str], list[str]]:
    """(added, changed, removed) rows, as ``orders/5 added``, ``carts/1 total, items changed``.

    Bookkeeping is not state: an ``updated`` time, or ids the app regenerates
    inside a value, differ on every write, and a repeated request that only
    moves them did not change anything. The row diff replay uses knows both.
    """
    added: list[str] = []
    removed: list[str] = []
    changed: dict[str, list[str]] = {}  # table/key -> its changed columns, in the row's order
    for difference in _NOISE.tables(before, after, same_run=True):
        if difference.kind == "added":
            added.append(f"{difference.path} added")
        elif difference.kind == "removed":
            removed.append(f"{difference.path} removed")
        else:
            row, _, column = difference.path.rpartition("/")
            changed.setdefault(row or difference.path, []).append(column if row else "rows")
    return added, [f"{row} {', '.join(columns)} changed" for row, columns in changed.items()], removed


def _show(expected: Any) -> str:
    if isinstance(expected, list | tuple):
        return " or ".join(str(e) for e in expected)
    return str(expected)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)
