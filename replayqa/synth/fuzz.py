"""The fuzz phase: the rest of synth's budget, spent on requests no journey file would hold.

Two aims, one loop, through the one runner:

* **Reach.** Every operation first gets a request built from values the app
  handed out earlier in the phase (ids, names, paths, slugs), so a path
  parameter names something that exists, and a nested one belongs to its
  parent: ``/buckets/{bucket_id}/collections/{collection_id}`` is filled from
  a collection, together with the bucket it was made in. A made-up value is
  the last resort, and a 4xx on one says nothing.
* **Server errors.** Then, round after round while the budget lasts, one
  field at a time gets a boundary or malformed value (:mod:`.values`), and
  every 5xx the spec does not document is a finding.

A finding becomes a *reproducer*: the failing request, preceded by the
requests that made the values it used, each saving what the next needs. It is
run once more, from the same database state, and kept only if the 5xx comes
back, so what synth writes is a bug a maintainer can rerun, not a rumour.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urlsplit

from replayqa.actions import RequestAction
from replayqa.model import Branch, Check, Checkpoint, Journey, Node, Path, Step
from replayqa.synth.fromspec import NOT_5XX
from replayqa.synth.openapi import Api, Operation
from replayqa.synth.resources import collections, id_param_resource, normalise, resource_name
from replayqa.synth.values import boundary_values, example_value

#: Keys an object is known by: an object holding one of these is a thing the app manages.
_KEYS = ("id", "uuid", "key", "name", "slug", "path", "code")
_PER_KEY = 12  # values remembered per (resource, field): the newest first
_BATCH = 10  # malformed requests per operation per round: every operation gets its turn early
_RESERVE = 0.15  # of the phase kept for replaying the findings
_METHOD_ORDER = {"POST": 0, "PUT": 1, "GET": 2, "PATCH": 3, "DELETE": 4}


@dataclass
class Origin:
    """The request that handed a value out: how a reproducer makes it again."""

    op: Operation
    fills: dict[str, Entry]
    body: Any
    where: str  # the value's place in that response body ("data.id", "[2].name")
    call: int = 0  # which request: values from one response are made by one step


@dataclass
class Entry:
    value: Any
    parents: dict[str, Any]  # the path parameters of the request that handed it out
    origin: Origin | None = None
    #: Parents that are values of the same response (the object this one sits in), as entries.
    links: dict[str, Entry] = field(default_factory=dict)
    #: False for a value a create was sent (its key, its name): real, but only in this run.
    replayable: bool = True
    #: The other scalar fields of the object it came from (a block schema's ``block_type_id``).
    siblings: dict[str, Any] = field(default_factory=dict)


@dataclass
class Finding:
    op: Operation
    status: int
    fills: dict[str, Entry]
    body: Any
    query: dict[str, Any]
    label: str  # what was malformed
    raw: str | None = None


@dataclass
class FuzzStats:
    requests: int = 0
    reached: set[str] = field(default_factory=set)  # operations answered 2xx
    server_errors: int = 0
    left: float = 0.0
    total_ops: int = 0


class ValuePool:
    """Values the app handed out, by (resource, field), with the request that made each."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], list[Entry]] = {}

    def add(self, resource: str, name: str, entry: Entry) -> None:
        if not _usable(entry.value):
            return
        bucket = self.entries.setdefault((resource, name), [])
        if any(e.value == entry.value for e in bucket):
            return
        bucket.insert(0, entry)
        del bucket[_PER_KEY:]

    def harvest(
        self,
        resource: str,
        body: Any,
        parents: dict[str, Any],
        origin: Callable[[str], Origin],
        echoed: frozenset[Any] = frozenset(),
        made: bool = False,
    ) -> None:
        """Remember every keyed object in a response, under the resource it is, and its fields.

        ``echoed``: made-up values the request sent. An app answering with them
        is no evidence they name anything, except as the key of the very thing
        a create just ``made`` with it (``PUT /buckets/{id}``).
        """
        for where, owners, obj, outer in _objects(body, resource):
            scalars = {k: v for k, v in obj.items() if _usable(v)}
            for name, value in obj.items():
                if isinstance(value, dict | list) or not _usable(value):
                    continue
                links = {k: Entry(v, parents, origin(place)) for k, (v, place) in outer.items()}
                entry = Entry(
                    value,
                    {**parents, **{k: v for k, (v, _) in outer.items()}},
                    origin(f"{where}.{name}" if where else name),
                    links,
                    siblings=scalars,
                )
                if value in echoed:
                    if made and owners[0] == resource and name.lower() in _KEYS:
                        self.add(resource, name, entry)
                    continue
                for owner in owners:
                    self.add(owner, name, entry)
                self.add("*", name, entry)
                linked = id_param_resource(name, "") if name.lower() not in _KEYS else None
                if linked:
                    self.add(linked, "id", entry)

    def widened(self, keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """``keys``, then the same fields of resources named alike (``queue``: ``workqueue``,
        ``concurrencylimit``: ``concurrencylimitv2``), for paths that shorten a schema's name."""
        known = {resource for resource, _ in self.entries}
        extra = [
            (other, name)
            for resource, name in keys
            if resource != "*" and len(resource) >= 4
            for other in sorted(known)
            if other not in (resource, "*") and (other.endswith(resource) or other.startswith(resource))
        ]
        generic = [k for k in keys if k[0] == "*"]
        return [k for k in keys if k[0] != "*"] + extra + generic

    def forget(self, value: Any) -> None:
        """A value whose thing was deleted: no later request should name it."""
        for bucket in self.entries.values():
            bucket[:] = [e for e in bucket if e.value != value]

    def pick(
        self,
        keys: list[tuple[str, str]],
        fixed: dict[str, Any],
        avoid: frozenset[Any] = frozenset(),
        within: frozenset[str] = frozenset(),
    ) -> Entry | None:
        """The newest entry under the first key that has one agreeing with what is already chosen.

        ``within``: the request's other path parameters. An entry made under all of
        them comes first (a queue made by ``POST /pools/{pool}/queues``, for
        ``/pools/{pool}/queues/{name}``): a name from elsewhere names nothing in that pool.
        """
        for needed in (within, frozenset()) if within else (frozenset(),):
            for key in keys:
                for entry in self.entries.get(key, ()):
                    if entry.value in avoid or not needed <= entry.parents.keys():
                        continue
                    if all(fixed.get(k, v) == v for k, v in entry.parents.items()):
                        return entry
        return None

    def pick_agreeing(self, keys: list[tuple[str, str]], chosen: dict[str, Any]) -> Entry | None:
        """An entry whose object agrees with the values a body already holds, else any.

        A body naming two things that belong together (a block schema and its
        block type) is refused, or worse, when the two come from unrelated objects.
        """
        for key in keys:
            for entry in self.entries.get(key, ()):
                shared = chosen.keys() & entry.siblings.keys()
                if shared and all(entry.siblings[k] == chosen[k] for k in shared):
                    return entry
        return self.pick(keys, {})


def _sibling(fills: dict[str, Entry], prop: str) -> Entry | None:
    """``prop`` as the object of a value the body already holds has it: the two belong together."""
    for key, entry in fills.items():
        if key.startswith("body:") and _usable(entry.siblings.get(prop)):
            origin = entry.origin
            if origin is not None:
                head = origin.where.rpartition(".")[0]
                origin = replace(origin, where=f"{head}.{prop}" if head else prop)
            return Entry(entry.siblings[prop], entry.parents, origin, entry.links, entry.replayable)
    return None


def _usable(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, str):
        return 0 < len(value) <= 200 and "{{" not in value
    return isinstance(value, int)


def _objects(
    body: Any, resource: str, where: str = "", depth: int = 0, outer: dict[str, Any] | None = None
) -> Iterator[tuple[str, tuple[str, ...], dict[str, Any], dict[str, Any]]]:
    """(place, resource names, object, its enclosing ids) for each keyed object in a body.

    A nested object is a thing of its key's name and of its parent's
    (``flow_run.state`` is a ``state`` and a ``flowrunstate``), and it belongs
    to the object it sits in: its parents include that object's id, so
    ``/deployments/{id}/schedules/{schedule_id}`` gets a schedule of that deployment.
    """
    if depth > 3:
        return
    names = (resource,) if isinstance(resource, str) else resource
    if isinstance(body, list):
        for index, item in enumerate(body[:20]):
            yield from _objects(item, resource, f"{where}[{index}]", depth + 1, outer)
        return
    if not isinstance(body, dict):
        return
    keyed = any(k in body and _usable(body[k]) for k in _KEYS)
    if keyed:
        yield where, names, body, outer or {}
    own = (body["id"], f"{where}.id" if where else "id") if _usable(body.get("id")) else None
    inner = {"id": own, f"{names[0]}_id": own} if own is not None else outer
    for key, sub in body.items():
        if isinstance(sub, dict | list):
            place = f"{where}.{key}" if where else key
            wrapper = key in ("data", "result", "results", "items", "item", "records", "content", "value")
            if wrapper:
                yield from _objects(sub, resource, place, depth + 1, outer)
            else:
                nested = (normalise(key), normalise(f"{names[0]}_{key}"))
                yield from _objects(sub, nested, place, depth + 1, inner)  # type: ignore[arg-type]


def param_keys(op: Operation, name: str) -> list[tuple[str, str]]:
    """Where a value for path parameter ``name`` may be in the pool, most specific first."""
    keys: list[tuple[str, str]] = []
    literal = _literal_before(op.path, name)
    resource = id_param_resource(name, op.path)
    if resource:
        keys += [(resource, "id"), (resource, "uuid"), (resource, "key")]
    match = re.fullmatch(r"(.+?)[_-]?(name|Name|slug|Slug|path|Path|code|Code)", name)
    if match:
        keys.append((normalise(match.group(1)), match.group(2).lower()))
    if literal:
        keys += [(literal, name), (literal, "id" if resource == literal else name)]
    for part in name.split("_or_") if "_or_" in name else ():  # {id_or_name}: either field
        keys += [(literal, part)] if literal else []
        keys.append(("*", part))
    keys += [(normalise(name), "id"), ("*", name)]
    seen: set[tuple[str, str]] = set()
    return [k for k in keys if not (k in seen or seen.add(k))]  # type: ignore[func-returns-value]


def _literal_before(path: str, name: str) -> str | None:
    """The collection a parameter sits in: ``/flows/name/{name}`` → flow; ``/pools/{id}`` → pool."""
    segments = [s for s in path.split("/") if s]
    if "{" + name + "}" not in segments:
        return None
    before = [s for s in segments[: segments.index("{" + name + "}")] if not s.startswith("{")]
    for segment in reversed(before):
        if segment.lower() not in ("name", "by-name", "id", "by-id", "api", "v1", "v2", "v3"):
            return normalise(segment)
    return None


def op_resource(api: Api, op: Operation) -> str:
    """What an operation's response is a thing of: its schema's name, else the path's collection."""
    _, schema = op.success_schema()
    if schema is not None:
        flat = api.flatten(schema)
        named = api.ref_name(schema) or api.ref_name(flat.get("items") or {})
        if named:
            return resource_name(named, collections(api.path_words))
    literals = [s for s in op.path.split("/") if s and not s.startswith("{")]
    return normalise(literals[-1]) if literals else "root"


class Fuzzer:
    """Spends a budget on an API through a runner; collects reach and reproducible 5xx findings."""

    def __init__(
        self,
        api: Api,
        request_for: Callable[..., RequestAction],
        run: Callable[[Journey], Any],
        deadline: float,
        progress: Callable[[FuzzStats], None] | None = None,
        skip: set[str] | None = None,
        protected: frozenset[Any] = frozenset(),
    ) -> None:
        """``protected``: values no change may name (the account the run logs in with)."""
        self.api = api
        self.protected = protected
        self.request_for = request_for
        self.run = run
        self.deadline = deadline
        self.progress = progress or (lambda stats: None)
        self.pool = ValuePool()
        self.stats = FuzzStats()
        self.findings: dict[tuple[str, int], Finding] = {}
        #: (method, URL, status) -> how many: every answer, for ``coverage`` to count.
        self.answers: dict[tuple[str, str, int | None], int] = {}
        #: operation -> body field -> values the app's own refusals named (``'text' or 'base64'``).
        self.hints: dict[str, dict[str, list[Any]]] = {}
        #: Operations whose full, valid request got a server error: their journeys keep that request.
        self.crashed: set[str] = set()
        #: The first valid request that got a 2xx, per operation: what journeys are built from.
        self.proven: dict[str, Finding] = {}
        skip = skip or set()
        ops = [op for op in api.operations if not op.deprecated and op.label not in skip]
        #: ``DELETE /accounts``, ``POST /flows/bulk_delete``: a delete of everything, sent once, last.
        self.bulk_deletes = [op for op in ops if _removes(op) and not op.path.rstrip("/").endswith("}")]
        # Deletes go last, so what they remove was used first.
        self.ops = sorted(
            (op for op in ops if op not in self.bulk_deletes),
            key=lambda op: (
                _removes(op),
                len(op.path_params),
                _METHOD_ORDER.get(op.method, 5),
                op.path,
            ),
        )
        self.stats.total_ops = len(ops)
        self._mutations = {op.key: self._malformed(op) for op in self.ops}
        self._counter = 0

    # -- the loop -------------------------------------------------------------------------

    def probe(self, stop: float) -> None:
        """Reach first: every operation once with the best values there are, twice over.

        The second pass retries what failed with the values the first pass
        found, and with only the required fields, since a body full of optional
        fields is the commonest reason a valid-looking request is refused.
        """
        keep = [op for op in self.ops if not _removes(op)]
        deletes = [op for op in self.ops if _removes(op)]
        # Deletes only once everything else had both tries, so what they remove was there to use.
        # Before the deletes, the creates that worked once more: a thing deleted by id is then
        # still there to delete by name.
        again = [op for op in keep if op.method == "POST" and not op.path_params]
        # A last try of what is still unreached: the others' calls may have made what it needed.
        passes = [
            (0, keep),
            (1, keep),
            (2, keep),
            (3, keep),
            (1, keep),
            (-1, again),
            (0, deletes),
            (1, deletes),
        ]
        for attempt, ops in passes:
            if attempt == 1:  # what the first pass's refusals taught: one more try each
                ops = [*ops, *(op for op in keep if op.key in self.hints)]
            if attempt == -1:
                for op in ops:
                    if op.key in self.proven and time.monotonic() < stop:
                        self._send(op, [self.proven[op.key]])
                continue
            for op in ops:
                if time.monotonic() > stop:
                    return
                if op.key in self.proven or (
                    attempt > 1 and not self._has_choices(op) and op.key not in self.hints
                ):
                    continue
                minimal = attempt % 2 == 1 and op.body_schema is not None
                self._send(op, [self._positive(op, minimal=minimal, turn=attempt // 2)])

    def _missing(self, op: Operation, sent: dict[str, Any], message: str) -> None:
        """A refusal naming a body field the request left out (``Missing field in JSON data:
        path``): the next try sends it, with the value a full body would have."""
        if op.body_schema is None:
            return
        props = self.api.flatten(op.body_schema).get("properties") or {}
        for name in props:
            if name not in sent and re.search(rf"\b{re.escape(name)}\b", message):
                value = example_value(props[name], self.api.flatten, name, unique=f"m{self._counter}")
                self.hints.setdefault(op.key, {}).setdefault(name, [value])

    def _has_choices(self, op: Operation) -> bool:
        props = self.api.flatten(op.body_schema).get("properties") or {} if op.body_schema else {}
        return any(len(self.api.flatten(p).get("enum") or []) > 1 for p in props.values())

    def fuzz(self, stop: float) -> FuzzStats:
        """Malformed values, one field at a time, every operation taking its turn, until ``stop``."""
        rounds = 0
        while time.monotonic() < stop:
            pending = False
            for op in self.ops:
                if time.monotonic() > stop:
                    break
                batch = self._mutations[op.key][:_BATCH]
                del self._mutations[op.key][:_BATCH]
                variants = []
                if op.key not in self.proven or rounds % 3 == 0:
                    variants.append(self._positive(op, minimal=rounds % 2 == 1, turn=rounds // 2))
                variants += [self._variant(op, *m) for m in batch]
                pending = pending or bool(self._mutations[op.key])
                if variants:
                    self._send(op, variants)
            rounds += 1
            if not pending and (rounds > 6 or all(op.key in self.proven for op in self.ops)):
                break
        for op in self.bulk_deletes:
            self._send(op, [self._positive(op)])
        return self.stats

    def proven_path(self, op: Operation) -> list[Step] | None:
        """Steps that reach ``op`` with a 2xx: the calls that made its values, then the call.

        The values are the app's own, traced to the responses that handed them
        out, so the journey makes them again wherever it runs.
        """
        variant = self.proven.get(op.key)
        if variant is None or not _replayable(variant.fills) or op.key in self.crashed:
            return None  # a request that crashed the server is the finding: not traded for one that passes
        steps: list[Step] = []
        names: dict[int, str] = {}
        self._chain(variant.fills, steps, names, prefix=_slug(op))
        steps.append(Step(_slug(op), self.action(variant, self._holder(names)), variant.label))
        return steps

    def minimal_bodies(self) -> set[str]:
        """Operations reached only once their body held just the required fields."""
        return {
            key
            for key, v in self.proven.items()
            if "required fields only" in v.label and key not in self.crashed
        }

    def _positive(self, op: Operation, minimal: bool = False, turn: int = 0) -> Finding:
        """A request meant to succeed; ``turn`` picks other choices of each enum (``type: file``
        where ``directory`` came first and was refused)."""
        fills = self._fill(op)
        body = self._body(op, fills, minimal)
        if isinstance(body, dict):
            for name, values in self.hints.get(op.key, {}).items():
                body[name] = values[turn % len(values)]
        if turn and isinstance(body, dict) and op.body_schema is not None:
            props = self.api.flatten(op.body_schema).get("properties") or {}
            for name in body:
                choices = [
                    c for c in self.api.flatten(props.get(name) or {}).get("enum") or [] if c is not None
                ]
                if len(choices) > 1:
                    body[name] = choices[turn % len(choices)]
        label = "valid" if not minimal else "valid (required fields only)"
        return Finding(op, 0, fills, body, {}, label + (f", enum choice {turn}" if turn else ""))

    def _variant(self, op: Operation, where: str, label: str, value: Any) -> Finding:
        variant = self._positive(op)
        variant.label = label
        if where == "raw":
            variant.raw = value
        elif where.startswith("query:"):
            variant.query = {where[6:]: value}
        elif where.startswith("path:"):
            variant.fills = {**variant.fills, where[5:]: Entry(value, {})}
        elif where == "body":
            variant.body = value
        elif isinstance(variant.body, dict):
            variant.body = _set(variant.body, where.split("."), value)
        return variant

    def _malformed(self, op: Operation) -> list[tuple[str, str, Any]]:
        """(where, what, value) for one operation, one field at a time, fields taking turns."""
        per_field: list[list[tuple[str, str, Any]]] = []
        flatten = self.api.flatten
        for param in op.parameters:
            if param.location in ("query", "path"):
                prefix = f"{param.location}:{param.name}"
                values = boundary_values(param.schema, flatten)
                if param.location == "path":
                    values = [(w, v) for w, v in values if v is not None and not isinstance(v, dict | list)]
                per_field.append([(prefix, f"{param.location} {param.name}: {w}", v) for w, v in values])
        if op.body_schema is not None:
            flat = flatten(op.body_schema)
            props = flat.get("properties") or {}
            for name, sub in list(props.items())[:30]:
                per_field.append([(name, f"body {name}: {w}", v) for w, v in boundary_values(sub, flatten)])
                inner = flatten(sub).get("properties") or {}
                for child, schema in list(inner.items())[:10]:
                    per_field.append(
                        [
                            (f"{name}.{child}", f"body {name}.{child}: {w}", v)
                            for w, v in boundary_values(schema, flatten)
                        ]
                    )
            whole: list[tuple[str, str, Any]] = [
                ("body", "an empty object", {}),
                ("body", "a list for the body", []),
                ("body", "null body", None),
            ]
            whole.append(("raw", "a body that is not JSON", '{"unterminated": '))
            per_field.append(whole)
        mixed: list[tuple[str, str, Any]] = []
        while any(per_field):
            for queue in per_field:
                if queue:
                    mixed.append(queue.pop(0))
        return mixed

    # -- values ---------------------------------------------------------------------------

    def _fill(self, op: Operation) -> dict[str, Entry]:
        """A value for each path parameter, deepest first, so parents come from the child's origin."""
        fills: dict[str, Entry] = {}
        given: dict[str, Entry] = {}  # parameters a deeper value's origin already decided
        for param in reversed(op.path_params):
            avoid = self.protected if op.method in ("PUT", "PATCH", "DELETE") else frozenset()
            others = frozenset(p.name for p in op.path_params if p.name != param.name and p.name not in given)
            entry = given.get(param.name) or self.pool.pick(
                self.pool.widened(param_keys(op, param.name)),
                {k: e.value for k, e in given.items()},
                avoid,
                others,
            )
            if entry is None:
                made_up = (
                    param.example
                    if param.example is not None
                    else example_value(param.schema, self.api.flatten, param.name)
                )
                entry = Entry(made_up, {})
            fills[param.name] = entry
            for name, value in entry.parents.items():
                parent = entry.links.get(name) or (entry.origin.fills.get(name) if entry.origin else None)
                given.setdefault(name, parent if parent is not None else Entry(value, {}))
        return fills

    def _body(self, op: Operation, fills: dict[str, Entry], minimal: bool) -> Any:
        if op.body_schema is None:
            return op.body_examples[0][1] if op.body_examples else None
        self._counter += 1
        body = (
            op.body_examples[0][1]
            if op.body_examples and not minimal
            else example_value(op.body_schema, self.api.flatten, unique=f"f{self._counter}", full=not minimal)
        )
        if not isinstance(body, dict):
            return body
        body = dict(body)
        if op.method == "PATCH":
            # An update that sends a new name renames the thing: every later request naming it by
            # the name the pool holds would find nothing. Key fields go unless the schema needs them.
            required = set(self.api.flatten(op.body_schema).get("required") or ())
            body = {k: v for k, v in body.items() if k.lower() not in _KEYS or k in required}
        for prop in list(body):
            if prop.lower() in _KEYS or isinstance(body[prop], dict):
                continue
            keys = (
                param_keys(op, prop)
                if id_param_resource(prop, "") or re.search(r"(name|slug)$", prop)
                else []
            )
            keys = [k for k in keys if k[0] != "*" or k[1] != prop or id_param_resource(prop, "")]
            chosen = {k[5:]: e.value for k, e in fills.items() if k.startswith("body:")}
            entry = (_sibling(fills, prop) or self.pool.pick_agreeing(keys, chosen)) if keys else None
            if entry is None:
                continue
            body[prop] = [entry.value] if isinstance(body[prop], list) else entry.value
            fills[f"body:{prop}"] = entry
            for other in [k[5:] for k in fills if k.startswith("body:") and k[5:] != prop]:
                # what the chosen object says it belongs to wins over an unrelated earlier pick
                if other in entry.siblings and fills[f"body:{other}"].value != entry.siblings[other]:
                    made = _sibling({f"body:{prop}": entry}, other)
                    if made is not None:
                        held = body[other]
                        body[other] = [made.value] if isinstance(held, list) else made.value
                        fills[f"body:{other}"] = made
        return body

    # -- sending --------------------------------------------------------------------------

    def action(self, variant: Finding, name_of: Callable[[Entry], Any] | None = None) -> RequestAction:
        """The request for a variant; ``name_of`` turns a pool entry into what the request holds."""
        name_of = name_of or (lambda e: e.value)
        path_values = {k: name_of(e) for k, e in variant.fills.items() if not k.startswith("body:")}
        body = variant.body
        if isinstance(body, dict):
            body = dict(body)
            for key, entry in variant.fills.items():
                if key.startswith("body:") and key[5:] in body:
                    held = name_of(entry)
                    body[key[5:]] = [held] if isinstance(body[key[5:]], list) else held
        action = self.request_for(variant.op, path_values, body, variant.query)
        if variant.raw is not None:
            action.json = None
            action.form = None
            action.body = variant.raw
            action.headers = {**action.headers, "Content-Type": "application/json"}
        return action

    def _send(self, op: Operation, variants: list[Finding]) -> None:
        steps: list[Node] = []
        for index, variant in enumerate(variants):
            steps.append(
                Step(
                    f"{_slug(op)}_{index}",
                    self.action(variant),
                    variant.label,
                    checks=(Check("status", value=NOT_5XX),),
                    continue_on_failure=True,
                )
            )
        result = self.run(Journey(f"fuzz_{_slug(op)}", steps, "fuzz", tags=("synth", "fuzz")))
        documented = {int(s) for s in op.responses if s.isdigit()}
        for variant, ran in zip(variants, result.steps, strict=False):
            self.stats.requests += 1
            response = ran.exchange.response if ran.exchange else None
            if ran.exchange is not None:
                key = (ran.exchange.request.method, ran.exchange.request.url, response and response.status)
                self.answers[key] = self.answers.get(key, 0) + 1
            if response is None:
                continue
            status = response.status
            if 200 <= status < 300:
                self.stats.reached.add(op.label)
                if variant.label.startswith("valid"):
                    self.proven.setdefault(op.key, variant)
                self._learn(op, variant, response, _sent_json(ran.exchange), ran.exchange)
            elif status in (400, 409, 422) and variant.label.startswith("valid"):
                sent = _sent_json(ran.exchange)
                if isinstance(sent, dict):
                    for name, values in hints(response.body or "", sent).items():
                        self.hints.setdefault(op.key, {})[name] = values
                    self._missing(op, sent, response.body or "")
            elif status >= 500 and status not in _DELIBERATE and status not in documented:
                if variant.label == "valid":
                    self.crashed.add(op.key)
                self.stats.server_errors += 1
                variant.status = status
                self.findings.setdefault((op.label, status), variant)
        self.stats.left = max(0.0, self.deadline - time.monotonic())
        self.progress(self.stats)

    def _learn(
        self, op: Operation, variant: Finding, response: Any, sent: Any = None, exchange: Any = None
    ) -> None:
        if op.method == "DELETE":
            for key, entry in variant.fills.items():
                if not key.startswith("body:"):
                    self.pool.forget(entry.value)
            return
        parents = {k: e.value for k, e in variant.fills.items() if not k.startswith("body:")}
        if op.method in ("POST", "PUT") and isinstance(sent, dict):
            # A create that answered 2xx made a thing with the key or name it was sent, whether
            # or not the answer repeats it (``POST /flow_runs/{id}/input`` answers nothing).
            for name in _KEYS:
                if _usable(sent.get(name)):
                    entry = Entry(sent[name], parents, replayable=False)
                    self.pool.add(op_resource(self.api, op), name, entry)
        self._counter += 1
        call = self._counter
        key = op.path.rstrip("/").rsplit("/", 1)[-1]
        made = variant.fills.get(key.strip("{}")) if op.method == "PUT" and key.startswith("{") else None
        if made is not None and made.origin is None and exchange is not None:
            # A PUT at a key the client chose (``PUT /files/{name}``) made the thing that key now
            # names, whatever it answered: the same PUT makes it again for a later request. The
            # pool holds the key as sent (its per-run parts filled in); a journey holds the PUT's.
            param = key.strip("{}")
            sent_key = unquote(urlsplit(exchange.request.url).path.rstrip("/").rsplit("/", 1)[-1])
            origin = Origin(op, variant.fills, variant.body, f"path:{param}", call)
            owner = _literal_before(op.path, param) or op_resource(self.api, op)
            others = {k: v for k, v in parents.items() if k != param}
            self.pool.add(owner, param, Entry(sent_key, others, origin))
        body = response.json_or_none()
        if body is None:
            return
        resource = op_resource(self.api, op)
        real = [e.value for e in variant.fills.values() if e.origin is not None]
        sent = {e.value for e in variant.fills.values() if e.origin is None}
        sent |= {v for v in _scalars(variant.body) if v not in real}
        self.pool.harvest(
            resource,
            body,
            parents,
            lambda where: Origin(op, variant.fills, variant.body, where, call),
            frozenset(v for v in sent if _usable(v)),
            made=op.method in ("POST", "PUT"),
        )

    # -- reproducers ----------------------------------------------------------------------

    def reproducers(self) -> Journey | None:
        """One path per finding: the requests that made its values, then the request that failed."""
        if not self.findings:
            return None
        paths = []
        for (_, status), finding in sorted(self.findings.items(), key=lambda kv: kv[0]):
            steps: list[Step] = []
            names: dict[int, str] = {}
            self._chain(finding.fills, steps, names)
            held = self._holder(names)
            failing = Step(
                f"{_slug(finding.op)}_server_error",
                self.action(finding, held),
                f"{finding.op.method} {finding.op.path} with {finding.label} answered {status}",
                checks=(Check("status", value=NOT_5XX),),
            )
            steps.append(failing)
            what = f"{finding.op.key} answered {status} to {finding.label}"
            paths.append(Path(f"{_slug(finding.op)}_{status}", list(steps), what))
        journey = Journey(
            "server_errors",
            [Checkpoint("start"), Branch("start", paths)],
            "Requests that made the server answer 5xx during synth's fuzz phase, each with the "
            "requests that made the values it used.",
            tags=("synth", "fuzz"),
        )
        return journey

    def _holder(self, names: dict[int, str]) -> Callable[[Entry], Any]:
        def held(entry: Entry) -> Any:
            if names.get(id(entry)):
                return "{{ " + names[id(entry)] + " }}"
            if entry.origin is not None and entry.origin.where.startswith("path:"):
                return held(entry.origin.fills[entry.origin.where[5:]])  # the key as its PUT sends it
            return entry.value

        return held

    def _chain(
        self,
        fills: dict[str, Entry],
        steps: list[Step],
        names: dict[int, str],
        depth: int = 0,
        prefix: str = "",
        made_by: dict[int, Step] | None = None,
    ) -> None:
        made_by = {} if made_by is None else made_by  # call -> the step that makes it again
        for entry in fills.values():
            origin = entry.origin
            if origin is None or id(entry) in names or depth > 4:
                continue
            self._chain(origin.fills, steps, names, depth + 1, prefix, made_by)
            if origin.where.startswith("path:"):  # the key the request itself chose: sent again
                names[id(entry)] = ""
                if origin.call not in made_by:
                    variant = Finding(origin.op, 0, origin.fills, origin.body, {}, "valid")
                    made_by[origin.call] = Step(
                        f"make_{_slug(origin.op)}_{len(names)}",
                        self.action(variant, self._holder(names)),
                        f"{origin.op.method} {origin.op.path}: makes what a later request names",
                        checks=(Check("status", value="2xx"),),
                    )
                    steps.append(made_by[origin.call])
                continue
            var = f"{prefix}_made_{len(names) + 1}" if prefix else f"made_{len(names) + 1}"
            names[id(entry)] = var
            # An id is also saved under its resource's own name (``book_id``), so later steps of
            # the journey that need one use this one rather than make another.
            alias = f"{op_resource(self.api, origin.op)}_id" if origin.where.split(".")[-1] == "id" else None
            if origin.call and origin.call in made_by:
                made_by[origin.call].save[var] = origin.where  # the same response, one more value
                if alias:
                    made_by[origin.call].save.setdefault(alias, origin.where)
                continue
            variant = Finding(origin.op, 0, origin.fills, origin.body, {}, "valid")
            step = Step(
                f"make_{var}",
                self.action(variant, self._holder(names)),
                f"{origin.op.method} {origin.op.path}: makes the value the failing request uses",
                checks=(Check("status", value="2xx"),),
                save={var: origin.where, **({alias: origin.where} if alias else {})},
            )
            steps.append(step)
            if origin.call:
                made_by[origin.call] = step


#: 5xx answers a server gives on purpose, not a crash: 501 (it does not implement what was asked,
#: a kernel by a name that does not exist) and 503 (busy, or a rule holding writes back).
_DELIBERATE = frozenset({501, 503})

_REMOVES = re.compile(r"(^|[^a-z])(delete|remove|purge|clear|wipe|truncate|destroy)", re.I)


def _removes(op: Operation) -> bool:
    """A DELETE, or an action that deletes (``POST /flows/bulk_delete``, ``removeMember``)."""
    return op.method == "DELETE" or bool(_REMOVES.search(f"{op.path} {op.operation_id or ''}"))


_QUOTED = re.compile(r"'([^'\s]{1,40})'|\"([^\"\s]{1,40})\"|`([^`\s]{1,40})`")


def hints(message: str, sent: dict[str, Any]) -> dict[str, list[Any]]:
    """Values a refusal names for the fields it names: what the app itself says it wants.

    ``Must specify format of file contents as 'text' or 'base64'`` gives
    ``format``: text, base64; a pydantic error (``loc`` and ``Input should be
    'a' or 'b'``) gives its field the choices it lists. Only fields the request
    sent, and only values it did not send.
    """
    found: dict[str, list[Any]] = {}
    errors: list[tuple[str, str]] = []
    try:
        data = json.loads(message)
    except ValueError:
        data = None
    details = data.get("detail") or data.get("exception_detail") if isinstance(data, dict) else None
    if isinstance(details, list):
        for error in details:
            if isinstance(error, dict) and isinstance(error.get("loc"), list) and error["loc"]:
                context: dict[str, Any] = error["ctx"] if isinstance(error.get("ctx"), dict) else {}
                said = f"{error.get('msg', '')} {' '.join(str(v) for v in context.values())}"
                errors.append((str(error["loc"][-1]), said))
    free: Any = data.get("message") or data.get("detail") if isinstance(data, dict) else message
    if isinstance(free, str):
        for name in sent:
            if re.search(rf"\b{re.escape(name)}\b", free):
                errors.append((name, free))
    for name, text in errors:
        if name not in sent:
            continue
        values = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(text)]
        values = [v for v in dict.fromkeys(values) if v != sent.get(name) and v != name and "{" not in v]
        if values:
            found[name] = values[:6]
    return found


def _replayable(fills: dict[str, Entry], depth: int = 0) -> bool:
    """Every value can be made again by a journey: made up, or traced to the call that made it."""
    if depth > 5:
        return False
    for entry in fills.values():
        if not entry.replayable:
            return False
        if entry.origin is not None and not _replayable(entry.origin.fills, depth + 1):
            return False
        if entry.links and not _replayable(entry.links, depth + 1):
            return False
    return True


def _sent_json(exchange: Any) -> Any:
    try:
        return exchange.request.json() if exchange is not None else None
    except ValueError:  # the malformed-body variants sent no JSON
        return None


def _scalars(value: Any, depth: int = 0) -> Iterator[Any]:
    if depth > 4:
        return
    if isinstance(value, dict):
        for item in value.values():
            yield from _scalars(item, depth + 1)
    elif isinstance(value, list):
        for item in value[:50]:
            yield from _scalars(item, depth + 1)
    elif isinstance(value, str | int) and not isinstance(value, bool):
        yield value


def _set(body: dict[str, Any], where: list[str], value: Any) -> dict[str, Any]:
    copy = dict(body)
    if len(where) == 1:
        copy[where[0]] = value
        return copy
    inner = copy.get(where[0])
    copy[where[0]] = _set(inner if isinstance(inner, dict) else {}, where[1:], value)
    return copy


def _slug(op: Operation) -> str:
    text = op.operation_id or f"{op.method} {op.path}"
    text = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", text)
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60] or "op"


@dataclass
class FuzzOutcome:
    stats: FuzzStats
    reproducer: Journey | None = None
    confirmed: list[str] = field(default_factory=list)  # "label status: what", reproduced
    unconfirmed: list[str] = field(default_factory=list)  # seen once, not again from the same state

    def lines(self) -> list[str]:
        s = self.stats
        out = [
            f"Fuzz phase: {s.requests} requests, {len(s.reached)} of {s.total_ops} operations answered 2xx, "
            f"{len(self.confirmed)} server error(s) reproduced"
            + (f", {len(self.unconfirmed)} seen once only" if self.unconfirmed else "")
        ]
        out += [f"  server error: {line}" for line in self.confirmed]
        out += [f"  seen once, not reproduced: {line}" for line in self.unconfirmed]
        return out


class FuzzSession:
    """The fuzz phase against one app, in two parts around the quality gate.

    :meth:`probe` reaches every operation it can before journeys are built,
    so they are built from the calls that made real values; :meth:`fuzz`
    spends what the gate left. With a database, both roll it back when they
    end: the journeys make their own values, and the fuzz phase's first round
    makes fresh ones (the newest are picked first).
    """

    _MARK = "__replayqa_fuzz_start__"

    def __init__(
        self, synth: Any, settings: Any, progress: Callable[[FuzzStats], None] | None = None
    ) -> None:
        from dataclasses import replace

        self.synth = synth
        self.settings = replace(settings, spec=None)
        skip = {synth.auth.login.label} if synth.auth.login is not None else set()
        self._runner: Any = None
        self.fuzzer = Fuzzer(
            synth.api, synth.fuzz_request, self._run, 0.0, progress, skip, _identities(settings.vars)
        )
        self._login: list[Any] = []

    def _run(self, journey: Journey) -> Any:
        return self._runner.run_journey(journey)

    @contextmanager
    def _runner_for(self, deadline: float) -> Iterator[Any]:
        from replayqa.execute import open_runner
        from replayqa.synth.fromspec import PRIMARY, Builder

        self.fuzzer.deadline = deadline
        with open_runner(self.settings) as (runner, state):
            self._runner = runner
            login = Builder(self.synth, "fuzz_log_in")
            self.synth._identity(login, PRIMARY)
            self._login = login.nodes
            if login.nodes:
                runner.run_journey(Journey("fuzz_log_in", login.nodes, "log in for the fuzz phase"))
                made = {k: runner.context[k] for k in login.available if k in runner.context}
                runner.variables.update(made)
            yield runner, state

    @contextmanager
    def _undone(self, state: Any) -> Iterator[Callable[[], None]]:
        """Whatever runs inside is rolled back at the end (with a database); yields a rewind."""
        from replayqa.state import NullBackend

        if isinstance(state, NullBackend):
            yield lambda: None
            return
        state.check_restore_allowed()
        state.checkpoint(self._MARK)
        try:
            yield lambda: state.rollback(self._MARK)
        finally:
            if state.is_connected():
                state.rollback(self._MARK)
                state.release(self._MARK)

    def probe(self, deadline: float) -> FuzzStats:
        """Reach every operation it can; the gate then starts from the state synth found."""
        with self._runner_for(deadline) as (_, state), self._undone(state):
            self.fuzzer.probe(deadline)
        return self.fuzzer.stats

    def fuzz(self, deadline: float) -> FuzzOutcome:
        with self._runner_for(deadline) as (runner, state), self._undone(state) as rewind:
            started = time.monotonic()
            self.fuzzer.fuzz(started + (deadline - started) * (1 - _RESERVE))
            outcome = FuzzOutcome(self.fuzzer.stats)
            journey = self.fuzzer.reproducers()
            if journey is not None:
                rewind()  # the findings are tried again from the state the phase started in
                if self._login:
                    journey.steps = [*self._login, *journey.steps]
                outcome.reproducer, outcome.confirmed, outcome.unconfirmed = _confirm(
                    journey, runner, self.fuzzer
                )
        return outcome


def _identities(variables: dict[str, Any]) -> frozenset[Any]:
    """Who the run logs in as (a basic-auth user, an email): an account no change may touch."""
    import base64
    import binascii

    found: set[Any] = set()
    for name, value in variables.items():
        if not isinstance(value, str):
            continue
        if name == "basic_auth":
            with suppress(binascii.Error, UnicodeDecodeError):
                found.add(base64.b64decode(value).decode().partition(":")[0])
        elif re.search(r"(^|_)(email|user(name)?|login)$", name, re.I):
            found.add(value)
    return frozenset(found)


def _confirm(journey: Journey, runner: Any, fuzzer: Fuzzer) -> tuple[Journey | None, list[str], list[str]]:
    """Run the reproducers once; keep the paths whose last request got its 5xx again."""
    result = runner.run_journey(journey)
    branch = next(n for n in journey.steps if isinstance(n, Branch))
    by_path = {p.name: p for p in branch.paths}
    again: set[str] = set()
    for ran in result.paths:
        name = ran.path.split("/")[-1]
        path = by_path.get(name)
        last = ran.steps[-1] if ran.steps else None
        response = last.exchange.response if last is not None and last.exchange else None
        made = all(s.passed for s in ran.steps[:-1])  # the values it needs were made again
        failed = response is not None and response.status >= 500
        final = path.steps[-1] if path is not None else None
        if isinstance(final, Step) and last is not None and last.step == final.name and made and failed:
            again.add(name)
    confirmed = [p.description for p in branch.paths if p.name in again]
    unconfirmed = [p.description for p in branch.paths if p.name not in again]
    branch.paths = [p for p in branch.paths if p.name in again]
    return (journey if branch.paths else None), confirmed, unconfirmed
