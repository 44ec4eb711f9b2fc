"""Comparing what was recorded with what a replay got: responses and database rows.

A difference is reported only when it means something:

* values that were rebound (generated ids, tokens) are compared *through the
  binding*: recorded 5 and replayed 7 are equal when the replay's id 5 is 7;
* values of a noisy format (timestamps, UUIDs, JWTs, hashes, ETags, redacted
  placeholders) are equal to any value of the same format; so are two epoch
  times (seconds, milliseconds, microseconds or nanoseconds since 1970) held
  under a name that says time (``last_modified``, ``created_at``, ``ts``...);
* noise rules (JSON path, optionally per operation) silence known noise;
* *generated* rules name places where the server makes a value anew on every
  run (a random name, a slug, a token of no known format): the first time a
  recorded value shows up there, any value of the same shape will do, and it
  is bound; everywhere after, in later responses and in the database rows,
  that value must be the one this replay got. A random name is not a
  difference, but a later read that returns another name is.

JSON arrays of objects with an identity key (``id``, ``uuid``, ``key``...) are
matched by that key, so each item's differences are named by the item; a list
of the same items in another order is one difference of its own. Other arrays
are compared by position.
"""

from __future__ import annotations

import json
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from replayqa.model import HttpResponse
from replayqa.provenance import parse_json, value_text

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
NOISE_FORMATS: dict[str, re.Pattern[str]] = {
    "redacted": re.compile(r"^\[redacted(:[0-9a-f]+)?\]$"),
    "timestamp": re.compile(
        r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)? ?(Z|UTC|[+-]\d{2}(:?\d{2})?)?$"
        r"|^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$"
    ),
    "uuid": re.compile(f"^{_UUID}$"),
    "jwt": re.compile(r"^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}$"),
    "hash": re.compile(r"^[0-9a-fA-F]{32,}$"),
    "etag": re.compile(r'^(W/)?"[^"]*"$'),
}
IDENTITY_KEYS = ("id", "uuid", "key", "slug", "code", "item_id", "sku")
#: Headers whose change is a regression; the rest (dates, servers, lengths) are transport noise.
COMPARED_HEADERS = ("content-type", "location", "cache-control", "www-authenticate", "allow")


