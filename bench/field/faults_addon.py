"""A mitmproxy addon that plants one fault in an app's answers: what a regression looks like on the wire.

Loaded into a reverse proxy in front of the app (``mitmdump -s``) while
replayqa replays a recording through it. One fault per run, applied once:
the response faults go to a read (GET) of one of the recorded paths (ids
replaced by ``*``, so rebound ids still match), past the first
``field_fault_skip`` of them so the fault lands mid-session rather than on
the first request; the database fault repeats the first create (a POST answered 201)
that the app creates a second time, behind the first answer. Each application is written as a JSON
line to ``field_fault_log``, so the suite knows what was planted and where,
and a fault that found nothing to change is counted as not applicable
rather than as caught or missed.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from mitmproxy import ctx, http

FAULTS = (
    "status_500",
    "status_404",
    "string_changed",
    "field_dropped",
    "field_added",
    "field_nulled",
    "number_changed",
    "id_int_to_string",
    "list_reversed",
    "list_element_dropped",
    "content_type_changed",
    "db_write_behind_same_response",
)
STATUS_FAULTS = {"status_500": 500, "status_404": 404}
_NOT_PLAIN = re.compile(
    r"(^|_)(id|uuid|token|etag|hash|secret)$|time|date|modified|created|updated|_at$", re.I
)


_ID_SEGMENT = re.compile(
    r"\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}", re.I
)


class FaultInjector:
    def __init__(self) -> None:
        self.applied = False
        self.reads = 0

    def load(self, loader: Any) -> None:
        loader.add_option("field_fault", str, "", "The fault to plant: " + ", ".join(FAULTS))
        loader.add_option("field_fault_log", str, "", "Where to write what was planted (JSON lines).")
        loader.add_option("field_fault_paths", str, "", "A file of recorded GET paths, one a line, ids as *.")
        loader.add_option("field_fault_skip", int, 0, "Recorded GETs to let through before planting.")

    def configure(self, updated: set[str]) -> None:
        if "field_fault" in updated and ctx.options.field_fault not in (*FAULTS, ""):
            raise ValueError(f"unknown fault {ctx.options.field_fault!r}: choose one of {', '.join(FAULTS)}")

    async def response(self, flow: http.HTTPFlow) -> None:
        fault = ctx.options.field_fault
        if self.applied or not fault or flow.response is None:
            return
        if fault == "db_write_behind_same_response":
            if flow.request.method == "POST" and flow.response.status_code == 201:
                status = await self._send_again(flow)
                # Created again, or the app refused or answered "already there" and wrote nothing:
                # then the next create gets the fault.
                if status == 201:
                    self._applied(flow, f"the same POST was sent to the app a second time ({status})")
            return
        if flow.request.method != "GET" or not self._recorded(flow.request.path):
            return
        self.reads += 1
        if self.reads <= ctx.options.field_fault_skip:
            return
        detail = self._mutate(fault, flow.response)
        if detail:
            self._applied(flow, detail)

    def _recorded(self, path: str) -> bool:
        if not ctx.options.field_fault_paths:
            return True
        with open(ctx.options.field_fault_paths) as listed:
            return shape(path) in listed.read().splitlines()

    def _mutate(self, fault: str, response: http.Response) -> str | None:
        content_type = response.headers.get("content-type", "")
        planted = plant(fault, response.status_code, content_type, response.get_text() or "")
        if planted is None:
            return None
        detail, text = planted
        if fault in STATUS_FAULTS:
            response.status_code = STATUS_FAULTS[fault]
        elif fault == "content_type_changed":
            response.headers["content-type"] = "text/plain; charset=utf-8"
        else:
            response.set_text(text)
        return detail

    async def _send_again(self, flow: http.HTTPFlow) -> int:
        headers = {
            k: v for k, v in flow.request.headers.items() if k.lower() not in ("content-length", "host")
        }
        async with httpx.AsyncClient(timeout=30) as client:
            again = await client.request(
                flow.request.method, flow.request.url, headers=headers, content=flow.request.raw_content
            )
        return again.status_code

    def _applied(self, flow: http.HTTPFlow, detail: str) -> None:
        self.applied = True
        if ctx.options.field_fault_log:
            with open(ctx.options.field_fault_log, "a") as out:
                entry = {
                    "fault": ctx.options.field_fault,
                    "method": flow.request.method,
                    "path": flow.request.path,
                    "detail": detail,
                }
                out.write(json.dumps(entry) + "\n")


def plant(fault: str, status: int, content_type: str, text: str) -> tuple[str, str] | None:
    """(what was changed, the new body), or None where the fault would change nothing here."""
    if fault in STATUS_FAULTS:
        return (
            (f"status {status} -> {STATUS_FAULTS[fault]}", text) if status != STATUS_FAULTS[fault] else None
        )
    if "json" not in content_type:
        return None
    if fault == "content_type_changed":
        return "content type text/plain", text
    try:
        body = json.loads(text)
    except ValueError:
        return None
    detail = MUTATIONS[fault](body) if fault in MUTATIONS else None
    return (detail, json.dumps(body)) if detail else None


def shape(path: str) -> str:
    """A path with its ids (numbers, UUIDs, long hex) as ``*`` and no query: what replays keep."""
    segments = path.split("?", 1)[0].split("/")
    return "/".join("*" if _ID_SEGMENT.fullmatch(s) else s for s in segments)


def _leaves(value: Any, path: str = "$") -> list[tuple[Any, Any, str, Any]]:
    """(container, key, path, value) for every scalar, depth first in document order."""
    found: list[tuple[Any, Any, str, Any]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        where = f"{path}.{key}" if isinstance(value, dict) else f"{path}[{key}]"
        if isinstance(child, dict | list):
            found.extend(_leaves(child, where))
        else:
            found.append((value, key, where, child))
    return found


def _containers(value: Any, kind: type, path: str = "$") -> list[tuple[Any, str]]:
    found = [(value, path)] if isinstance(value, kind) else []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        found.extend(
            _containers(child, kind, f"{path}.{key}" if isinstance(value, dict) else f"{path}[{key}]")
        )
    return found


def _plain(key: Any) -> bool:
    return isinstance(key, str) and not _NOT_PLAIN.search(key)


def _change_string(body: Any) -> str | None:
    for container, key, where, value in _leaves(body):
        if isinstance(value, str) and _plain(key):
            container[key] = value + " (changed)"
            return f"{where}: {value!r} -> {container[key]!r}"
    return None


def _drop_field(body: Any) -> str | None:
    for obj, where in _containers(body, dict):
        for key in obj:
            if _plain(key):
                del obj[key]
                return f"{where}.{key} dropped"
    return None


def _add_field(body: Any) -> str | None:
    for obj, where in _containers(body, dict):
        obj["added_by_fault"] = "surprise"
        return f"{where}.added_by_fault added"
    return None


def _null_field(body: Any) -> str | None:
    for container, key, where, value in _leaves(body):
        if value is not None and isinstance(container, dict) and _plain(key):
            container[key] = None
            return f"{where}: {value!r} -> null"
    return None


def _change_number(body: Any) -> str | None:
    for container, key, where, value in _leaves(body):
        if isinstance(value, int | float) and not isinstance(value, bool) and _plain(key):
            container[key] = value + 1
            return f"{where}: {value!r} -> {container[key]!r}"
    return None


def _id_to_string(body: Any) -> str | None:
    for container, key, where, value in _leaves(body):
        is_id = isinstance(key, str) and (key.lower() == "id" or key.lower().endswith("_id"))
        if is_id and isinstance(value, int) and not isinstance(value, bool):
            container[key] = str(value)
            return f"{where}: {value!r} -> {container[key]!r}"
    return None


def _reverse_list(body: Any) -> str | None:
    for items, where in _containers(body, list):
        if len(items) >= 2 and any(item != items[0] for item in items):
            items.reverse()
            return f"{where} reversed ({len(items)} elements)"
    return None


def _drop_element(body: Any) -> str | None:
    for items, where in _containers(body, list):
        if items:
            items.pop()
            return f"{where}: last of {len(items) + 1} elements dropped"
    return None


MUTATIONS = {
    "string_changed": _change_string,
    "field_dropped": _drop_field,
    "field_added": _add_field,
    "field_nulled": _null_field,
    "number_changed": _change_number,
    "id_int_to_string": _id_to_string,
    "list_reversed": _reverse_list,
    "list_element_dropped": _drop_element,
}

addons = [FaultInjector()]
