"""Journeys from recordings: each session becomes steps, and sessions that start alike become one tree.

A recorded request's values are traced to the responses that produced them
(:mod:`replayqa.provenance`, the same tracing replay uses) and become
``{{ steps.<name>.body.<path> }}`` references; redacted secrets become
``{{ <field> }}`` values given at run time; identity fields (emails, user
names) get ``{{ run_id }}`` so the journey can run again on the same
database. Two steps are "the same" when they call the same operation with
the same templated request (identity values aside). The shared prefix of
sessions runs once; a Checkpoint stands where they diverge and a Branch
holds one Path per continuation, recursively.

Assertions come from what was recorded: the status, the schema, fields
equal in every recorded response of the operation (noise excluded), and
numeric relations that held in every recorded response (likely invariants,
with their evidence).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from replayqa.actions import RequestAction
from replayqa.diff import noise_format
from replayqa.errors import TemplateError
from replayqa.model import Branch, Check, Checkpoint, Invariant, Journey, Node, Step
from replayqa.model import Path as JPath
from replayqa.provenance import Binding, parse_json, trace
from replayqa.record.storage import Recording
from replayqa.spec import SpecIndex
from replayqa.synth.fromspec import Builder, SpecSynth, SynthOptions, ref, snake
from replayqa.synth.openapi import Api, Operation
from replayqa.synth.resources import singular
from replayqa.synth.values import per_run_name
from replayqa.templates import PathNotFound, resolve_path

_PLACEHOLDER = re.compile(r"\[redacted:[0-9a-f]+\]")
_KEPT_HEADERS = re.compile(r"^(authorization|x-[a-z0-9-]+|if-match|if-none-match|accept-language)$", re.I)
_DROPPED_X = ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "x-request-id")
_ID_LIKE = re.compile(r"(^|_)(id|uuid|key|token|etag)$|Id$", re.I)
MIN_EVIDENCE = 3


@dataclass
class RecordedStep:
    step: Step
    key: str
    operation: Operation | None
    row: dict[str, Any]


class RecordingSynth:
    def __init__(self, api: Api, options: SynthOptions | None = None) -> None:
        self.api = api
        self.index = SpecIndex(api.document)
        self.by_label = api.by_label()
        self.options = options or SynthOptions()
        self.spec_synth = SpecSynth(api, self.options)
        self.secrets: set[str] = set()
        self._creating = False
        #: A name the client chose for what a PUT created (``qa.ipynb``) -> its per-run name, for the
        #: session's later requests that use it (a save, a rename, a delete of the same file).
        self._chosen: dict[str, str] = {}
        self._later: set[str] = set()  # path segments the session's later requests use

    # -- public -------------------------------------------------------------------

    def journeys(self, recordings: Iterable[str | Path]) -> list[Journey]:
        sessions: list[tuple[str, list[dict[str, Any]]]] = []
        noise: list[str] = []
        stem = "recorded"
        for source in recordings:
            recording = Recording.open(source)
            try:
                stem = snake(Path(source).stem)
                noise += [r.get("path", "") for r in recording.noise_rules()]
                for session in recording.sessions():
                    rows = [r for r in recording.exchanges(session["id"]) if r.get("status") is not None]
                    if rows:
                        sessions.append((snake(session.get("name") or f"session_{session['id']}"), rows))
            finally:
                recording.close()
        all_rows = [row for _, rows in sessions for row in rows]
        self.stable = self._stable_fields(all_rows, noise)
        relations = mine_relations(all_rows)
        converted = [(name, self._steps(rows)) for name, rows in sessions]
        journeys = []
        groups: dict[str, list[tuple[str, list[RecordedStep]]]] = defaultdict(list)
        for name, steps in converted:
            groups[steps[0].key].append((name, steps))
        used: set[str] = set()
        for group in groups.values():
            name = group[0][0] if len(group) == 1 else f"{stem}_{snake(group[0][1][0].step.name)}"
            while name in used:
                name += "_"
            used.add(name)
            builder = Builder(self.spec_synth, name)
            nodes = self._merge(group, builder)
            journey = Journey(
                name,
                nodes,
                "Recorded sessions "
                + ", ".join(n for n, _ in group)
                + (
                    ": their shared start runs once, then each continues from a checkpoint."
                    if len(group) > 1
                    else "."
                ),
                tags=("synth", "recorded"),
            )
            journey.invariants = self._invariants(relations)
            journeys.append(journey)
        return journeys

    # -- sessions to steps ----------------------------------------------------------

    def _steps(self, rows: list[dict[str, Any]]) -> list[RecordedStep]:
        bindings: dict[int, list[Binding]] = defaultdict(list)
        for binding in trace(rows):
            bindings[binding.exchange].append(binding)
        names: list[str] = []
        counts: dict[str, int] = defaultdict(int)
        steps = []
        self._chosen = {}
        paths = [urlsplit(row["url"]).path for row in rows]
        for index, row in enumerate(rows):
            path = urlsplit(row["url"]).path
            label = row.get("operation") or self.index.match(row["method"], path)
            op = self.by_label.get(label) if label else None
            base = snake(op.operation_id) if op and op.operation_id else snake(f"{row['method']} {path}")
            counts[base] += 1
            name = base if counts[base] == 1 else f"{base}_{counts[base]}"
            names.append(name)
            row["_name"], row["_label"] = name, label
            self._later = {p for path in paths[index + 1 :] for p in _segments(path)}
            action = self._action(row, bindings[index], names, op, rows[:index])
            checks: list[Check] = [Check("status", value=row["status"])]
            if op is not None:
                # reported, not blocking: a response off the spec is a spec finding, and the
                # session's later steps still say what else the recording holds
                checks.append(Check("schema", blocking=False))
            if op is not None and 200 <= row["status"] < 300:
                checks += [
                    Check("equals", field, value) for field, value in self.stable.get(op.label, {}).items()
                ]
            step = Step(name, action, checks=tuple(checks))
            steps.append(RecordedStep(step, _key(name, action), op, row))
        return steps

    def _small_ids(
        self, op: Operation | None, segments: list[str], earlier: list[dict[str, Any]]
    ) -> dict[int, str]:
        """Ids too small for provenance to trust (``/carts/1``), bound when an earlier response
        holds that value under the parameter's own name, or as the ``id`` of the same resource."""
        if op is None:
            return self._small_ids_unlabelled(segments, earlier)
        template = op.path.rstrip("/").split("/")
        offset = len(segments) - len(template)
        found = {}
        for index, part in enumerate(template):
            position = index + offset
            if not (part.startswith("{") and 0 <= position < len(segments) and segments[position].isdigit()):
                continue
            param = part.strip("{}")
            resource = self.spec_synth.map.param_resource(op, param)
            for row in reversed(earlier):
                body = parse_json(row.get("response_body"))
                row_op = self.by_label.get(row.get("_label") or "")
                row_resource = self.spec_synth.produces(row_op) if row_op else None
                keys = [param]
                if row_resource is not None and row_resource[0].name == resource:
                    keys.append(row_resource[1])
                for key in keys:
                    try:
                        value = resolve_path(body, key)
                    except (PathNotFound, TemplateError):
                        continue
                    if str(value) == segments[position]:
                        step = row["_name"]
                        found[position] = ref(f"steps.{step}.body.{key}")
                        break
                if position in found:
                    break
        return found

    def _small_ids_unlabelled(self, segments: list[str], earlier: list[dict[str, Any]]) -> dict[int, str]:
        """With no spec, a number after a collection's name (``/carts/2``) is bound when an earlier
        response holds it as ``cart_id`` anywhere, or as the ``id`` of a response from a path
        naming the cart (``POST /cart/items`` answering the cart)."""
        found = {}
        for position, value in enumerate(segments):
            if not (value.isdigit() and position and segments[position - 1]):
                continue
            collection = segments[position - 1]
            one = singular(collection)
            for row in reversed(earlier):
                body = parse_json(row.get("response_body"))
                named = next((p for p, k, v in _leaves(body) if k == f"{one}_id" and str(v) == value), None)
                if named is None and isinstance(body, dict) and str(body.get("id")) == value:
                    path = [p for p in urlsplit(row["url"]).path.split("/") if p]
                    named = "id" if collection in path or one in path else None
                if named is not None:
                    dot = "" if named.startswith("[") else "."
                    found[position] = ref(f"steps.{row['_name']}.body{dot}{named}")
                    break
        return found

    def _action(
        self,
        row: dict[str, Any],
        bindings: list[Binding],
        names: list[str],
        op: Operation | None = None,
        earlier: list[dict[str, Any]] | None = None,
    ) -> RequestAction:
        earlier = earlier or []
        produced = self.spec_synth.produces(op) if op is not None else None
        # Identity values (an email) are made unique per run only where they are created.
        status = row.get("status") or 0
        last_segment = urlsplit(row["url"]).path.rstrip("/").rsplit("/", 1)[-1]
        # a create: 201, or a 2xx to a path that says so (``/experiments/create`` answers 200)
        made_status = row["method"] in ("POST", "PUT") and (
            status == 201 or (200 <= status < 300 and bool(_CREATE_VERB.search(last_segment)))
        )
        self._creating = bool(produced and produced[2]) or (op is None and made_status)
        changes = row["method"] in ("POST", "PUT", "PATCH") and 200 <= (row.get("status") or 0) < 300
        parsed_body = parse_json(row.get("request_body")) if changes else None
        if isinstance(parsed_body, dict):
            # A new name the client chose, that later requests address the thing by: a create's
            # (``{"table": "items"}``, then ``/db/items.json``), a rename's (``{"path": "b.txt"}``).
            # Run again, the recorded name exists already, so each run chooses its own. A name
            # the session met before is a reference to something that exists, and stays.
            seen = "\n".join(
                f"{r['url']}\n{r.get('request_body') or ''}\n{r.get('response_body') or ''}" for r in earlier
            )
            for value in parsed_body.values():
                fresh = isinstance(value, str) and len(value) >= 3 and not value.isdigit()
                if fresh and value in self._later and value not in seen:
                    self._chosen.setdefault(value, _per_run(value))

        def template(binding: Binding) -> str | None:
            source = binding.source
            kind, _, where = source.location.partition(":")
            if source.exchange >= len(names):
                return None
            if kind == "header" and where in ("etag", "x-csrf-token", "x-request-id"):
                # an If-Match repeating the ETag the read handed out: this run's, not the recorded one
                return ref(f"steps.{names[source.exchange]}.headers.{where}")
            if kind != "body":
                return None
            return ref(f"steps.{names[source.exchange]}.body{where[1:]}")

        replacements = {b.value: t for b in bindings if _plausible(b) and (t := template(b)) is not None}
        parts = urlsplit(row["url"])
        segments = parts.path.split("/")
        for index, value in self._small_ids(op, segments, earlier).items():
            if value not in replacements:
                segments[index] = value
        last = len(segments) - 1
        made = row["method"] == "PUT" and row.get("status") == 201 and segments[last]
        if made and segments[last] not in replacements:
            # A PUT that created the thing at a name the client chose (``/buckets/shop``): the
            # recorded name exists wherever the journey runs again, so each run makes its own.
            segments[last] = self._chosen.setdefault(segments[last], _per_run(segments[last]))
        path = "/".join(replacements.get(s, self._chosen.get(s, s)) for s in segments)
        for recorded, chosen in self._chosen.items():  # ``items.json``: the name, then a format
            path = re.sub(
                rf"(?<=/){re.escape(recorded)}(?=\.[A-Za-z0-9]{{1,8}}(/|$))",
                chosen.replace("\\", r"\\"),
                path,
            )
        query = {k: self._text(v, replacements, k) for k, v in parse_qsl(parts.query, keep_blank_values=True)}
        headers = {
            name: self._text(value, replacements, name)
            for name, value in row["request_headers"]
            if _KEPT_HEADERS.match(name)
            and name.lower() not in _DROPPED_X
            and not _echoed_csrf(name, value, replacements)
        }
        body_text = row.get("request_body")
        content_type = next((v for n, v in row["request_headers"] if n.lower() == "content-type"), "")
        json_body = form = raw = None
        if body_text:
            parsed = parse_json(body_text)
            if parsed is not None:
                json_body = self._value(parsed, replacements, "")
            elif "x-www-form-urlencoded" in content_type:
                form = {
                    k: self._text(v, replacements, k)
                    for k, v in parse_qsl(body_text, keep_blank_values=True)
                    if not _echoed_csrf(k, v, replacements)
                }
            else:
                raw = self._text(body_text, replacements, "body")
        return RequestAction(
            row["method"], path, headers=headers, query=query, json=json_body, form=form, body=raw
        )

    def _value(self, value: Any, replacements: dict[str, str], name: str, own: bool = True) -> Any:
        """``own``: the value is the created thing's own field, not one of a thing it refers to
        (``kernel: {name: python3}`` names a kernel that exists; only its own name is per run)."""
        if isinstance(value, dict):
            inner = own and (name == "" or name in _WRAPPERS)
            return {k: self._value(v, replacements, k, inner) for k, v in value.items()}
        if isinstance(value, list):
            return [self._value(v, replacements, name, own) for v in value]
        if isinstance(value, str):
            return self._text(value, replacements, name, own)
        if isinstance(value, int | float) and not isinstance(value, bool):
            text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
            if text in replacements:
                return replacements[text]
        return value

    def _text(self, value: str, replacements: dict[str, str], name: str, own: bool = True) -> str:
        if value in replacements:
            return replacements[value]
        for recorded, template in replacements.items():
            if len(recorded) >= 4 and recorded in value:
                value = value.replace(recorded, template)
        for recorded, template in self._chosen.items():  # the name whole, or as a path's segment
            value = re.sub(rf"(?<![^/]){re.escape(recorded)}(?![^/])", template.replace("\\", r"\\"), value)
        if _PLACEHOLDER.search(value):  # a secret no response handed out: given at run time
            secret = snake(name) or "secret"
            self.secrets.add(secret)
            value = _PLACEHOLDER.sub(lambda _: ref(secret), value)
        # A create's unique fields (an email, a flow's name) are made per run: the recorded one
        # exists already wherever the journey runs again, and the app would answer "exists".
        if self._creating and own and "{{" not in value and per_run_name(name) and value:
            local, at, domain = value.partition("@")
            made = f"{local}+{ref('run_id')}@{domain}" if at else _per_run(value)
            if not at:  # later requests that name it by the recorded name mean this run's
                self._chosen.setdefault(value, made)
            value = made
        return value

    # -- merging ---------------------------------------------------------------------

    def _merge(self, sessions: Sequence[tuple[str, list[RecordedStep]]], builder: Builder) -> list[Node]:
        first = sessions[0][1]
        shared = 0
        while all(len(s) > shared and s[shared].key == first[shared].key for _, s in sessions):
            shared += 1
        nodes: list[Node] = []
        for recorded in first[:shared]:
            self._add(recorded, builder, nodes)
        rests = [(name, steps[shared:]) for name, steps in sessions if len(steps) > shared]
        if not rests:
            return nodes
        if len(sessions) == 1:
            for recorded in rests[0][1]:
                self._add(recorded, builder, nodes)
            return nodes
        mark = f"after_{first[shared - 1].step.name}" if shared else "start"
        nodes.append(Checkpoint(mark))
        groups: dict[str, list[tuple[str, list[RecordedStep]]]] = defaultdict(list)
        for name, steps in rests:
            groups[steps[0].key].append((name, steps))
        paths = []
        taken: set[str] = set()
        for group in groups.values():
            name = group[0][0] if len(group) == 1 else group[0][1][0].step.name
            while name in taken:
                name += "_"
            taken.add(name)
            sub = Builder(self.spec_synth, builder.name)
            sub.available = set(builder.available)
            paths.append(JPath(name, self._merge(group, sub), ", ".join(n for n, _ in group)))
        nodes.append(Branch(mark, paths))
        return nodes

    def _add(self, recorded: RecordedStep, builder: Builder, nodes: list[Node]) -> None:
        """The step, with the spec's generated branches before it when it changes state."""
        op = recorded.operation
        if op is not None and recorded.row["status"] < 400:
            start = len(builder.nodes)
            self.spec_synth.with_branches(op, builder, "recorded", recorded.step)
            nodes += builder.nodes[start:]
        else:
            builder.add(recorded.step, op)
            nodes.append(recorded.step)

    # -- assertions -----------------------------------------------------------------

    def _stable_fields(self, rows: list[dict[str, Any]], noise: list[str]) -> dict[str, dict[str, Any]]:
        """Per operation: top-level scalar fields equal in every recorded 2xx response (2+ responses)."""
        seen: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            label = row.get("operation") or self.index.match(row["method"], urlsplit(row["url"]).path)
            body = parse_json(row.get("response_body"))
            if label and isinstance(body, dict) and 200 <= row["status"] < 300:
                seen[label].append(body)
        stable: dict[str, dict[str, Any]] = {}
        for label, bodies in seen.items():
            if len(bodies) < 2:
                continue
            fields = {}
            for key, value in bodies[0].items():
                if (
                    isinstance(value, str | int | bool)
                    and not _ID_LIKE.search(key)
                    and noise_format(value) is None
                    and not (isinstance(value, str) and _PLACEHOLDER.search(value))
                    and not any(key in n for n in noise)
                    and all(b.get(key) == value and type(b.get(key)) is type(value) for b in bodies[1:])
                ):
                    fields[key] = value
            if fields:
                stable[label] = dict(sorted(fields.items()))
        return stable

    def _invariants(self, relations: list[tuple[str, str]]) -> list[Invariant]:
        from replayqa.invariants import from_spec

        specs = [i.spec for i in self.spec_synth.invariants() if i.spec is not None]
        specs += [
            {
                "kind": "relation",
                "name": f"likely: {expression}",
                "expression": expression,
                "evidence": evidence,
            }
            for expression, evidence in relations
        ]
        return [from_spec(s, "synth") for s in specs]


