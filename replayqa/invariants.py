"""Invariants written as data (YAML ``invariants:``), so synthesized journeys can carry them.

Each kind is a small function over the last exchange (and the context, which
checkpoints snapshot and restore, so what an invariant remembers follows the
journey's branches). The spec dict is kept on the Invariant so it can be
written back unchanged.

Kinds:

- ``no_server_errors``: no response is a 5xx.
- ``relation``: ``{expression: "total_cents == sum(lines[*].line_total_cents)"}``
  holds for every response body (or list element) that has the fields.
- ``no_dangling_references``: ``{resources: {item: {delete: "/items/{item_id}",
  fields: [item_id]}}}``: once an item is deleted, no response names its id.
- ``refusals_change_nothing``: an object (a body or list element with an ``id``)
  read again after requests that were only refused (4xx) reads the same.
- ``repeats_change_nothing``: ``{operations: ["POST /orders/{order_id}/refund"]}``:
  the same request twice in a row, both accepted, answers the same the second time
  (timestamps and secrets aside; a DELETE's answer says what it removed, so DELETEs
  are not judged by it).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from replayqa.errors import JourneyError
from replayqa.model import Exchange, Invariant, Severity
from replayqa.templates import PathNotFound, resolve_path

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_RELATION = re.compile(r"^\s*(.+?)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$")
_SUM = re.compile(r"^sum\((.+)\)$")
_DELETED = "_replayqa_deleted"


def from_spec(spec: dict[str, Any], where: str) -> Invariant:
    """An Invariant from its YAML form; JourneyError names what is wrong."""
    if not isinstance(spec, dict) or "kind" not in spec:
        raise JourneyError(f"{where}: each invariant is a mapping with a 'kind'")
    kind = spec["kind"]
    severity = Severity(spec.get("severity", "high"))
    name = str(spec.get("name") or kind)
    description = str(spec.get("evidence") or spec.get("description") or "")
    check: Callable[[Any, Any, Any], bool | str]
    if kind == "no_server_errors":
        check = _no_server_errors
        severity = Severity(spec.get("severity", "critical"))
    elif kind == "relation":
        check = _relation(str(spec.get("expression", "")), where)
    elif kind == "no_dangling_references":
        check = _dangling(spec.get("resources") or {}, where)
    elif kind == "refusals_change_nothing":
        check = _refusals_change_nothing
    elif kind == "repeats_change_nothing":
        check = _repeats_change_nothing(spec.get("operations") or [], where)
    else:
        raise JourneyError(
            f"{where}: unknown invariant kind {kind!r}; expected no_server_errors, relation, "
            "no_dangling_references, refusals_change_nothing or repeats_change_nothing"
        )
    invariant = Invariant(name, check, severity, description)
    invariant.spec = dict(spec)
    return invariant


def _last(client: Any) -> Exchange | None:
    history = getattr(client, "history", None)
    return history[-1] if history else None


def _no_server_errors(client: Any, context: Any, db: Any) -> bool | str:
    exchange = _last(client)
    if exchange is None or exchange.response is None or exchange.response.status < 500:
        return True
    return f"{exchange.request.method} {exchange.request.url} answered {exchange.response.status}"


# --- relations --------------------------------------------------------------------------------


def _relation(expression: str, where: str) -> Callable[[Any, Any, Any], bool | str]:
    match = _RELATION.match(expression)
    if not match:
        raise JourneyError(f"{where}: relation {expression!r} is not 'left OP right' (OP: ==, <=, ...)")
    left, op, right = match.groups()
    compare = _OPERATORS[op]

    def check(client: Any, context: Any, db: Any) -> bool | str:
        exchange = _last(client)
        if exchange is None or exchange.response is None or exchange.response.status >= 300:
            return True
        body = exchange.response.json_or_none()
        for subject in body if isinstance(body, list) else [body]:
            values = _operand(subject, left), _operand(subject, right)
            if None in values:
                continue
            if not compare(*values):
                return f"{expression} does not hold: {left} = {values[0]}, {right} = {values[1]}"
        return True

    return check


def relation_holds(expression: str, subject: Any) -> bool | None:
    """True, False, or None when the subject lacks the fields: for mining relations from evidence."""
    match = _RELATION.match(expression)
    if not match:
        return None
    left, op, right = match.groups()
    values = _operand(subject, left), _operand(subject, right)
    if None in values:
        return None
    return _OPERATORS[op](*values)


def _operand(subject: Any, text: str) -> float | None:
    summed = _SUM.match(text)
    try:
        if summed:
            head, _, tail = summed.group(1).partition("[*].")
            items = resolve_path(subject, head)
            if not isinstance(items, list):
                return None
            values = [resolve_path(item, tail) for item in items]
            return sum(v for v in values if _numeric(v)) if all(_numeric(v) for v in values) else None
        value = resolve_path(subject, text)
    except (PathNotFound, Exception):
        return None
    return value if _numeric(value) else None


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- dangling references ----------------------------------------------------------------------


def _dangling(resources: dict[str, Any], where: str) -> Callable[[Any, Any, Any], bool | str]:
    patterns = []
    for name, entry in resources.items():
        if not isinstance(entry, dict) or "delete" not in entry:
            raise JourneyError(f"{where}: resource {name!r} needs 'delete' (its path template)")
        template = str(entry["delete"])
        regex = re.compile("^" + re.sub(r"\\{[^/]+?\\}", "([^/]+)", re.escape(template)) + "/?$")
        patterns.append((name, regex, set(entry.get("fields") or [f"{name}_id"])))

    def check(client: Any, context: Any, db: Any) -> bool | str:
        exchange = _last(client)
        if exchange is None or exchange.response is None:
            return True
        deleted: dict[str, list[str]] = context.get(_DELETED) or {}
        request = exchange.request
        if request.method == "DELETE" and exchange.response.status < 300:
            path = "/" + request.url.split("://", 1)[-1].split("/", 1)[-1].split("?")[0]
            for name, regex, _ in patterns:
                found = regex.match(path)
                if found:
                    deleted = {**deleted, name: [*deleted.get(name, []), found.groups()[-1]]}
                    context[_DELETED] = deleted
            return True
        if not deleted:
            return True
        body = exchange.response.json_or_none()
        for name, _, fields in patterns:
            gone = set(deleted.get(name, []))
            for key, value in _pairs(body):
                if key in fields and str(value) in gone:
                    return (
                        f"{request.method} {request.url} still refers to deleted {name} {value} "
                        f"(field {key!r})"
                    )
        return True

    return check


def _pairs(data: Any) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    stack = [data]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            for key, value in current.items():
                if isinstance(value, dict | list):
                    stack.append(value)
                else:
                    found.append((key, value))
        elif isinstance(current, list):
            stack.extend(current)
    return found


# --- refusals and repeats ---------------------------------------------------------------------

_SEEN = "_replayqa_seen"
_LAST_WRITE = "_replayqa_last_write"
_SAFE = ("GET", "HEAD", "OPTIONS")
#: Fields that move without anyone changing the object (when it was last touched or read), and
#: secrets, which a write may salt anew and which no message may repeat.
_VOLATILE = re.compile(
    r"(updated|modified|seen|accessed|expires|refreshed)(_?at|_?on)?$|token$|password|secret|hash|salt|nonce",
    re.I,
)


def _path_of(url: str) -> str:
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?")[0] if "://" in url else url


def _stable(body: Any) -> Any:
    """The body without the fields that change on their own, to compare two reads of one object."""
    if isinstance(body, dict):
        return {k: _stable(v) for k, v in body.items() if not _VOLATILE.search(str(k))}
    if isinstance(body, list):
        return [_stable(v) for v in body]
    return body


def identified_objects(body: Any) -> list[tuple[str, dict[str, Any]]]:
    """Objects with an ``id`` anywhere in a body, each keyed by its field names and id.

    The field names stand in for the type: a cart and an order may share an id.
    """
    found = []
    stack = [body]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            if "id" in current and not isinstance(current["id"], dict | list):
                found.append((",".join(sorted(current)) + "#" + str(current["id"]), current))
            stack.extend(v for v in current.values() if isinstance(v, dict | list))
        elif isinstance(current, list):
            stack.extend(current)
    return found


def _refusals_change_nothing(client: Any, context: Any, db: Any) -> bool | str:
    """A request answered 4xx was refused, so what it named must read as before.

    The context remembers each object's last reading and the refused requests
    since the last accepted write; a later read that differs, with only
    refusals in between, means a refusal changed data (a declined payment
    that emptied the cart anyway).
    """
    exchange = _last(client)
    if exchange is None or exchange.response is None:
        return True
    memory = context.get(_SEEN) or {"count": 0, "objects": {}, "refused": []}
    memory = {**memory, "count": memory["count"] + 1}
    request, status = exchange.request, exchange.response.status
    if request.method not in _SAFE:
        if 400 <= status < 500:
            text = f"{request.method} {_path_of(request.url)} answered {status}"
            memory["refused"] = [*memory["refused"], [memory["count"], text]]
        else:  # accepted, or a server error that may have written half: either may change anything
            memory["refused"] = []
            memory["objects"] = {}
    verdict: bool | str = True
    if status < 300:
        objects = dict(memory["objects"])
        for key, subject in identified_objects(exchange.response.json_or_none()):
            reading = _stable(subject)
            before = objects.get(key)
            if before is not None and before[0] != reading and verdict is True:
                since = [text for count, text in memory["refused"] if count > before[1]]
                if since:
                    changed = sorted(k for k in reading if reading.get(k) != before[0].get(k))
                    verdict = (
                        f"{request.method} {_path_of(request.url)}: object id {subject['id']} changed "
                        f"({', '.join(changed) or 'fields'}) though the only writes since were refused: "
                        + "; ".join(since)
                    )
            objects[key] = [reading, memory["count"]]
        memory["objects"] = objects
    context[_SEEN] = memory
    return verdict


def _repeats_change_nothing(operations: list[str], where: str) -> Callable[[Any, Any, Any], bool | str]:
    patterns = []
    for text in operations:
        method, _, template = str(text).partition(" ")
        if not template.startswith("/"):
            raise JourneyError(f"{where}: operation {text!r} is not 'METHOD /path/{{param}}'")
        regex = re.compile(
            "(^|/)" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template.lstrip("/"))) + "/?$"
        )
        patterns.append((method.upper(), regex))

    def check(client: Any, context: Any, db: Any) -> bool | str:
        exchange = _last(client)
        if exchange is None or exchange.response is None or exchange.request.method in _SAFE:
            return True
        request, response = exchange.request, exchange.response
        if request.method == "DELETE":  # its answer tells what it removed: the second removes nothing
            context[_LAST_WRITE] = None
            return True
        path = _path_of(request.url)
        now = {
            "request": [request.method, request.url, request.body or "", sorted(request.headers.items())],
            "status": response.status,
            "body": _stable(response.json_or_none()),
        }
        before = context.get(_LAST_WRITE)
        context[_LAST_WRITE] = now
        if before is None or before["request"] != now["request"]:
            return True
        if not any(m == request.method and r.search(path) for m, r in patterns):
            return True
        if not (200 <= before["status"] < 300 and 200 <= response.status < 300):
            return True
        if before["body"] == now["body"]:
            return True
        old, new = before["body"], now["body"]
        if isinstance(old, dict) and isinstance(new, dict):
            keys = sorted((k for k in new if old.get(k) != new.get(k)), key=lambda k: (k.endswith("_at"), k))
            changed = [f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in keys]
        else:
            changed = ["the body"]
        return (
            f"the same {request.method} {path} again, accepted twice ({before['status']}, "
            f"{response.status}), changed state a second time: " + ", ".join(changed)
        )

    return check
