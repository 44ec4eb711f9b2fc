"""Request values from schemas: valid ones to reach 2xx, and invalid ones the app must refuse.

Deterministic on purpose: re-running synth must give the same files, so a
git diff of the journeys shows what changed in the API, not new randomness.
Values that must be unique per run (emails, user names, a thing's name) carry
``{{ run_id }}`` (or ``{{ run_key }}`` where a pattern allows only letters and
digits), so the same journey can run again against the same database.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Deref = Callable[[Any], dict[str, Any]]

IDENTITY_FIELDS = re.compile(r"(^|_)(email|e_?mail|username|user_?name|login|handle|slug)$", re.I)
#: Often unique per table (a flow's name, a board's title), so per run too. Kept apart from
#: IDENTITY_FIELDS, which recordings also use to tell who a user is.
_NAME_FIELDS = re.compile(r"^(name|title)$", re.I)
_RUN = "{{ run_id }}"
_RUN_KEY = "{{ run_key }}"  # the run id in letters and digits only, for names with a pattern
#: What the run variables look like, to check a per-run value against a pattern and a length.
_SAMPLES = {_RUN: "20240115-103000-a1b2c3", _RUN_KEY: "20240115103000a1b2c3"}


def example_value(
    schema: Any, flatten: Deref, name: str = "", unique: str = "", depth: int = 0, full: bool = True
) -> Any:
    """A value that satisfies ``schema``; ``unique`` makes identity-like strings distinct per step."""
    schema = flatten(schema)
    if not isinstance(schema, dict):
        return "example"
    for key in ("example", "default", "const"):
        if key in schema and schema[key] is not None:
            return _uniquified(schema[key], schema, name, unique)
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return _uniquified(examples[0], schema, name, unique)
    if schema.get("enum"):
        return next((v for v in schema["enum"] if v is not None), schema["enum"][0])
    kind = _type(schema)
    if kind == "object":
        if depth > 4:
            return {}
        required = set(schema.get("required") or [])
        result = {}
        for prop, sub in (schema.get("properties") or {}).items():
            sub_flat = flatten(sub)
            if sub_flat.get("readOnly"):
                continue
            if prop in required or (full and depth == 0):
                result[prop] = example_value(sub, flatten, prop, unique, depth + 1, full=False)
        return result
    if kind == "array":
        if depth > 4:
            return []
        count = max(1, int(schema.get("minItems") or 0))
        items = schema.get("items") or {}
        return [example_value(items, flatten, name, f"{unique}{i}", depth + 1, full) for i in range(count)]
    if kind == "integer":
        return int(_number(schema, 1))
    if kind == "number":
        return _number(schema, 1.5)
    if kind == "boolean":
        return True
    return _string(schema, name, unique)


def _type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind:
        return str(kind)
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _number(schema: dict[str, Any], preferred: float) -> float:
    low = schema.get("minimum")
    high = schema.get("maximum")
    if isinstance(schema.get("exclusiveMinimum"), int | float):
        low = schema["exclusiveMinimum"] + 1
    elif schema.get("exclusiveMinimum") is True and low is not None:
        low += 1
    if isinstance(schema.get("exclusiveMaximum"), int | float):
        high = schema["exclusiveMaximum"] - 1
    elif schema.get("exclusiveMaximum") is True and high is not None:
        high -= 1
    value = preferred
    if low is not None and value < low:
        value = low
    if high is not None and value > high:
        value = high
    step = schema.get("multipleOf")
    if step:
        value = (value // step + (1 if value % step else 0)) * step
    return value


_FORMATS = {
    "date-time": "2024-01-15T10:30:00Z",
    "date": "2024-01-15",
    "time": "10:30:00",
    "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "uri": "https://example.test/resource",
    "url": "https://example.test/resource",
    "hostname": "example.test",
    "ipv4": "192.0.2.10",
    "ipv6": "2001:db8::10",
    "byte": "ZXhhbXBsZQ==",
    "binary": "example",
    "password": "Secret-pass-123",
}


def _string(schema: dict[str, Any], name: str, unique: str) -> str:
    fmt = str(schema.get("format") or "")
    pattern = schema.get("pattern")
    low = int(schema.get("minLength") or 0)
    high = schema.get("maxLength")
    if fmt == "email" or name.lower().endswith("email"):
        value = f"qa-{_RUN}{unique}@example.test"
    elif fmt in _FORMATS:
        value = _FORMATS[fmt]
    elif pattern:
        value = from_pattern(str(pattern)) or "example"
        if per_run_name(name):
            value = _per_run(value, schema, unique)
    elif IDENTITY_FIELDS.search(name):
        value = f"qa{unique}-{_RUN}"
    elif "password" in name.lower():
        value = _FORMATS["password"]
    elif _NAME_FIELDS.search(name):
        value = _per_run(name.lower(), schema, unique)
    else:
        value = f"{name or 'example'}"
    if "{{" in value and high is not None and len(_sample(value)) > int(high):
        value = value.replace(_RUN, "").replace(_RUN_KEY, "")[: int(high)] or "x"
    if len(value) < low:
        value = value + "x" * (low - len(value))
    if high is not None and "{{" not in value and len(value) > int(high):
        value = value[: int(high)]
    return value


def per_run_name(name: str) -> bool:
    """A field whose value is often unique per table (an email, a flow's name): made per run."""
    return bool(IDENTITY_FIELDS.search(name) or _NAME_FIELDS.search(name))


def _sample(value: str) -> str:
    for template, sample in _SAMPLES.items():
        value = value.replace(template, sample)
    return value


def _per_run(value: str, schema: dict[str, Any], unique: str) -> str:
    """``value`` made distinct per run, in a form the schema's pattern and length still accept.

    Without one, a journey that creates a named thing passes once and then
    meets a 409 on every later run against the same database.
    """
    pattern = schema.get("pattern")
    high = schema.get("maxLength")
    for candidate in (f"{value}{unique}-{_RUN}", f"{value}{unique}_{_RUN_KEY}", f"{value}{unique}{_RUN_KEY}"):
        sample = _sample(candidate)
        if high is not None and len(sample) > int(high):
            continue
        try:
            if pattern and not re.search(str(pattern), sample):
                continue
        except re.error:
            return value
        return candidate
    return value


def _uniquified(value: Any, schema: dict[str, Any], name: str, unique: str) -> Any:
    """Examples of identity fields (an email) would collide on the second run: make them per run."""
    if isinstance(value, str) and per_run_name(name):
        if "@" in value:
            local, _, domain = value.partition("@")
            return f"{local}+{_RUN}{unique}@{domain}"
        return _per_run(value, schema, unique)
    return value


# --- patterns -------------------------------------------------------------------------------

_CLASS_SAMPLE = {"d": "1", "w": "a", "s": " ", "D": "a", "W": "-", "S": "a"}


def from_pattern(pattern: str) -> str | None:
    """A string matching a simple regex (classes, literals, groups, quantifiers), or None."""
    try:
        compiled = re.compile(pattern)
    except re.error:
        return None
    text = pattern.removeprefix("^").removesuffix("$")
    out: list[str] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            piece, pos = _CLASS_SAMPLE.get(text[pos + 1], text[pos + 1]), pos + 2
        elif char == "[":
            end = text.find("]", pos + 1)
            if end < 0:
                return None
            piece, pos = _class_member(text[pos + 1 : end]), end + 1
        elif char == "(":
            end = text.find(")", pos)
            if end < 0:
                return None
            inner = text[pos + 1 : end].removeprefix("?:").split("|")[0]
            piece, pos = from_pattern(inner) or "", end + 1
        elif char == ".":
            piece, pos = "a", pos + 1
        elif char in "^$":
            piece, pos = "", pos + 1
        else:
            piece, pos = char, pos + 1
        count, pos = _quantifier(text, pos)
        out.append(piece * count)
    value = "".join(out)
    return value if compiled.search(value) else None


def _class_member(body: str) -> str:
    if body.startswith("^"):
        return "a" if "a" not in body else "Z"
    if body.startswith("\\"):
        return _CLASS_SAMPLE.get(body[1:2], body[1:2])
    return body[0]


def _quantifier(text: str, pos: int) -> tuple[int, int]:
    if pos >= len(text):
        return 1, pos
    char = text[pos]
    if char in "+":
        return 1, pos + 1
    if char in "*?":
        return 1, pos + 1
    if char == "{":
        end = text.find("}", pos)
        if end > 0:
            low = text[pos + 1 : end].split(",")[0]
            return (int(low) if low.isdigit() else 1), end + 1
    return 1, pos


# --- invalid values -------------------------------------------------------------------------


def invalid_body(body: Any, schema: Any, flatten: Deref) -> tuple[Any, str] | None:
    """A body the schema forbids, and what is wrong with it: for the 'invalid body' branch."""
    flat = flatten(schema)
    if not isinstance(body, dict) or _type(flat) != "object":
        return None
    required = [r for r in flat.get("required") or [] if r in body]
    if required:
        broken = {k: v for k, v in body.items() if k != required[0]}
        return broken, f"required field {required[0]!r} missing"
    for prop, sub in (flat.get("properties") or {}).items():
        if _union(sub, flatten):  # anyOf [object, anything]: the first choice is not the only one
            continue
        kind = _type(flatten(sub))
        if prop in body and kind in ("integer", "number", "boolean", "array", "object"):
            return {**body, prop: "not-a-" + kind}, f"{prop!r} has the wrong type"
    return None


def _union(schema: Any, flatten: Deref) -> bool:
    """A field of several types (``anyOf``/``oneOf`` beyond a null): no one type is wrong for it."""
    raw = schema if isinstance(schema, dict) else {}
    if "$ref" in raw:
        return False
    choices = raw.get("anyOf") or raw.get("oneOf") or []
    kinds = [c for c in choices if not (isinstance(c, dict) and c.get("type") == "null")]
    return len(kinds) > 1 or (not raw.get("type") and not choices and not raw.get("properties"))


# --- boundary and malformed values, for the fuzz phase ----------------------------------------

#: Strings that break code which trusts its input: a NUL, control and bidi characters, astral
#: characters, SQL and path punctuation, and a long one.
_AWKWARD = (
    ("a NUL character", "a\u0000b"),
    ("unicode", "ǅ\u202eŉ🙂\U0010fffd"),
    ("quotes and path characters", "'\"%/../;--"),
    ("whitespace only", " \t\n"),
    ("a long string", "x" * 10_000),
)
_BAD_FORMATS = {
    "date-time": ("2024-02-30T25:61:61Z", "9999-12-31T23:59:59.999999+14:00", "0001-01-01T00:00:00"),
    "date": ("2024-02-30", "0000-00-00"),
    "time": ("25:61:61",),
    "uuid": ("not-a-uuid", "00000000-0000-0000-0000-000000000000"),
    "email": ("no-at-sign", "@@"),
    "uri": ("::not a uri",),
    "ipv4": ("999.1.1.1",),
}


def boundary_values(schema: Any, flatten: Deref) -> list[tuple[str, Any]]:
    """Values at and past the edges of ``schema``, each with what it is, for one field at a time.

    What finds server errors is what validation forgets: a number past the
    database's integer, a string past a column's length, a format that parses
    into an impossible date, a type the code did not expect, a null.
    """
    flat = flatten(schema)
    if not isinstance(flat, dict):
        return []
    kind = _type(flat)
    out: list[tuple[str, Any]] = [("null", None)]
    if flat.get("enum"):
        choices = [v for v in flat["enum"] if isinstance(v, str)]
        out.append(("a value outside the enum", "__none_of_these__"))
        if choices:
            out.append(("an enum value in other case", choices[0].swapcase()))
    if kind == "string":
        low, high = flat.get("minLength"), flat.get("maxLength")
        if isinstance(high, int):
            out.append((f"{high + 1} characters (maxLength {high})", "x" * (high + 1)))
        if isinstance(low, int) and low > 0:
            out.append((f"{low - 1} characters (minLength {low})", "x" * (low - 1)))
        out.append(("an empty string", ""))
        for bad in _BAD_FORMATS.get(str(flat.get("format") or ""), ()):
            out.append((f"a bad {flat['format']}", bad))
        if flat.get("pattern"):
            out.append(("a string off the pattern", "!~"))
        out += list(_AWKWARD)
        out += [
            ("a number for a string", 1e308),
            ("an object for a string", {"a": 1}),
            ("a list for a string", ["a"]),
        ]
    elif kind in ("integer", "number"):
        for key, step, what in (
            ("minimum", -1, "below the minimum"),
            ("maximum", 1, "above the maximum"),
            ("exclusiveMinimum", 0, "the exclusive minimum"),
            ("exclusiveMaximum", 0, "the exclusive maximum"),
        ):
            edge = flat.get(key)
            if isinstance(edge, int | float) and not isinstance(edge, bool):
                out.append((f"{what} ({edge})", edge + step))
        out += [
            ("zero", 0),
            ("a negative number", -1),
            ("past a 32-bit integer", 2**31),
            ("past a 64-bit integer", 2**63),
            ("a huge negative number", -(10**30)),
            ("a string for a number", "12abc"),
            ("a boolean for a number", True),
        ]
        if kind == "integer":
            out.append(("a fraction for an integer", 1.5))
        else:
            out.append(("a huge float", 1e308))
    elif kind == "boolean":
        out += [("a string for a boolean", "maybe"), ("a number for a boolean", 2)]
    elif kind == "array":
        items = flatten(flat.get("items") or {})
        sample = example_value(items, flatten) if items else "x"
        out += [("an empty list", []), ("a list of nulls", [None, None]), ("a string for a list", "x")]
        out.append(("a long list", [sample] * 1000))
        if isinstance(flat.get("maxItems"), int):
            out.append((f"{flat['maxItems'] + 1} items (maxItems)", [sample] * (flat["maxItems"] + 1)))
        if items:
            out += [
                (f"a list holding: {what}", [value]) for what, value in boundary_values(items, flatten)[1:4]
            ]
    elif kind == "object":
        out += [("an empty object", {}), ("a string for an object", "x"), ("a list for an object", [])]
    return out