def _plausible(binding: Binding) -> bool:
    """A number only binds id to id: a quantity of 2 is not user 2. A plain word (``notebook``,
    ``file``) binds only to the field of the same name: a type the client sends is not the type
    of whatever a listing happened to show first."""
    if re.fullmatch(r"[a-z]+", binding.value):
        source = binding.source.location.rsplit(".", 1)[-1]
        sent = binding.location.rsplit(".", 1)[-1].rsplit(":", 1)[-1]
        return source == sent and not binding.source.location.rsplit(".", 1)[0].endswith("]")
    if not binding.value.lstrip("-").isdigit():
        return True
    source = binding.source.location.rsplit(".", 1)[-1]
    sent = binding.location.rsplit(".", 1)[-1]
    return bool(_ID_LIKE.search(source)) and (
        binding.location == "path" or binding.location.startswith("query:") or bool(_ID_LIKE.search(sent))
    )


def _key(name: str, action: RequestAction) -> str:
    """Two recorded steps are the same step when their templated requests match, identities aside."""

    def masked(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: masked(v, k) for k, v in sorted(value.items())}
        if isinstance(value, list):
            return [masked(v, key) for v in value]
        if isinstance(value, str) and per_run_name(key) and "run_id" in value:
            return "<identity>"
        return value

    request = {
        "method": action.method,
        "path": action.path,
        "query": masked(action.query),
        "json": masked(action.json),
        "form": masked(action.form),
        "body": action.body,
        "auth": sorted(action.headers),
    }
    return name + " " + json.dumps(request, sort_keys=True, default=str)


