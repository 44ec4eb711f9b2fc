"""Journeys from a spec alone: each resource's life, the branches a careful tester tries, every operation.

For each resource with a creator, one journey: log in, make what it needs,
create it, read it back, list it, use it from other operations (as another
user, when the API lets us make one), update it, delete it, and check it is
gone everywhere. Before each state-changing step a Checkpoint is taken and a
Branch tries what should be refused: an invalid body, no auth, an unknown
id, the same request twice, another user's token, and the spec's other
examples. A last journey calls every operation once, each from the same
state, so one failure does not hide the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, urlsplit

from replayqa.actions import RequestAction
from replayqa.model import Branch, Check, Checkpoint, Journey, Node, Path, Step
from replayqa.synth.openapi import ASSUMED, Api, Operation
from replayqa.synth.resources import Auth, Resource, ResourceMap, id_param_resource, normalise, singular
from replayqa.synth.values import example_value, invalid_body

PRIMARY, OTHER = "primary", "other"
#: Any answer but a server error: the check of a request whose data synth had to make up.
NOT_5XX: list[Any] = ["1xx", "2xx", "3xx", "4xx"]
#: Action names that say each call makes something new: not expected to be idempotent.
_MAKES = re.compile(
    r"(^|[^a-z])(create|add|new|copy|duplicate|clone|run|trigger|enqueue|submit|schedule|increment|"
    r"bulk|generate|send|post|upload|import)",
    re.I,
)
#: Actions that set a value the body names (``/runs/{id}/set_state``): doing it again may append to a
#: history (a second state row), but must not change what the first call left.
_SETS = re.compile(r"(^|[^a-z])(set|update|replace|assign|rename|change|label|tag|move|mark)([^a-z]|$)", re.I)
_LOGIN_FIELD = re.compile(r"^(user(name)?|e_?mail|login|pass(word)?)$", re.I)
UNKNOWN_INT = 999999937
_STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")


def ref(expression: str) -> str:
    """A template reference, ``{{ expression }}``."""
    return "{{ " + expression + " }}"


def snake(text: str) -> str:
    text = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", text)
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "step"


def step_name(op: Operation) -> str:
    if op.operation_id:
        return snake(op.operation_id)
    return snake(f"{op.method} {op.path.replace('{', 'by ').replace('}', '')}")


@dataclass
class SynthOptions:
    #: Names of run-time values (``--var``) the journeys may use, e.g. email and password for login.
    variables: tuple[str, ...] = ()
    negative: bool = True
    #: Operations that already got their generated branches (across journeys).
    branched: set[str] = field(default_factory=set)
    #: Steps proven (by the fuzz phase's probe) to reach an operation with real values, or None.
    proven: Callable[[Operation], list[Step] | None] | None = None
    #: Operations (``METHOD /path``) the app accepts only with the required body fields.
    minimal: set[str] = field(default_factory=set)


class Builder:
    """One journey's nodes, and what its context will hold when each step runs."""

    def __init__(self, synth: SpecSynth, name: str) -> None:
        self.synth = synth
        self.name = name
        self.nodes: list[Node] = []
        self.names: set[str] = set()
        self.available: set[str] = set()  # context values saved so far
        self.identities: set[str] = set()
        self.covered: list[str] = []
        #: (path template, parameter) -> context value found for it in a listing (``/countries/{code}``)
        self.lookups: dict[tuple[str, str], str] = {}
        #: Parameters and body fields filled with a made-up value: no call made or listed one.
        self.made_up: list[str] = []

    def unique(self, base: str) -> str:
        name, n = base, 2
        while name in self.names:
            name, n = f"{base}_{n}", n + 1
        self.names.add(name)
        return name

    def add(self, step: Step, op: Operation | None = None) -> Step:
        self.nodes.append(step)
        self.available.update(step.save)
        if op is not None:
            self.covered.append(op.label)
        return step


