"""Abstract states: what makes two moments of an app the same state, so each is explored once.

Ids, per-run names and timestamps differ between two visits of the same
state (a path re-executed on fresh resources makes new ones), so they are
left out: what counts is which values the context holds, the shape and
numbers of every object the app has shown, and, with a database, its rows.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from replayqa.invariants import identified_objects

_ID_LIKE = re.compile(r"(^|_)(id|uuid|ids)$|Ids?$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_VOLATILE = re.compile(r"(updated|modified|seen|accessed|expires|refreshed|created)(_?at|_?on)?$|token", re.I)


def shape(value: Any) -> Any:
    """``value`` with ids and volatile fields dropped and made-up strings blurred."""
    if isinstance(value, dict):
        return {
            k: shape(v)
            for k, v in sorted(value.items())
            if not _ID_LIKE.search(k) and not _VOLATILE.search(k)
        }
    if isinstance(value, list):
        return sorted((shape(v) for v in value), key=_dump)
    if isinstance(value, str):
        # Enum-like words (open, paid) say which state; names and emails carry a run id.
        return value if len(value) <= 24 and not re.search(r"[\d@]", value) else "~"
    return value


def observe(seen: Mapping[str, Any], body: Any, bound: Iterable[Any] = ()) -> dict[str, Any]:
    """``seen`` updated with the objects (with an id) in ``body``.

    Of a list, only the objects this path knows (already seen, or whose id
    the context holds): a list also shows what other paths made, and that is
    no part of this path's state.
    """
    updated = dict(seen)
    known = {str(v) for v in bound if isinstance(v, str | int) and not isinstance(v, bool)}
    for key, subject in identified_objects(body):
        if not isinstance(body, list) or key in seen or str(subject["id"]) in known:
            updated[key] = shape(subject)
    return updated


def state_key(node: str, bound: Iterable[str], seen: Mapping[str, Any], database: str | None) -> str:
    """One string per abstract state: equal strings, equal states."""
    objects = sorted(_dump(v) for v in seen.values())
    text = _dump([node, sorted(bound), objects, database])
    return hashlib.sha1(text.encode()).hexdigest()


def database_key(rows: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """A fingerprint of a database's rows, timestamps left out (two equal states made a second apart)."""

    def clean(value: Any) -> Any:
        return "~" if isinstance(value, str) and _TIMESTAMP.match(value) else value

    tables = {
        table: sorted(_dump({c: clean(v) for c, v in row.items()}) for row in by_key.values())
        for table, by_key in sorted(rows.items())
    }
    return hashlib.sha1(_dump(tables).encode()).hexdigest()


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
