"""Resources and their producer→consumer links, inferred from a spec.

A resource is named after the schema its operations return (``Cart``), or,
for inline schemas, after the collection in the path (``/users`` → user).
An operation *produces* a resource when its success response carries one
with an id; it *consumes* one when a path parameter or body field names that
resource's id (``cart_id``, ``petId``, ``/pets/{id}``), or when an OpenAPI
link says so. Links win over names.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from replayqa.synth.openapi import Api, Operation

_ID_FIELDS = ("id", "uuid", "key", "slug", "name")
_PASSWORD = re.compile(r"pass(word)?|secret", re.I)
_TOKEN_FIELDS = ("token", "access_token", "accessToken", "jwt", "id_token", "auth_token", "session")


def singular(word: str) -> str:
    word = word.lower().replace("-", "_")
    for plural, single in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"), ("shes", "sh")):
        if word.endswith(plural):
            return word[: -len(plural)] + single
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def normalise(name: str) -> str:
    """``CartLine``, ``cart_line``, ``cart-lines`` and ``cartLines`` all become ``cartline``."""
    return singular(re.sub(r"[^a-z0-9]", "", re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()))


_ROLES = (
    "Response",
    "Output",
    "Out",
    "Create",
    "Update",
    "Read",
    "Public",
    "Schema",
    "Dto",
    "Request",
    "Input",
)
#: A role suffix at a word boundary: ``FlowRunResponse``, ``flow_run_read`` (not ``Thread``).
_SCHEMA_SUFFIXES = re.compile(
    r"(?:(?<=[a-z0-9])(?:" + "|".join(_ROLES) + r")|_(?:" + "|".join(r.lower() for r in _ROLES) + r"))$"
)


def resource_name(schema_name: str, collections: frozenset[str] = frozenset()) -> str:
    """A resource's name from its schema's: ``FlowRunResponse``, ``flow_run_read`` → flowrun.

    Specs name the same thing several ways by role (what is sent, what comes
    back); the role suffix is not part of what the thing is, unless the API
    has a collection of that very name (``BlockSchema`` at ``/block_schemas``):
    ``collections`` are the API's path words, normalised (see :func:`collections`).
    """
    name = schema_name.split(".")[-1]
    if collections and normalise(name) in collections:
        return normalise(name)
    stripped = _SCHEMA_SUFFIXES.sub("", name)
    stripped = _SCHEMA_SUFFIXES.sub("", stripped) or name  # FlowRunCreateResponse
    return normalise(stripped)


@functools.lru_cache(maxsize=8)
def collections(path_words: frozenset[str]) -> frozenset[str]:
    """An API's path words as resource names: ``block_schemas`` → blockschema."""
    return frozenset(normalise(word) for word in path_words)


def id_param_resource(name: str, path: str) -> str | None:
    """The resource a path parameter or body field refers to, by its name: ``cart_id`` → cart."""
    match = re.fullmatch(r"(.+?)[_-]?(id|Id|ID|uuid|Uuid|key|Key|ids|Ids|IDs)", name)
    if match:
        return normalise(match.group(1))
    if name.lower() in ("id", "uuid"):  # a bare {key} is often a field of its own, not the id
        segments = [s for s in path.split("/") if s]
        for index, segment in enumerate(segments):
            if segment == "{" + name + "}" and index:
                previous = segments[index - 1]
                if not previous.startswith("{"):
                    return normalise(previous)
    return None


@dataclass
class Producer:
    operation: Operation
    resource: str
    id_path: str  # where the id is in the response body: "id", "[0].id", "data.id"
    creates: bool  # a POST/PUT that made it, not a read of an existing one


@dataclass
class Resource:
    name: str
    producers: list[Producer] = field(default_factory=list)
    readers: list[Operation] = field(default_factory=list)  # GET one by its id
    listers: list[Producer] = field(default_factory=list)
    updaters: list[Operation] = field(default_factory=list)
    deleters: list[Operation] = field(default_factory=list)
    consumers: list[Operation] = field(default_factory=list)  # other operations needing its id
    schema_names: set[str] = field(default_factory=set)

    @property
    def creators(self) -> list[Producer]:
        return [p for p in self.producers if p.creates]

    @property
    def var(self) -> str:
        return f"{self.name}_id"