# --- likely invariants --------------------------------------------------------------------------


def _subjects(rows: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    for row in rows:
        if not 200 <= (row.get("status") or 0) < 300:
            continue
        body = parse_json(row.get("response_body"))
        for subject in body if isinstance(body, list) else [body]:
            if isinstance(subject, dict):
                yield subject


def _numbers(subject: dict[str, Any]) -> dict[str, float]:
    return {
        k: v
        for k, v in subject.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and not _ID_LIKE.search(k)
    }


def mine_relations(rows: Iterable[dict[str, Any]], minimum: int = MIN_EVIDENCE) -> list[tuple[str, str]]:
    """Numeric relations between fields of one response object that held every time they could be checked.

    Candidates: ``a == sum(list[*].b)``, ``a == b`` and ``a <= b``. A relation needs ``minimum``
    observations and at least two distinct values, so constants do not make invariants.
    """
    candidates: dict[str, list[tuple[float, float]]] = defaultdict(list)
    broken: set[str] = set()
    for subject in _subjects(rows):
        numbers = _numbers(subject)
        names = sorted(numbers)
        for a in names:
            for b in names:
                if a == b:
                    continue
                for op in ("==", "<="):
                    if op == "==" and a > b:
                        continue
                    expression = f"{a} {op} {b}"
                    holds = numbers[a] == numbers[b] if op == "==" else numbers[a] <= numbers[b]
                    (
                        candidates[expression].append((numbers[a], numbers[b]))
                        if holds
                        else broken.add(expression)
                    )
        for key, value in subject.items():
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                inner = set.intersection(*(set(_numbers(v)) for v in value))
                for field in sorted(inner):
                    total = sum(v[field] for v in value)
                    for a, number in numbers.items():
                        expression = f"{a} == sum({key}[*].{field})"
                        if number == total:
                            candidates[expression].append((number, total))
                        else:
                            broken.add(expression)
    found = []
    for expression, seen in sorted(candidates.items()):
        if expression in broken or len(seen) < minimum or len({left for left, _ in seen}) < 2:
            continue
        if (
            "<=" in expression
            and expression.replace("<=", "==") in candidates
            and expression.replace("<=", "==") not in broken
        ):
            continue  # equality says more
        found.append((expression, f"held in all {len(seen)} recorded responses that have these fields"))
    return found


_CSRF = re.compile(r"csrf|xsrf", re.I)


def _echoed_csrf(name: str, value: str, replacements: dict[str, str]) -> bool:
    """A CSRF token no response body handed out: the app's cookie, which the client echoes itself.

    Browser apps (Django, Tornado, Laravel) set the token in a cookie and
    want it back in a header or form field; the recording redacts it, and a
    journey's client repeats whatever token cookie the app set this run (see
    ``Client._with_csrf``). One traced to a page's body is kept as a reference.
    """
    if not _CSRF.search(name):
        return False
    return value not in replacements and not any(len(r) >= 4 and r in value for r in replacements)


_EXTENSION = re.compile(r"^(.+?)(\.[A-Za-z0-9]{1,5})$")


#: Keys that wrap the thing a request sends (``{"data": {...}}``): the fields inside are its own.
_WRAPPERS = frozenset({"data", "attributes", "item", "record", "resource", "object", "fields"})


def _segments(path: str) -> set[str]:
    """A path's segments, and each without its format suffix (``items.json`` → ``items``)."""
    parts = {p for p in path.split("/") if p}
    return parts | {p.rsplit(".", 1)[0] for p in parts if "." in p}


def _leaves(value: Any, path: str = "") -> Iterable[tuple[str, str, Any]]:
    """(path, key, value) for every scalar in a JSON document: ``lines[0].item_id``."""
    if isinstance(value, dict):
        for key, sub in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(sub, dict | list):
                yield from _leaves(sub, where)
            else:
                yield where, str(key), sub
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from _leaves(sub, f"{path}[{index}]")


_CREATE_VERB = re.compile(r"(^|[^a-z])(create|add|new|register|insert|upload|import)([^a-z]|$)", re.I)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _per_run(name: str) -> str:
    """``name`` made distinct per run in the same shape: its extension kept (``qa.ipynb`` →
    ``qa-{{ run_id }}.ipynb``: apps read a file's kind from it), and an identifier kept an
    identifier (``items`` → ``items_{{ run_key }}``: it may name a table in a query)."""
    match = _EXTENSION.match(name)
    stem, extension = (match.group(1), match.group(2)) if match else (name, "")
    if _IDENTIFIER.fullmatch(stem):
        return f"{stem}_{ref('run_key')}{extension}"
    return f"{stem}-{ref('run_id')}{extension}"