class SpecSynth:
    def __init__(self, api: Api, options: SynthOptions | None = None) -> None:
        self.api = api
        self.map = ResourceMap(api)
        self.auth: Auth = self.map.auth
        self.options = options or SynthOptions()
        servers = api.document.get("servers") or [{}]
        #: The first server's path (``/api/v2``): journeys call it on whatever host --base-url names.
        self.base_path = urlsplit(str(servers[0].get("url") or "/")).path.rstrip("/")

    # -- public -------------------------------------------------------------------

    def journeys(self) -> list[Journey]:
        journeys = []
        for resource in sorted(self.map.resources.values(), key=lambda r: r.name):
            journey = self.lifecycle(resource) if resource.creators else None
            if journey is not None:
                journeys.append(journey)
        journeys.append(self.each_operation())
        return journeys

    def rebuild(self, proven: Callable[[Operation], list[Step] | None], minimal: set[str]) -> list[Journey]:
        """The journeys again, knowing which calls reach which operation and which bodies pass."""
        self.options.proven = proven
        self.options.minimal = set(minimal)
        self.options.branched = set()
        return self.journeys()

    # -- identities ---------------------------------------------------------------

    def _identity(self, builder: Builder, who: str) -> bool:
        """Log ``who`` in (registering them first when needed); False when the API gives no way."""
        if who in builder.identities or self.auth.kind == "none":
            return True
        auth = self.auth
        if auth.kind == "form":
            return who == PRIMARY and self._form_login(builder)
        if auth.kind != "bearer" or auth.login is None:
            return who == PRIMARY  # an API key or basic credentials come from --var; one user only
        login = auth.login
        fields = [*auth.identity_fields, auth.password_field]
        given = set(self.options.variables)
        if who == PRIMARY and all(f in given for f in fields):
            body = {f: ref(f) for f in fields}
        elif auth.register is not None:
            register = auth.register
            body = self._body(register, builder, unique=who[0])
            builder.add(
                Step(
                    builder.unique(f"register_{who}"),
                    RequestAction("POST", register.path, json=body),
                    description=f"Register a fresh {who} user for this run.",
                    checks=_reaches(register),
                ),
                register,
            )
            body = {f: body.get(f) for f in fields if f in body}
        else:
            return False
        builder.add(
            Step(
                builder.unique(f"log_in_{who}" if who != PRIMARY else "log_in"),
                RequestAction("POST", login.path, json=body),
                checks=_reaches(login),
                save={self._token_var(who): auth.token_path},
            ),
            login,
        )
        builder.identities.add(who)
        return True

    def _form_login(self, builder: Builder) -> bool:
        """``--auth form:/login``: open the form (for its CSRF cookie), then post the credentials.

        The fields are the ``--var`` names that look like a login's (user,
        username, email, login, password); the session cookie the app sets
        authenticates the rest, and the client echoes a CSRF cookie itself.
        """
        path = (
            self.base_path + self.auth.header if not self.auth.header.startswith("http") else self.auth.header
        )
        fields = {v: ref(v) for v in self.options.variables if _LOGIN_FIELD.search(v)}
        builder.add(
            Step(
                builder.unique("open_login_form"),
                RequestAction("GET", path),
                "The login page: it hands out the CSRF cookie the post must repeat.",
                checks=(Check("status", value=["2xx", "3xx"]),),
            )
        )
        builder.add(
            Step(
                builder.unique("log_in"),
                RequestAction("POST", path, form=fields),
                "Log in with the form; the session cookie it sets carries the rest.",
                checks=(Check("status", value=["2xx", "3xx"]),),
            )
        )
        builder.identities.add(PRIMARY)
        return True

    @staticmethod
    def _token_var(who: str) -> str:
        return "token" if who == PRIMARY else f"{who}_token"

    def _auth_headers(self, op: Operation, who: str | None) -> dict[str, str]:
        if who is None or not self.api.security_of(op) or self.auth.kind == "none":
            return {}
        if self.auth.kind == "bearer":
            return {"Authorization": "Bearer " + ref(self._token_var(who))}
        if self.auth.kind == "apikey-header":
            return {self.auth.header: ref(self.auth_var)}
        if self.auth.kind == "apikey-cookie":
            return {"Cookie": f"{self.auth.header}={ref(self.auth_var)}"}
        if self.auth.kind == "basic":
            return {"Authorization": "Basic {{ basic_auth }}"}
        return {}

    @property
    def auth_var(self) -> str:
        """The ``--var`` an API key comes from: the scheme's own name (``api_key`` when assumed)."""
        scheme = self.auth.scheme
        return "api_key" if not scheme or scheme == ASSUMED else snake(scheme)

    def _auth_query(self, op: Operation, who: str | None) -> dict[str, Any]:
        if who is None or self.auth.kind != "apikey-query" or not self.api.security_of(op):
            return {}
        return {self.auth.header: ref(self.auth_var)}

    # -- requests -----------------------------------------------------------------

    def _body(self, op: Operation, builder: Builder, unique: str = "", example: Any = None) -> Any:
        if op.body_schema is None and not op.body_examples:
            return None
        if example is None:
            example = (
                op.body_examples[0][1]
                if op.body_examples
                else example_value(
                    op.body_schema,
                    self.api.flatten,
                    unique=unique or str(len(builder.names)),
                    full=op.key not in self.options.minimal,
                )
            )
        if isinstance(example, dict):
            example = dict(example)
            required = (
                set(self.api.flatten(op.body_schema).get("required") or []) if op.body_schema else set()
            )
            refs = self.map.body_resources(op)
            for prop in [
                p for p in example if p not in required and p not in refs and self._names_another(p)
            ]:
                del example[prop]  # ``work_pool_name``, ``storage_document_id``: only made-up values
            for prop, resource in refs.items():
                var = self.map.resources[resource].var
                if var in builder.available:
                    example[prop] = [ref(var)] if isinstance(example.get(prop), list) else ref(var)
                elif prop in example and prop not in required:
                    del example[prop]  # an optional reference synth could only make up: better absent
                elif prop in example:
                    builder.made_up.append(prop)
        return example

    def _names_another(self, prop: str) -> bool:
        """A field naming another resource: by id (``storage_document_id``), name or slug."""
        if id_param_resource(prop, "") and prop.lower() not in ("id", "uuid", "key"):
            return True
        match = re.fullmatch(r"(.+?)[_-]?(name|Name|slug|Slug)", prop)
        return match is not None and self.map._closest(normalise(match.group(1))) in self.map.resources

    def _path(self, op: Operation, builder: Builder, overrides: dict[str, Any] | None = None) -> str:
        path = op.path
        for param in op.path_params:
            value = (overrides or {}).get(param.name)
            if value is None:
                resource = self.map.param_resource(op, param.name)
                var = self.map.resources[resource].var if resource in self.map.resources else None
                looked_up = builder.lookups.get((op.path, param.name))
                if var and var in builder.available:
                    value = ref(var)
                elif looked_up:
                    value = ref(looked_up)
                else:
                    builder.made_up.append(param.name)
                    value = (
                        param.example
                        if param.example is not None
                        else example_value(param.schema, self.api.flatten, param.name)
                    )
            path = path.replace("{" + param.name + "}", str(value))
        return path

    def _query(self, op: Operation) -> dict[str, Any]:
        return {
            p.name: p.example if p.example is not None else example_value(p.schema, self.api.flatten, p.name)
            for p in op.parameters
            if p.location == "query" and p.required
        }

    def request(
        self,
        op: Operation,
        builder: Builder,
        who: str | None = PRIMARY,
        *,
        body: Any = None,
        path_overrides: dict[str, Any] | None = None,
    ) -> RequestAction:
        headers = self._auth_headers(op, who)
        headers.update(
            {
                p.name: str(p.example if p.example is not None else example_value(p.schema, self.api.flatten))
                for p in op.parameters
                if p.location == "header" and p.required and p.name.lower() != "authorization"
            }
        )
        content = body if body is not None else self._body(op, builder)
        form = content if op.body_type and "json" not in op.body_type and isinstance(content, dict) else None
        return RequestAction(
            op.method,
            self.base_path + self._path(op, builder, path_overrides),
            headers=headers,
            query={**self._query(op), **self._auth_query(op, who)},
            json=content if form is None else None,
            form=form,
        )

    def fuzz_request(
        self, op: Operation, path_values: dict[str, Any], body: Any, query: dict[str, Any]
    ) -> RequestAction:
        """A request with the given values in place: the fuzz phase's, as the primary user."""
        path = op.path
        for param in op.path_params:
            value = path_values.get(param.name, "")
            path = path.replace("{" + param.name + "}", _quoted(str(value)))
        headers = self._auth_headers(op, PRIMARY)
        headers.update(
            {
                p.name: str(p.example if p.example is not None else example_value(p.schema, self.api.flatten))
                for p in op.parameters
                if p.location == "header" and p.required and p.name.lower() != "authorization"
            }
        )
        form = body if op.body_type and "json" not in op.body_type and isinstance(body, dict) else None
        return RequestAction(
            op.method,
            self.base_path + path,
            headers=headers,
            query={**self._query(op), **self._auth_query(op, PRIMARY), **query},
            json=body if form is None else None,
            form=form,
        )

    def call(self, op: Operation, builder: Builder, who: str = PRIMARY, name: str | None = None) -> Step:
        """A step calling ``op`` with everything it needs made first."""
        self.ensure_inputs(op, builder, who)
        if self.api.security_of(op):
            self._identity(builder, who)
        save = {}
        produced = self.produces(op)
        if produced is not None and produced[2]:
            resource, id_path, _ = produced
            save[resource.var] = id_path
        made_up = len(builder.made_up)
        action = self.request(op, builder, who)
        guessed = builder.made_up[made_up:]
        step = Step(
            builder.unique(name or step_name(op) + ("" if who == PRIMARY else f"_as_{who}")),
            action,
            description=op.summary,
            checks=_reaches(op),
            save=save,
        )
        unreached = self.options.proven is not None and not self.options.proven(op)
        if unreached and not guessed:
            # The probe tried this operation with every value the app handed out and got no 2xx
            # (it wants something no spec says, an If-Match, a state): expect no more than that.
            step.description = f"{op.summary} (the probe found no request the app accepts)".strip()
            step.checks = (Check("status", value=NOT_5XX),)
            step.save = {}
        if guessed:
            # No call makes or lists what these name: a 4xx on a value synth made up says
            # nothing about the app, so only a server error is a finding here.
            step.description = f"{op.summary} (no real {', '.join(guessed)} found: made-up values)".strip()
            step.checks = (Check("status", value=NOT_5XX),)
            step.save = {}
        return step

    def produces(self, op: Operation) -> tuple[Resource, str, bool] | None:
        for resource in self.map.resources.values():
            for producer in resource.producers:
                if producer.operation is op:
                    return resource, producer.id_path, producer.creates
        return None

    def ensure_inputs(self, op: Operation, builder: Builder, who: str, depth: int = 0) -> None:
        needed = [self.map.param_resource(op, p.name) for p in op.path_params]
        needed += list(self.map.body_resources(op).values())
        for name in needed:
            if name in self.map.resources:
                self.ensure(self.map.resources[name], builder, who, depth, exclude=op)
        for param in op.path_params:
            resource = self.map.param_resource(op, param.name)
            if resource in self.map.resources and self.map.resources[resource].var in builder.available:
                continue
            if param.example is None and depth < 4:
                self._look_up(op, param.name, builder, who, depth)

    def _look_up(self, op: Operation, param: str, builder: Builder, who: str, depth: int) -> None:
        """A path parameter no resource names (``/countries/{code}``): the first listed entry's field."""
        if (op.path, param) in builder.lookups:
            return
        prefix = op.path.split("{" + param + "}")[0].rstrip("/")
        lister = next(
            (
                o
                for o in self.api.operations
                if o.method == "GET" and o.path.rstrip("/") == prefix and o is not op
            ),
            None,
        )
        if lister is None:
            return
        where = self._field_in_listing(lister.success_schema()[1], param)
        if where is None:
            return
        var = snake(f"{prefix.rsplit('/', 1)[-1]}_{param}")
        if var not in builder.available:
            self.ensure_inputs(lister, builder, who, depth + 1)
            step = self.call(lister, builder, who, name=f"{step_name(lister)}_for_{snake(param)}")
            step.save = {**step.save, var: where}
            builder.add(step, lister)
        builder.lookups[(op.path, param)] = var

    def _field_in_listing(self, schema: Any, param: str) -> str | None:
        """Where a listing's first entry holds ``param`` (or its id): ``[0].code``, ``data[0].id``."""
        if schema is None:
            return None
        flat = self.api.flatten(schema)
        candidates: list[tuple[str, Any]] = [("", flat)]
        for key, sub in (flat.get("properties") or {}).items():
            candidates.append((key, self.api.flatten(sub)))
        for prefix, listing in candidates:
            if listing.get("type") != "array" and "items" not in listing:
                continue
            fields = self.api.properties(listing.get("items") or {})
            wanted = {f.lower(): f for f in fields}
            name = wanted.get(param.lower()) or (wanted.get("id") if re.search(r"id$", param, re.I) else None)
            if name:
                return f"{prefix}[0].{name}"
        return None

    def ensure(
        self,
        resource: Resource,
        builder: Builder,
        who: str,
        depth: int = 0,
        exclude: Operation | None = None,
    ) -> None:
        """Make (or find) one ``resource`` so its id is in the context."""
        if resource.var in builder.available or depth > 4:
            return
        candidates = [p for p in resource.creators if p.operation is not exclude]
        candidates += [p for p in resource.listers if p.operation is not exclude]
        candidates += [
            p
            for p in resource.producers
            if p.operation is not exclude and p.operation.method == "GET" and not p.operation.path_params
        ]
        if not candidates:
            return
        producer = candidates[0]
        step = self._proven_call(producer.operation, builder, {resource.var: producer.id_path})
        if step is None:
            self.ensure_inputs(producer.operation, builder, who, depth + 1)
            step = self.call(producer.operation, builder, who)
            step.save = {**step.save, resource.var: producer.id_path}
        builder.add(step, producer.operation)

    # -- journeys -----------------------------------------------------------------

    def _proven_call(self, op: Operation, builder: Builder, save: dict[str, str]) -> Step | None:
        """``op`` as the probe reached it: the calls that made its values, added here, then the call."""
        proven = self.options.proven(op) if self.options.proven else None
        if not proven:
            return None
        *made, final = proven
        for step in made:
            builder.add(replace(step, name=builder.unique(step.name), action=_fresh(step.action, builder)))
        action = _fresh(final.action, builder)
        return Step(builder.unique(step_name(op)), action, op.summary, checks=_reaches(op), save=save)

    def lifecycle(self, resource: Resource) -> Journey | None:
        creator = resource.creators[0].operation
        if self.options.proven is not None and not self.options.proven(creator):
            return None  # the probe could not make one with anything the app handed out
        builder = Builder(self, f"{resource.name}_lifecycle")
        self._identity(builder, PRIMARY)
        list_before = None
        lister = next((p for p in resource.listers if "[0]" in p.id_path), None)
        if lister is not None and not lister.operation.path_params:
            list_before = builder.add(
                Step(
                    builder.unique(step_name(lister.operation) + "_before"),
                    self.request(lister.operation, builder),
                    checks=_reaches(lister.operation),
                ),
                lister.operation,
            )
        made = self._proven_call(creator, builder, {resource.var: resource.creators[0].id_path})
        if made is None:
            self.ensure_inputs(creator, builder, PRIMARY)
            made = self.call(creator, builder)
        self.with_branches(creator, builder, PRIMARY, made)
        for reader in resource.readers[:1]:
            step = self.call(reader, builder, name=f"read_{resource.name}")
            step.checks = (
                *step.checks,
                Check("equals", resource.creators[0].id_path, ref(resource.var)),
            )
            builder.add(step, reader)
        if list_before is not None and lister is not None:
            builder.add(self._count_step(lister.operation, builder, list_before, 1), lister.operation)
        users = self._use_from_elsewhere(resource, builder)
        for updater in resource.updaters:
            self.with_branches(updater, builder, PRIMARY, self.call(updater, builder))
        for deleter in resource.deleters[:1]:
            self._delete(resource, deleter, builder, users, list_before, lister.operation if lister else None)
        return self._journey(
            builder,
            f"Create, read, list, use, update and delete a {resource.name}, trying what should be "
            "refused at each change.",
        )

    def _use_from_elsewhere(self, resource: Resource, builder: Builder) -> list[tuple[Operation, str]]:
        """Operations that take this resource's id, run as another user when there is one."""
        # Another user's use only matters when the resource can be deleted under them.
        cross = bool(resource.deleters) and self.auth.kind == "bearer"
        who = OTHER if cross and self._identity(builder, OTHER) else PRIMARY
        used: list[tuple[Operation, str]] = []
        consumers = sorted(
            resource.consumers,
            key=lambda o: (
                ("POST", "PUT", "PATCH", "GET").index(o.method)
                if o.method in ("POST", "PUT", "PATCH", "GET")
                else 9
            ),
        )
        removers = [o for o in consumers if o.method == "DELETE"]
        for op in [o for o in consumers if o.method != "DELETE"]:
            actor = who if self.api.security_of(op) else PRIMARY
            self.with_branches(op, builder, actor, self.call(op, builder, actor))
            used.append((op, actor))
        if removers:
            mark = builder.unique(f"before_removing_from_{resource.name}")
            builder.nodes.append(Checkpoint(mark))
            paths = []
            for op in removers:
                sub = self._sub(builder)
                actor = who if self.api.security_of(op) else PRIMARY
                sub.add(self.call(op, sub, actor), op)
                builder.covered += sub.covered
                paths.append(Path(step_name(op), sub.nodes, f"{op.method} {op.path}"))
            builder.nodes.append(Branch(mark, paths))
        return used

    def _delete(
        self,
        resource: Resource,
        deleter: Operation,
        builder: Builder,
        users: list[tuple[Operation, str]],
        list_before: Step | None,
        lister: Operation | None,
    ) -> None:
        self.with_branches(deleter, builder, PRIMARY, self.call(deleter, builder))
        for reader in resource.readers[:1]:
            step = self.call(reader, builder, name=f"read_deleted_{resource.name}")
            step.checks = (Check("status", value=[404, 410]),)
            step.description = f"A deleted {resource.name} cannot be read."
            builder.add(step, reader)
        if list_before is not None and lister is not None:
            builder.add(self._count_step(lister, builder, list_before, 0), lister)
        for op, who in users:
            for view in self._views_of(op):
                step = self.call(view, builder, who, name=f"{step_name(view)}_after_delete")
                step.description = f"Whoever used the {resource.name} sees it gone."
                builder.add(step, view)

    def _views_of(self, op: Operation) -> list[Operation]:
        """GET operations without parameters returning what ``op`` returns: where its effect shows."""
        _, schema = op.success_schema()
        name = self.api.ref_name(schema) if schema else None
        if not name:
            return []
        return [
            other
            for other in self.api.operations
            if other.method == "GET"
            and not other.path_params
            and self.api.ref_name(other.success_schema()[1]) == name
        ][:1]

    def _count_step(self, lister: Operation, builder: Builder, before: Step, plus: int) -> Step:
        """The list again: one entry more after a create, as many as before after a delete."""
        produced = self.produces(lister)
        where = produced[1].split("[0]")[0].rstrip(".") if produced else ""  # "" or "data" for {data: [...]}
        body = f"steps.{before.name}.body" + (f".{where}" if where else "")
        return Step(
            builder.unique(step_name(lister) + ("_after_create" if plus else "_after_delete")),
            self.request(lister, builder),
            description="List counts move by one on create and delete.",
            checks=(*_reaches(lister), Check("length", where or "$", {"like": ref(body), "plus": plus})),
        )

    def each_operation(self) -> Journey:
        builder = Builder(self, "every_operation")
        self._identity(builder, PRIMARY)
        mark = "after_login" if builder.identities and self.auth.kind != "none" else "start"
        builder.nodes.append(Checkpoint(mark))
        paths = []
        seen: set[str] = set()
        for op in self.api.operations:
            if op.deprecated or op is self.auth.login:
                continue
            sub = self._sub(builder)
            proven = self.options.proven(op) if self.options.proven else None
            if proven:
                *made, step = proven
                for before in made:
                    sub.add(before)
                step = Step(sub.unique(step_name(op)), step.action, op.summary)
            elif self.options.proven is not None:
                # The probe tried this operation with every value the app handed out and got no
                # 2xx: the request can only be made up, and only a server error says anything.
                step = Step(
                    sub.unique(step_name(op)),
                    self.request(op, sub),
                    f"{op.summary} (the probe found no request the app accepts: made-up values)".strip(),
                    checks=(Check("status", value=NOT_5XX),),
                )
                sub.made_up.append("*")
            else:
                step = self.call(op, sub)
            # Coverage, not verdicts: our guessed data may rightly get a documented 4xx. A 5xx, an
            # undocumented 4xx or a response off the spec is still an issue; an undocumented 2xx is
            # a spec mismatch (the schema check says so once), not a reason to stop.
            documented: list[Any] = sorted(int(s) for s in op.responses if s.isdigit())
            if not sub.made_up:
                expected = [*documented, "2xx"] if documented else ["2xx", "4xx"]
                step.checks = (Check("status", value=expected), Check("schema", blocking=False))
            sub.add(step, op)
            name = step_name(op)
            while name in seen:
                name += "_"
            seen.add(name)
            paths.append(Path(name, sub.nodes, f"{op.method} {op.path}"))
            builder.covered += sub.covered
        builder.nodes.append(Branch(mark, paths))
        return self._journey(builder, "Every operation once, each from the same state.")

    def _sub(self, builder: Builder) -> Builder:
        sub = Builder(self, builder.name)
        sub.names = set(builder.names)
        sub.available = set(builder.available)
        sub.identities = set(builder.identities)
        sub.lookups = dict(builder.lookups)
        return sub

    # -- generated branches --------------------------------------------------------

    def with_branches(self, op: Operation, builder: Builder, who: str, step: Step) -> None:
        """The step, preceded by a checkpoint and a branch of what should be refused."""
        if self.options.negative and op.method in _STATE_CHANGING and op.label not in self.options.branched:
            paths = self._negative_paths(op, builder, who, step)
            if paths:
                self.options.branched.add(op.label)
                mark = builder.unique(f"before_{step.name}")
                builder.nodes += [Checkpoint(mark), Branch(mark, paths)]
        builder.add(step, op)

    def _negative_paths(self, op: Operation, builder: Builder, who: str, step: Step) -> list[Path]:
        action = step.action
        assert isinstance(action, RequestAction)
        paths: list[Path] = []

        def variant(name: str, why: str, new_action: RequestAction, checks: tuple[Check, ...]) -> None:
            paths.append(
                Path(
                    name,
                    [Step(builder.unique(f"{step.name}_{name}"), new_action, checks=checks)],
                    why,
                    generated=True,
                )
            )

        refused = (Check("status", value="4xx"), Check("db", value="unchanged"))
        if op.body_schema is not None and isinstance(action.json, dict):
            broken = invalid_body(action.json, op.body_schema, self.api.flatten)
            if broken is not None:
                variant(
                    "invalid_body",
                    f"An invalid body ({broken[1]}) is refused with 4xx and changes nothing.",
                    _copy(action, json=broken[0]),
                    refused,
                )
        if self.api.security_of(op) and self.auth.kind not in ("none", "form"):  # a cookie jar can't forget
            variant(
                "no_auth",
                "Without credentials the request is refused (401/403) and changes nothing.",
                _copy(
                    action,
                    headers=self._auth_headers(op, None),
                    query={k: v for k, v in action.query.items() if k not in self._auth_query(op, PRIMARY)},
                ),
                (Check("status", value=[401, 403]), Check("db", value="unchanged")),
            )
        resource_params = [
            p for p in op.path_params if self.map.param_resource(op, p.name) in self.map.resources
        ]
        _, answer = op.success_schema()
        lists = answer is not None and (self.api.flatten(answer).get("type") == "array")
        if resource_params and not lists:  # a filter under an unknown parent may rightly answer []
            param = resource_params[-1]
            variant(
                "unknown_id",
                f"An unknown {param.name} gives 404 and changes nothing.",
                _copy(
                    action,
                    path=_replace_param(op.path, action.path, param.name, _unknown(param.schema, self.api)),
                ),
                (Check("status", value=[404, 410]), Check("db", value="unchanged")),
            )
        if _should_be_idempotent(op):
            sets = op.method == "POST" and bool(_SETS.search(op.path.rstrip("/").rsplit("/", 1)[-1]))
            again = Step(
                builder.unique(f"{step.name}_again"),
                _copy(action),
                "The same setting again: refused, or accepted without changing what the first left."
                if sets
                else "The same request again: refused, or accepted with no second effect.",
                checks=(
                    Check("status", value=["2xx", "4xx"]),
                    Check("db", value="kept" if sets else "idempotent"),
                ),
            )
            first = Step(
                builder.unique(f"{step.name}_first"), _copy(action), step.description, checks=step.checks
            )
            why = "The same request twice (a double click, a retry) has no double effect."
            paths.append(Path("twice", [first, again], why, generated=True))
        if (
            resource_params
            and self.api.security_of(op)
            and self.auth.kind == "bearer"
            and who == PRIMARY
            and self._identity(builder, OTHER)  # registered here, on the main line, when first needed
        ):
            variant(
                "other_user",
                "Another user cannot act on this user's resource (403/404) and changes nothing.",
                _copy(action, headers=self._auth_headers(op, OTHER)),
                (Check("status", value=[403, 404]), Check("db", value="unchanged")),
            )
        documented: list[Any] = sorted({int(s) for s in op.responses if s.isdigit()}) or ["2xx", "4xx"]
        for name, example in op.body_examples[1:]:
            variant(
                f"example_{snake(name)}",
                f"The spec's {name!r} example: a documented status, and a refusal keeps existing data.",
                _copy(action, json=self._body(op, builder, example=example)),
                (Check("status", value=documented), Check("db", value="kept-on-failure")),
            )
        # What a branch makes under a per-run name gets a name of its own: not every app keeps
        # all it makes in the database a restore reaches (files on disk), and the step after the
        # branch must not find its own thing made already.
        for path in paths:
            for node in path.steps:
                if isinstance(node, Step):
                    node.action = _fresh(node.action, builder, key=op.method == "PUT")
        return paths

    def _journey(self, builder: Builder, description: str) -> Journey:
        journey = Journey(builder.name, builder.nodes, description)
        journey.tags = ("synth", "spec")
        journey.invariants = self.invariants()
        return journey

    def invariants(self) -> list[Any]:
        from replayqa.invariants import from_spec

        specs: list[dict[str, Any]] = [{"kind": "no_server_errors", "name": "no server errors"}]
        dangling: dict[str, Any] = {}
        for resource in sorted(self.map.resources.values(), key=lambda r: r.name):
            if not resource.deleters:
                continue
            fields = {resource.var}
            for op in resource.consumers:
                fields |= {f for f, r in self.map.body_resources(op).items() if r == resource.name}
                fields |= {
                    p.name for p in op.path_params if self.map.param_resource(op, p.name) == resource.name
                }
            dangling[resource.name] = {"delete": resource.deleters[0].path, "fields": sorted(fields)}
        if dangling:
            specs.append(
                {
                    "kind": "no_dangling_references",
                    "name": "deleted resources are gone",
                    "resources": dangling,
                }
            )
        return [from_spec(s, "synth") for s in specs]


