"""OpenAPI documents as synth sees them: validated, with operations and schemas easy to walk.

Every problem with the document is a ConfigError naming the JSON pointer of
the bad location, because a spec of thousands of lines is useless to debug
from "invalid spec". ``$ref`` cycles are fine: schemas are followed lazily and
walkers stop at a depth limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from replayqa.errors import ConfigError
from replayqa.spec import load_spec_document

METHODS = ("get", "post", "put", "patch", "delete")


def pointer(parts: Iterator[Any] | list[Any] | tuple[Any, ...]) -> str:
    """A JSON pointer (RFC 6901) for a location given as keys and indexes."""
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts) if parts else "/"


def load_document(source: str | Path) -> dict[str, Any]:
    """Read and validate a spec; every error is one line with the pointer of the bad place."""
    text = str(source)
    document = _string_keys(load_spec_document(source))
    version = str(document.get("openapi"))
    if not version.startswith(("3.0", "3.1")):
        raise ConfigError(f"{text}: OpenAPI {version} is not supported; synth reads OpenAPI 3.0 and 3.1")
    if not isinstance(document.get("paths"), dict):
        raise ConfigError(f"{text}: no 'paths' at /paths: the spec must list the API's operations")
    check_refs(document, text)
    _validate(document, text, version)
    return document


def _string_keys(node: Any) -> Any:
    """YAML reads ``200:`` as an int; OpenAPI's keys are strings (and its validator insists)."""
    if isinstance(node, dict):
        return {str(k): _string_keys(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_string_keys(v) for v in node]
    return node


def check_refs(document: dict[str, Any], source: str) -> None:
    """Every ``$ref`` must point somewhere inside the document."""
    for where, ref in _refs(document, []):
        if not ref.startswith("#"):
            raise ConfigError(
                f"{source}: $ref {ref!r} at {pointer(where)} points outside the file; bundle the spec "
                "into one file first (e.g. `npx @redocly/cli bundle`)"
            )
        if resolve_pointer(document, ref) is _MISSING:
            raise ConfigError(
                f"{source}: $ref {ref!r} at {pointer(where)} points to nothing; fix the reference"
            )


def _refs(node: Any, where: list[Any]) -> Iterator[tuple[list[Any], str]]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield [*where, "$ref"], ref
        for key, value in node.items():
            if key != "$ref" and isinstance(value, dict | list):
                yield from _refs(value, [*where, key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _refs(value, [*where, index])


_MISSING: Any = object()


def resolve_pointer(document: Any, ref: str) -> Any:
    current = document
    for raw in ref.lstrip("#").split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def _validate(document: dict[str, Any], source: str, version: str) -> None:
    from replayqa.spec import validate_document

    validate_document(document, source, version)


# --- the walkable view ----------------------------------------------------------------------


@dataclass
class Parameter:
    name: str
    location: str  # path, query, header, cookie
    required: bool
    schema: dict[str, Any]
    example: Any = None


@dataclass
class Operation:
    method: str  # upper case
    path: str
    operation_id: str | None
    parameters: list[Parameter]
    body_schema: dict[str, Any] | None
    body_type: str | None  # application/json, application/x-www-form-urlencoded, ...
    body_examples: list[tuple[str, Any]]
    responses: dict[str, dict[str, Any] | None]  # status code or "default" -> schema (or None)
    security: list[str] | None  # scheme names; None: the document's default applies
    links: dict[str, dict[str, Any]] = field(default_factory=dict)  # status -> {name: link}
    summary: str = ""
    deprecated: bool = False

    @property
    def label(self) -> str:
        """The name replayqa uses everywhere else for an operation (matches SpecIndex)."""
        return self.operation_id or f"{self.method} {self.path}"

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def success_schema(self) -> tuple[str | None, dict[str, Any] | None]:
        for status in sorted(self.responses):
            if status.startswith("2"):
                return status, self.responses[status]
        return None, None

    def documented_statuses(self) -> list[str]:
        return sorted(self.responses)

    @property
    def path_params(self) -> list[Parameter]:
        return [p for p in self.parameters if p.location == "path"]


class Api:
    """A validated document and its operations, in document order."""

    def __init__(self, document: dict[str, Any], source: str = "<spec>") -> None:
        self.document = document
        self.source = source
        self.operations = list(self._operations())
        self.security_schemes: dict[str, dict[str, Any]] = {
            name: self.deref(scheme)
            for name, scheme in ((document.get("components") or {}).get("securitySchemes") or {}).items()
        }
        self.default_security = _scheme_names(document.get("security"))
        #: The literal segments of the paths (``block_schemas``, ``filter``): the API's own nouns.
        self.path_words = frozenset(
            part for op in self.operations for part in op.path.split("/") if part and "{" not in part
        )

    @classmethod
    def load(cls, source: str | Path, auth: str | None = None) -> Api:
        document = load_document(source)
        return cls(assume_auth(document, auth) if auth else document, str(source))

    # -- references ---------------------------------------------------------------

    def deref(self, node: Any, depth: int = 0) -> Any:
        """Follow ``$ref`` until a real node (cycles end at the depth limit with ``{}``)."""
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            if depth > 20:
                return {}
            target = resolve_pointer(self.document, node["$ref"])
            node = {} if target is _MISSING else target
            depth += 1
        return node

    @staticmethod
    def ref_name(node: Any) -> str | None:
        """``Cart`` for ``{$ref: '#/components/schemas/Cart'}``: resources are named after schemas."""
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            return node["$ref"].rsplit("/", 1)[-1]
        return None

    def flatten(self, schema: Any, depth: int = 0) -> dict[str, Any]:
        """A schema with ``allOf`` merged, ``oneOf``/``anyOf`` reduced to their first choice."""
        schema = self.deref(schema)
        if not isinstance(schema, dict) or depth > 8:
            return {}
        if "allOf" in schema:
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            properties = dict(merged.get("properties") or {})
            required = list(merged.get("required") or [])
            for part in schema["allOf"]:
                flat = self.flatten(part, depth + 1)
                properties.update(flat.get("properties") or {})
                required += [r for r in flat.get("required") or [] if r not in required]
                for key, value in flat.items():
                    if key not in ("properties", "required"):
                        merged.setdefault(key, value)
            if properties:
                merged["properties"] = properties
                merged.setdefault("type", "object")
            if required:
                merged["required"] = required
            return merged
        for key in ("oneOf", "anyOf"):
            choices = schema.get(key)
            if choices:
                first = self.flatten(choices[0], depth + 1)
                rest = {k: v for k, v in schema.items() if k != key}
                return {**first, **rest} if rest else first
        return schema

    def properties(self, schema: Any) -> dict[str, Any]:
        return dict(self.flatten(schema).get("properties") or {})

    # -- operations -----------------------------------------------------------------

    def _operations(self) -> Iterator[Operation]:
        for template, raw_item in (self.document.get("paths") or {}).items():
            item = self.deref(raw_item)
            if not isinstance(item, dict):
                continue
            shared = [self.deref(p) for p in item.get("parameters") or []]
            for method in METHODS:
                raw = item.get(method)
                if isinstance(raw, dict):
                    yield self._operation(method.upper(), template, raw, shared)

    def _operation(
        self, method: str, template: str, raw: dict[str, Any], shared: list[dict[str, Any]]
    ) -> Operation:
        by_key: dict[tuple[str, str], Parameter] = {}
        for param in [*shared, *(self.deref(p) for p in raw.get("parameters") or [])]:
            if not isinstance(param, dict) or "name" not in param:
                continue
            schema = param.get("schema") or {}
            example = param.get("example")
            if example is None and isinstance(param.get("examples"), dict):
                first = next(iter(param["examples"].values()), None)
                example = self.deref(first).get("value") if first else None
            location = str(param.get("in", "query"))
            by_key[(param["name"], location)] = Parameter(
                str(param["name"]),
                location,
                bool(param.get("required")) or location == "path",
                schema,
                example,
            )
        body = self.deref(raw.get("requestBody")) or {}
        content = body.get("content") or {}
        body_type = _pick_type(content)
        media = content.get(body_type) or {} if body_type else {}
        examples: list[tuple[str, Any]] = []
        if "example" in media:
            examples.append(("example", media["example"]))
        for name, example in (media.get("examples") or {}).items():
            value = self.deref(example)
            if isinstance(value, dict) and "value" in value:
                examples.append((str(name), value["value"]))
        responses: dict[str, dict[str, Any] | None] = {}
        links: dict[str, dict[str, Any]] = {}
        for status, raw_response in (raw.get("responses") or {}).items():
            response = self.deref(raw_response) or {}
            response_content = response.get("content") or {}
            chosen = _pick_type(response_content)
            responses[str(status)] = (response_content.get(chosen) or {}).get("schema") if chosen else None
            if response.get("links"):
                links[str(status)] = {k: self.deref(v) for k, v in response["links"].items()}
        return Operation(
            method=method,
            path=template,
            operation_id=raw.get("operationId"),
            parameters=list(by_key.values()),
            body_schema=media.get("schema") if media else None,
            body_type=body_type,
            body_examples=examples,
            responses=responses,
            security=_scheme_names(raw["security"]) if "security" in raw else None,
            links=links,
            summary=str(raw.get("summary") or ""),
            deprecated=bool(raw.get("deprecated")),
        )

    def security_of(self, operation: Operation) -> list[str]:
        return operation.security if operation.security is not None else self.default_security

    def by_label(self) -> dict[str, Operation]:
        return {op.label: op for op in self.operations}


ASSUMED = "replayqa_assumed"
AUTH_CHOICES = "basic, bearer, header:NAME or form:/LOGIN-PATH"


def assume_auth(document: dict[str, Any], auth: str) -> dict[str, Any]:
    """The document as if it declared ``auth`` for every operation without a security of its own.

    Many specs leave authentication out (Kinto's, jupyter_server's): the user
    knows it, and says so with ``--auth``, as Schemathesis users pass headers.
    """
    kind, _, name = auth.partition(":")
    schemes = {
        "basic": {"type": "http", "scheme": "basic"},
        "bearer": {"type": "http", "scheme": "bearer"},
        "header": {"type": "apiKey", "in": "header", "name": name},
        # a login form posting the --var credentials; the session cookie it sets does the rest
        "form": {"type": "apiKey", "in": "cookie", "name": "session", "x-replayqa-login": name},
    }
    if kind not in schemes or (kind in ("header", "form")) != bool(name):
        raise ConfigError(f"--auth {auth!r}: give one of {AUTH_CHOICES}, e.g. --auth header:Authorization")
    components = {**(document.get("components") or {})}
    components["securitySchemes"] = {**(components.get("securitySchemes") or {}), ASSUMED: schemes[kind]}
    paths = document.get("paths") or {}
    operations = [op for item in paths.values() if isinstance(item, dict) for op in item.values()]
    declared = [op.get("security") for op in operations if isinstance(op, dict) and "security" in op]
    if declared and not any(declared):
        # Every operation says ``security: []``: a generator's default, not a statement that
        # nothing needs auth (the user, passing --auth, knows otherwise).
        paths = {
            path: {
                method: ({k: v for k, v in op.items() if k != "security"} if isinstance(op, dict) else op)
                for method, op in item.items()
            }
            if isinstance(item, dict)
            else item
            for path, item in paths.items()
        }
    return {**document, "paths": paths, "components": components, "security": [{ASSUMED: []}]}


def _scheme_names(requirements: Any) -> list[str]:
    names: list[str] = []
    for requirement in requirements or []:
        if isinstance(requirement, dict):
            names += [n for n in requirement if n not in names]
    return names


def _pick_type(content: dict[str, Any]) -> str | None:
    if not content:
        return None
    for wanted in ("application/json", "application/x-www-form-urlencoded", "multipart/form-data"):
        if wanted in content:
            return wanted
    for name in content:
        if "json" in name:
            return name
    return next(iter(content))