@dataclass
class Auth:
    """How journeys authenticate: a login operation and where its token lands."""

    scheme: str | None  # the securitySchemes name, or None when nothing needs auth
    kind: str  # bearer | apikey-header | apikey-query | apikey-cookie | basic | form | none
    header: str = "Authorization"
    login: Operation | None = None
    token_path: str = "token"
    register: Operation | None = None
    password_field: str = "password"
    identity_fields: tuple[str, ...] = ()


class ResourceMap:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.resources: dict[str, Resource] = {}
        self._schema_to_resource: dict[str, str] = {}
        for op in api.operations:
            self._learn_producer(op)
        self._link_producers()
        for op in api.operations:
            self._learn_uses(op)
        self.auth = self._auth()

    def resource(self, name: str) -> Resource:
        return self.resources.setdefault(name, Resource(name))

    # -- producers ------------------------------------------------------------------

    def _learn_producer(self, op: Operation) -> None:
        _, schema = op.success_schema()
        if schema is None:
            return
        found = self._resource_in(schema, op, "")
        if found is None:
            return
        name, id_path, is_list = found
        resource = self.resource(name)
        params = op.path_params
        acts_on_itself = bool(params) and id_param_resource(params[-1].name, op.path) == name
        # A POST makes a new one, unless it is an action on that same resource (/loans/{id}/return).
        creates = op.method == "POST" and not is_list and not acts_on_itself
        producer = Producer(op, name, id_path, creates=creates)
        if is_list and op.method == "GET":
            resource.listers.append(producer)
        resource.producers.append(producer)

    def _resource_in(
        self, schema: Any, op: Operation, prefix: str, depth: int = 0
    ) -> tuple[str, str, bool] | None:
        """(resource, id path, is a list) for a response schema, looking one wrapper deep."""
        flat = self.api.flatten(schema)
        if flat.get("type") == "array" or "items" in flat:
            items = flat.get("items") or {}
            inner = self._resource_in(items, op, f"{prefix}[0].", depth + 1)
            return (inner[0], inner[1], True) if inner else None
        props = flat.get("properties") or {}
        id_field = next((f for f in _ID_FIELDS[:3] if f in props), None)
        if id_field is not None:
            name = self.api.ref_name(schema) or self.api.ref_name(self.api.deref(schema))
            nouns = collections(self.api.path_words)
            resource = resource_name(name, nouns) if name else _collection_name(op.path)
            if resource:
                if name:
                    self._schema_to_resource[name] = resource
                    self.resource(resource).schema_names.add(name)
                return resource, f"{prefix}{id_field}", False
        if depth == 0:
            for key, sub in props.items():
                if key in ("data", "result", "item", "items", "results", "content", "records", "value"):
                    inner = self._resource_in(sub, op, f"{prefix}{key}.", depth + 1)
                    if inner:
                        return inner
        return None

    def _link_producers(self) -> None:
        """OpenAPI links name the consumer explicitly; remember them for id_for()."""
        self.links: dict[tuple[str, str], tuple[Operation, str]] = {}
        by_id = {op.operation_id: op for op in self.api.operations if op.operation_id}
        for op in self.api.operations:
            for links in op.links.values():
                for link in links.values():
                    target = by_id.get(link.get("operationId"))
                    for param, expression in (link.get("parameters") or {}).items():
                        if target is not None and isinstance(expression, str):
                            body_path = expression.partition("#")[2].strip("/").replace("/", ".")
                            if expression.startswith("$response.body") and body_path:
                                self.links[(target.key, param.split(".")[-1])] = (op, body_path)

    # -- consumers ------------------------------------------------------------------

    def _learn_uses(self, op: Operation) -> None:
        resources = [self.param_resource(op, p.name) for p in op.path_params]
        last = resources[-1] if resources else None
        if last in self.resources and self._is_instance_path(self.resources[last], op):
            resource = self.resources[last]
            {
                "GET": resource.readers,
                "PUT": resource.updaters,
                "PATCH": resource.updaters,
                "DELETE": resource.deleters,
            }.get(op.method, resource.consumers).append(op)
            for other in {r for r in resources[:-1] if r in self.resources}:
                self.resources[other].consumers.append(op)
            return
        used = {r for r in resources if r in self.resources}
        used |= {r for r in self.body_resources(op).values() if r in self.resources}
        for name in sorted(used):
            self.resources[name].consumers.append(op)

    def _is_instance_path(self, resource: Resource, op: Operation) -> bool:
        """``/items/{item_id}`` is an item; ``/cart/items/{item_id}`` (returning a Cart) is not."""
        if not op.path.rstrip("/").endswith("}"):
            return False
        _, schema = op.success_schema()
        if schema is not None:
            found = self._resource_in(schema, op, "")
            if found is not None:
                return found[0] == resource.name and not found[2]
        parent = op.path.rstrip("/").rsplit("/", 1)[0]
        return any(p.operation.path.rstrip("/") == parent for p in resource.producers) or any(
            other.path == op.path and other.method == "GET" and self._is_instance_path(resource, other)
            for other in self.api.operations
            if other is not op
        )

    def param_resource(self, op: Operation, name: str) -> str | None:
        link = self.links.get((op.key, name))
        if link is not None:
            found = self._resource_in(link[0].success_schema()[1], link[0], "")
            if found:
                return found[0]
        resource = id_param_resource(name, op.path)
        if resource is None:
            return None
        return self._closest(resource)

    def _closest(self, resource: str) -> str | None:
        if resource in self.resources:
            return resource
        for name in self.resources:  # "pet" vs "pets", "order_item" vs "orderitem"
            if normalise(name) == normalise(resource):
                return name
        for name in self.resources:  # ``owner_id`` for a User: no; ``user_id`` for an ``AppUser``: yes
            if name.endswith(resource) and len(resource) >= 3:
                return name
        return resource

    def body_resources(self, op: Operation) -> dict[str, str]:
        """Body fields that carry another resource's id: field -> resource."""
        if op.body_schema is None:
            return {}
        found = {}
        for prop in self.api.properties(op.body_schema):
            resource = id_param_resource(prop, "") if prop.lower() not in _ID_FIELDS else None
            if resource:
                closest = self._closest(resource)
                if closest in self.resources:
                    found[prop] = closest
        return found

    # -- auth -------------------------------------------------------------------------

    def _auth(self) -> Auth:
        secured = [s for op in self.api.operations for s in self.api.security_of(op)]
        if not secured:
            return Auth(None, "none")
        name = max(set(secured), key=secured.count)
        scheme = self.api.security_schemes.get(name) or {}
        kind = str(scheme.get("type", "")).lower()
        auth = Auth(name, "bearer")
        if scheme.get("x-replayqa-login"):
            auth.kind, auth.header = "form", str(scheme["x-replayqa-login"])
            return auth
        if kind == "apikey":
            auth.kind = "apikey-" + str(scheme.get("in", "header"))
            auth.header = str(scheme.get("name", "X-API-Key"))
        elif kind == "http" and str(scheme.get("scheme", "")).lower() == "basic":
            auth.kind = "basic"
        auth.login, auth.token_path = self._login()
        auth.register = self._register(auth.login)
        if auth.login is not None:
            fields = list(self.api.properties(auth.login.body_schema))
            auth.password_field = next((f for f in fields if _PASSWORD.search(f)), "password")
            auth.identity_fields = tuple(f for f in fields if f != auth.password_field)
        return auth

    def _open(self, op: Operation) -> bool:
        return not self.api.security_of(op)

    def _login(self) -> tuple[Operation | None, str]:
        for op in self.api.operations:
            if op.method != "POST" or not self._open(op) or op.body_schema is None:
                continue
            if not any(_PASSWORD.search(p) for p in self.api.properties(op.body_schema)):
                continue
            _, schema = op.success_schema()
            props = self.api.properties(schema) if schema is not None else {}
            token = next((t for t in _TOKEN_FIELDS if t in props), None)
            if token:
                return op, token
        return None, "token"

    def _register(self, login: Operation | None) -> Operation | None:
        for op in self.api.operations:
            if op is login or op.method != "POST" or not self._open(op) or op.body_schema is None:
                continue
            props = self.api.properties(op.body_schema)
            if any(_PASSWORD.search(p) for p in props) and any(
                re.search(r"email|user|login|name", p, re.I) for p in props
            ):
                return op
        return None


def _collection_name(path: str) -> str | None:
    literal = [s for s in path.split("/") if s and not s.startswith("{")]
    return normalise(literal[-1]) if literal else None