@dataclass(frozen=True)
class Difference:
    where: str  # status | header | body | db
    path: str  # "$.items[2].price", "content-type", "orders/5/total_cents"
    kind: str  # changed | added | removed
    old: Any = None
    new: Any = None

    def describe(self) -> str:
        if self.kind == "changed":
            return f"{self.where} {self.path}: {_show(self.old)} → {_show(self.new)}"
        if self.kind == "added":
            return f"{self.where} {self.path}: added {_show(self.new)}"
        return f"{self.where} {self.path}: removed (was {_show(self.old)})"

    def to_dict(self) -> dict[str, Any]:
        return {"where": self.where, "path": self.path, "kind": self.kind, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class NoiseRule:
    #: JSON path, [*] for any index; "header:name"; "db:table.column" for database columns, or
    #: "db:table" for rows added to or removed from a table
    path: str
    operation: str | None = None
    reason: str = ""
    kind: str = "noise"  # noise: never compared | generated: made anew each run, then must hold

    def __post_init__(self) -> None:
        if self.kind not in ("noise", "generated"):
            raise ValueError(f"kind {self.kind!r} is not noise or generated")

    def matches(self, path: str, operation: str | None) -> bool:
        if self.operation and operation and self.operation != operation:
            return False
        return bool(re.fullmatch(re.escape(self.path).replace(r"\[\*\]", r"\[\d+\]"), path))


def noise_format(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return next((name for name, pattern in NOISE_FORMATS.items() if pattern.match(value)), None)


def value_shape(value: Any) -> str:
    """What stays when a value is made anew: its JSON type, and for text its punctuation.

    ``melodic-gaur`` and ``warping-mongoose`` are both ``w-w``; ``melodic-gaur
    (changed)`` is not, nor is ``null``.
    """
    if isinstance(value, str):
        return "text:" + re.sub(r"[^\W_]+", "w", value)
    return _kind(value)


def made_anew(recorded: Any, *replayed: Any) -> bool:
    """Every run got a value of its own, all of one shape: the server makes it (a name, a token).

    One replay that differs from the recording says little (a fault, a
    regression, a race); two that differ from it and from each other, in the
    same shape, say the value is made anew each time.
    """
    values = (recorded, *replayed)
    if any(isinstance(v, dict | list) for v in values):
        return False
    distinct = {(_kind(v), value_text(v)) for v in values}
    return len(distinct) == len(values) and len({value_shape(v) for v in values}) == 1


class Comparer:
    def __init__(
        self, bindings: MutableMapping[str, Any] | None = None, rules: list[NoiseRule] | None = None
    ) -> None:
        #: recorded value (as text) -> replayed value; generated values are bound here as they show up
        self.bindings: MutableMapping[str, Any] = bindings if bindings is not None else {}
        self.rules = rules or []

    def equal(self, recorded: Any, replayed: Any) -> bool:
        if recorded == replayed and _kind(recorded) == _kind(replayed):
            return True
        if _kind(recorded) != _kind(replayed) and noise_format(recorded) != "redacted":
            return False  # 2 and "2" are two answers: a client parsing one breaks on the other
        key = value_text(recorded)
        if key in self.bindings and value_text(self.bindings[key]) == value_text(replayed):
            return True
        shape = noise_format(recorded)
        if shape is not None:
            return shape == "redacted" or noise_format(replayed) == shape
        return (
            isinstance(recorded, str) and isinstance(replayed, str) and self.same_but_ids(recorded, replayed)
        )

    def same_but_ids(self, recorded: str, replayed: str) -> bool:
        """Equal once the generated ids inside are accounted for: ``/records/<uuid>``, ``<uuid>|write``.

        A bound id must be its replayed value; an id no later request used (so
        never bound) may be any id of the same shape.
        """
        if not _EMBEDDED_ID.search(recorded):
            return False
        parts, last = [], 0
        for match in _EMBEDDED_ID.finditer(recorded):
            parts.append(re.escape(recorded[last : match.start()]))
            bound = self.bindings.get(match.group())
            parts.append(re.escape(value_text(bound)) if bound is not None else _EMBEDDED_ID.pattern)
            last = match.end()
        parts.append(re.escape(recorded[last:]))
        return re.fullmatch("".join(parts), replayed) is not None

    def silenced(self, path: str, operation: str | None) -> bool:
        return any(rule.kind == "noise" and rule.matches(path, operation) for rule in self.rules)

    def generated(self, path: str, operation: str | None) -> bool:
        return any(rule.kind == "generated" and rule.matches(path, operation) for rule in self.rules)

    def same_generated(self, recorded: Any, replayed: Any) -> bool:
        """A value the server makes anew: bound on first sight (same shape), then held to its binding."""
        key = value_text(recorded)
        if key in self.bindings:
            bound = self.bindings[key]
            return _kind(bound) == _kind(replayed) and value_text(bound) == value_text(replayed)
        if value_shape(recorded) != value_shape(replayed):
            return False
        self.bindings[key] = replayed
        return True

    # -- responses ---------------------------------------------------------------

    def responses(
        self, recorded: HttpResponse, replayed: HttpResponse, operation: str | None = None
    ) -> list[Difference]:
        found: list[Difference] = []
        if recorded.status != replayed.status:
            found.append(Difference("status", "status", "changed", recorded.status, replayed.status))
        old_headers = {k.lower(): v for k, v in recorded.headers.items()}
        new_headers = {k.lower(): v for k, v in replayed.headers.items()}
        for name in COMPARED_HEADERS:
            old, new = old_headers.get(name), new_headers.get(name)
            if name == "content-type":
                old, new = (v.split(";")[0].strip() if v else v for v in (old, new))
            if self._header_matches(name, old, new, operation):
                continue
            kind = "added" if old is None else "removed" if new is None else "changed"
            found.append(Difference("header", name, kind, old, new))
        found.extend(self.bodies(recorded.body, replayed.body, operation))
        return found

    def bodies(self, recorded: str, replayed: str, operation: str | None = None) -> list[Difference]:
        if recorded == replayed:  # the common case, settled without parsing
            return []
        old, new = _json(recorded), _json(replayed)
        if old is _NOT_JSON or new is _NOT_JSON:
            if not same_text_but_noise(recorded or "", replayed or "") and not self.silenced("$", operation):
                return [Difference("body", "$", "changed", _excerpt(recorded), _excerpt(replayed))]
            return []
        return [d for d in self.json(old, new, "$", operation) if not self.silenced(d.path, operation)]

    def json(self, old: Any, new: Any, path: str, operation: str | None = None) -> list[Difference]:
        if old == new and type(old) is type(new):  # equal subtrees need no walk
            return []
        if isinstance(old, dict) and isinstance(new, dict):
            found: list[Difference] = []
            for key in old:
                child = f"{path}.{key}"
                if key not in new:
                    found.append(Difference("body", child, "removed", old[key], None))
                else:
                    found.extend(self.json(old[key], new[key], child, operation))
            found.extend(
                Difference("body", f"{path}.{k}", "added", None, new[k]) for k in new if k not in old
            )
            return found
        if isinstance(old, list) and isinstance(new, list):
            return self._lists(old, new, path, operation)
        name = path.rsplit(".", 1)[-1]
        if self.generated(path, operation):
            return [] if self.same_generated(old, new) else [Difference("body", path, "changed", old, new)]
        if self.equal(old, new) or same_instant_kind(name, old, new) or both_durations(name, old, new):
            return []
        return [Difference("body", path, "changed", old, new)]

    def _lists(
        self, old: list[Any], new: list[Any], path: str, operation: str | None = None
    ) -> list[Difference]:
        key = _identity_key(old, new)
        if key is None:
            found = []
            for index in range(max(len(old), len(new))):
                child = f"{path}[{index}]"
                if index >= len(new):
                    found.append(Difference("body", child, "removed", old[index], None))
                elif index >= len(old):
                    found.append(Difference("body", child, "added", None, new[index]))
                else:
                    found.extend(self.json(old[index], new[index], child, operation))
            return found
        replayed = {value_text(item.get(key)): (i, item) for i, item in enumerate(new)}
        matched: set[int] = set()
        order: list[int] = []  # where each recorded item was found: a list in another order says so
        found = []
        for index, item in enumerate(old):
            recorded_key = value_text(item.get(key))
            target = self.bindings.get(recorded_key, item.get(key))
            hit = replayed.get(value_text(target))
            by_shape = hit is None or hit[0] in matched
            if by_shape:
                hit = self._same_shape_key(item.get(key), new, key, matched)
            if hit is None:
                found.append(Difference("body", f"{path}[{index}]", "removed", item, None))
                continue
            matched.add(hit[0])
            order.append(hit[0])
            if by_shape:  # the keys are two generated ids of one shape: the rest is what counts
                item, hit = _without(item, key), (hit[0], _without(hit[1], key))
            found.extend(self.json(item, hit[1], f"{path}[{index}]", operation))
        found.extend(
            Difference("body", f"{path}[{i}]", "added", None, item)
            for i, item in enumerate(new)
            if i not in matched
        )
        if not found and order != sorted(order):
            keys = [value_text(item.get(key)) for item in old]
            found.append(Difference("body", path, "changed", f"order {keys}", "another order"))
        return found

    def _same_shape_key(
        self, recorded: Any, new: list[Any], key: str, matched: set[int]
    ) -> tuple[int, Any] | None:
        """The first unmatched item whose generated id has the recorded one's shape (server ids differ)."""
        shape = _id_shape(recorded)
        if shape is None or value_text(recorded) in self.bindings:
            return None
        replayed_keys = {value_text(v) for v in self.bindings.values()}
        for index, item in enumerate(new):
            value = item.get(key)
            if index not in matched and _id_shape(value) == shape and value_text(value) not in replayed_keys:
                return index, item
        return None

    def _cell_matches(self, column: str, recorded: Any, replayed: Any) -> bool:
        """``column`` is ``table.column``; rules for it come first, then values and their shapes."""
        if self.silenced(f"db:{column}", None):
            return True
        if self.generated(f"db:{column}", None):
            return self.same_generated(recorded, replayed)
        return (
            self.equal(recorded, replayed)
            or self.equal(_number(recorded), _number(replayed))
            or same_instant_kind(column.rpartition(".")[2], recorded, replayed)
        )

    def _likeliest_row(
        self, key: str, row: dict[str, Any], rows: dict[str, dict[str, Any]], taken: set[str]
    ) -> str:
        """Of the rows whose key differs only by generated ids, the one most like the recorded row."""
        candidates = [k for k in rows if k not in taken and self.same_but_ids(key, k)]
        if not candidates:
            return ""
        return max(candidates, key=lambda k: sum(self.equal(v, rows[k].get(c)) for c, v in row.items()))

    def _header_matches(self, name: str, old: str | None, new: str | None, operation: str | None) -> bool:
        if self.generated(f"header:{name}", operation) and old is not None and new is not None:
            return self.same_generated(old, new)
        return self._header_equal(old, new) or self.silenced(f"header:{name}", operation)

    def _header_equal(self, old: str | None, new: str | None) -> bool:
        if old is None or new is None:
            return old == new
        if self.equal(old, new):
            return True
        old_tokens, new_tokens = re.split(r"([/?&=])", old), re.split(r"([/?&=])", new)
        return len(old_tokens) == len(new_tokens) and all(
            self.equal(a, b) or self.equal(_number(a), _number(b))
            for a, b in zip(old_tokens, new_tokens, strict=True)
        )

    # -- database rows -----------------------------------------------------------------

    def tables(
        self,
        recorded: dict[str, dict[str, dict[str, Any]]],
        replayed: dict[str, dict[str, dict[str, Any]]],
        *,
        same_run: bool = False,
    ) -> list[Difference]:
        """Rows keyed by primary key, per table: table/key/column, recorded → replayed.

        Two runs generate their own ids, so a row missing under its recorded
        key is looked for under a key that differs only by such ids.
        ``same_run``: the two are one database at two moments (before and
        after a step), where the key is the row: a row under a new id is a
        row removed and another added.
        """
        found: list[Difference] = []
        for table in sorted(set(recorded) | set(replayed)):
            old_rows, new_rows = recorded.get(table, {}), replayed.get(table, {})
            if any(noise_format(k) == "redacted" for k in old_rows):
                if len(old_rows) != len(new_rows):  # credential keys: only the count can be compared
                    found.append(
                        Difference("db", table, "changed", f"{len(old_rows)} rows", f"{len(new_rows)} rows")
                    )
                continue
            seen: set[str] = set()
            for key, row in old_rows.items():
                target = value_text(self.bindings.get(key, key))
                new_row = new_rows.get(target)
                if (new_row is None or target in seen) and not same_run:
                    target = self._likeliest_row(key, row, new_rows, seen | set(old_rows))
                    new_row = new_rows.get(target)
                if new_row is None:
                    if not self.silenced(f"db:{table}", None):
                        found.append(Difference("db", f"{table}/{key}", "removed", row, None))
                    continue
                seen.add(target)
                found.extend(
                    Difference("db", f"{table}/{key}/{column}", "changed", value, new_row.get(column))
                    for column, value in row.items()
                    if not self._cell_matches(f"{table}.{column}", value, new_row.get(column))
                )
            found.extend(
                Difference("db", f"{table}/{key}", "added", None, row)
                for key, row in new_rows.items()
                if key not in seen and not self.silenced(f"db:{table}", None)
            )
        return found


_NOT_JSON = object()
#: A server-generated id inside a longer string (a path, a composite key): a UUID, with its dashes
#: or without (``uuid4().hex``, 32 hex digits standing alone between separators).
_EMBEDDED_ID = re.compile(f"(?:{_UUID}|(?<![0-9A-Za-z])[0-9a-fA-F]{{32}}(?![0-9A-Za-z]))")
_TIME_NAME = re.compile(r"time|date|modified|created|updated|expires|since|stamp|(^|_)(at|ts|on)$", re.I)
_DURATION_NAME = re.compile(r"(^|_)(ms|millis|duration|elapsed|took|latency|delta|time)$|^time_taken$", re.I)
_WORDS = re.compile(r"(\W+)")
_PLACEHOLDER = re.compile(r"\[redacted(:[0-9a-f]+)?\]")
_RANDOM = re.compile(r"[0-9a-f]{8,}|[0-9A-F]{8,}|[A-Za-z0-9_]{16,}")  # hex, or a long mixed token
_EPOCH = (946_684_800, 4_102_444_800)  # 2000-01-01 .. 2100-01-01, in seconds


def same_instant_kind(name: str, old: Any, new: Any) -> bool:
    """Both are epoch times of the same unit under a name that says time: noise, like ISO timestamps.

    The name is required because a bare number in that range may be a count
    or an amount; ``last_modified: 1795997581649`` is a time by both tests.
    """
    if not _TIME_NAME.search(name.strip("[]")):
        return False
    units = [_epoch_unit(_number(value)) for value in (old, new)]
    return units[0] is not None and units[0] == units[1]


def both_durations(name: str, old: Any, new: Any) -> bool:
    """How long something took (``query_ms``, ``elapsed``, ``total_run_time``) differs on every run: noise.

    A number under a ``*_time`` name that is an epoch time is left to ``same_instant_kind``.
    """
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (old, new))
    if not numbers or _DURATION_NAME.search(name) is None:
        return False
    return _epoch_unit(old) is None and _epoch_unit(new) is None


def same_text_but_noise(old: str, new: str) -> bool:
    """A text body (HTML, plain text) equal but for tokens that are random by shape: a form's CSRF
    token, a nonce, a hash, an epoch time. Words, numbers and markup must be the same."""
    if old == new:
        return True
    if "[redacted" in old:
        # the recording holds placeholders where the page showed a secret (a token in an example
        # URL): the replayed page, redacted the same way, must match it placeholder for placeholder
        from replayqa.redact import Redactor

        new = _PLACEHOLDER.sub("[redacted]", Redactor().text(new))
        old = _PLACEHOLDER.sub("[redacted]", old)
        if old == new:
            return True
    old_tokens, new_tokens = _WORDS.split(old), _WORDS.split(new)
    if len(old_tokens) != len(new_tokens):
        return False
    return all(a == b or _random_pair(a, b) for a, b in zip(old_tokens, new_tokens, strict=True))


def _random_pair(old: str, new: str) -> bool:
    if _epoch_unit(_number(old)) is not None and _epoch_unit(_number(old)) == _epoch_unit(_number(new)):
        return True
    return len(old) == len(new) and all(_RANDOM.fullmatch(t) and re.search(r"\d", t) for t in (old, new))


def _kind(value: Any) -> str:
    """The JSON type: a number and a string holding it are not the same answer."""
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    return "number" if isinstance(value, int | float) else type(value).__name__


def _without(item: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != key}


def _id_shape(value: Any) -> str | None:
    """A generated id's shape: a noisy format, or a random-looking token (``c8e61f4a``) of its length."""
    shape = noise_format(value)
    if shape is not None or not isinstance(value, str):
        return shape
    if len(value) >= 8 and re.fullmatch(r"[0-9a-f]+", value) and re.search(r"\d", value):
        # a hex id (a notebook cell's "38925558" or "f14d3871"): one shape, letters or not
        return f"hex{len(value)}"
    if _RANDOM.fullmatch(value) and re.search(r"\d", value) and re.search(r"[A-Za-z]", value):
        return f"token{len(value)}"
    return None


def _epoch_unit(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    for unit, scale in enumerate((1, 1_000, 1_000_000, 1_000_000_000)):
        if _EPOCH[0] * scale <= value <= _EPOCH[1] * scale:
            return unit
    return None


def _json(text: str | None) -> Any:
    return parse_json(text, _NOT_JSON)


def _identity_key(old: list[Any], new: list[Any]) -> str | None:
    items = old + new
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    return next((k for k in IDENTITY_KEYS if all(k in i for i in items)), None)


def _number(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


def _excerpt(text: str | None, limit: int = 200) -> str:
    text = text or ""
    return text if len(text) <= limit else text[:limit] + "…"


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