def _reaches(op: Operation) -> tuple[Check, ...]:
    """A step whose job is to reach the next state: any 2xx lets the journey go on, and an
    undocumented status or a body off the spec is reported as a spec finding of its own.

    A create answering 201 where the spec says 200 is a mismatch worth one
    issue, not a reason to drop the id it made and every step after it.
    """
    return Check("status", value="2xx"), Check("schema", blocking=False)


def _fresh(action: Any, builder: Builder, key: bool = False) -> Any:
    """The action with its per-run names made distinct per step too: one journey may make two.

    ``key``: the path's last segment too, the key a ``PUT`` makes its thing at.
    """
    if not isinstance(action, RequestAction):
        return action
    tag = str(len(builder.names))
    rename = {"{{ run_id }}": "{{ run_id }}" + tag, "{{ run_key }}": "{{ run_key }}" + tag}

    def fresh(value: Any) -> Any:
        if isinstance(value, str):
            for old, new in rename.items():
                value = value.replace(old, new)
            return value
        if isinstance(value, dict):
            return {k: fresh(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fresh(v) for v in value]
        return value

    path = action.path
    if key:
        head, _, last = path.rpartition("/")
        path = f"{head}/{fresh(last)}"
    return _copy(action, path=path, json=fresh(action.json), form=fresh(action.form))


def _should_be_idempotent(op: Operation) -> bool:
    """PUT, PATCH and DELETE are by HTTP; so should a POST to an action (``/carts/{id}/checkout``)."""
    if op.method in ("PUT", "PATCH", "DELETE"):
        return True
    segments = [s for s in op.path.split("/") if s]
    if op.method != "POST" or len(segments) < 2:
        return False
    last = segments[-1]
    if _MAKES.search(last):  # /deployments/{id}/create_flow_run makes one each time, by its name
        return False
    is_collection = singular(last) != last.lower()  # /books/{id}/reviews makes reviews, again and again
    return segments[-2].startswith("{") and not last.startswith("{") and not is_collection


_TEMPLATE = re.compile(r"(\{\{.*?\}\})")


def _quoted(value: str) -> str:
    """A path segment's value percent-encoded, its ``{{ templates }}`` left for the run to fill."""
    return "".join(
        part if _TEMPLATE.fullmatch(part) else quote(part, safe="") for part in _TEMPLATE.split(value)
    )


def _replace_param(template: str, path: str, name: str, value: Any) -> str:
    """``path`` (made from ``template``, maybe under a base path) with parameter ``name`` set to ``value``."""
    wanted = template.rstrip("/").split("/")
    actual = path.rstrip("/").split("/")
    offset = len(actual) - len(wanted)
    for index, segment in enumerate(wanted):
        if segment == "{" + name + "}" and 0 <= index + offset < len(actual):
            actual[index + offset] = str(value)
    return "/".join(actual)


def _unknown(schema: Any, api: Api) -> Any:
    flat = api.flatten(schema)
    if flat.get("type") == "integer" or flat.get("type") == "number":
        return UNKNOWN_INT
    if flat.get("format") == "uuid":
        return "00000000-0000-4000-8000-000000000000"
    return "does-not-exist-0"


def _copy(action: RequestAction, **changes: Any) -> RequestAction:
    values = {
        "method": action.method,
        "path": action.path,
        "headers": dict(action.headers),
        "query": dict(action.query),
        "json": action.json,
        "form": action.form,
        "body": action.body,
    }
    values.update(changes)
    return RequestAction(**values)
