"""Swagger 2.0 read as OpenAPI 3.0: many real APIs still publish 2.0 (Pyramid's cornice, drf-yasg, Tornado).

Converted once, on load, so everything downstream (synth, spec checks,
coverage) knows one format. The mapping follows the OpenAPI 3.0 migration
notes: ``definitions`` become ``components/schemas``, body and form
parameters a ``requestBody`` for each media type the operation consumes,
response schemas a ``content`` entry for each type it produces,
``securityDefinitions`` ``securitySchemes``, and ``basePath`` the server.
"""

from __future__ import annotations

from typing import Any

_REFS = {
    "#/definitions/": "#/components/schemas/",
    "#/parameters/": "#/components/parameters/",
    "#/responses/": "#/components/responses/",
}
_SCHEMA_KEYS = (
    "type", "format", "items", "enum", "default", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems",
    "multipleOf",
)  # fmt: skip
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def is_swagger2(document: Any) -> bool:
    return isinstance(document, dict) and str(document.get("swagger", "")).startswith("2")


def to_openapi3(document: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI 3.0.3 document equivalent to a Swagger 2.0 one, for reading (not for round trips)."""
    spec = _Converter(document)
    converted: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": document.get("info") or {"title": "API", "version": "0"},
        "servers": [{"url": document.get("basePath") or "/"}],
        "paths": {path: spec.path_item(item) for path, item in (document.get("paths") or {}).items()},
        "components": {
            "schemas": {k: spec.schema(v) for k, v in (document.get("definitions") or {}).items()},
            "parameters": {
                k: spec.parameter(v)
                for k, v in (document.get("parameters") or {}).items()
                if v.get("in") not in ("body", "formData")
            },
            "responses": {
                k: spec.response(v, spec.produces) for k, v in (document.get("responses") or {}).items()
            },
            "securitySchemes": {
                k: _security_scheme(v) for k, v in (document.get("securityDefinitions") or {}).items()
            },
        },
    }
    for key in ("security", "tags", "externalDocs"):
        if key in document:
            converted[key] = document[key]
    return converted


class _Converter:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.consumes = document.get("consumes") or ["application/json"]
        self.produces = document.get("produces") or ["application/json"]

    def path_item(self, item: dict[str, Any]) -> dict[str, Any]:
        shared = [self._resolve(p) for p in item.get("parameters") or []]
        out: dict[str, Any] = {}
        plain = [self.parameter(p) for p in shared if p.get("in") not in ("body", "formData")]
        if plain:
            out["parameters"] = plain
        for method in _METHODS:
            if isinstance(item.get(method), dict):
                out[method] = self.operation(
                    item[method], [p for p in shared if p.get("in") in ("body", "formData")]
                )
        return out

    def operation(self, operation: dict[str, Any], inherited: list[dict[str, Any]]) -> dict[str, Any]:
        consumes = operation.get("consumes") or self.consumes
        produces = operation.get("produces") or self.produces
        params = inherited + [self._resolve(p) for p in operation.get("parameters") or []]
        out = {
            k: v for k, v in operation.items() if k not in ("parameters", "responses", "consumes", "produces")
        }
        plain = [self.parameter(p) for p in params if p.get("in") not in ("body", "formData")]
        if plain:
            out["parameters"] = plain
        body = next((p for p in params if p.get("in") == "body"), None)
        form = [p for p in params if p.get("in") == "formData"]
        if body is not None:
            types = [t for t in consumes if t not in _FORMS] or ["application/json"]
            schema = self.schema(body.get("schema") or {})
            out["requestBody"] = {
                "content": {t: {"schema": schema} for t in types},
                "required": bool(body.get("required")),
            }
        elif form:
            out["requestBody"] = self._form_body(form, consumes)
        out["responses"] = {
            str(status): self.response(self._resolve(response), produces)
            for status, response in (operation.get("responses") or {"default": {"description": ""}}).items()
        }
        return out

    def _form_body(self, form: list[dict[str, Any]], consumes: list[str]) -> dict[str, Any]:
        files = any(p.get("type") == "file" for p in form)
        media = "multipart/form-data" if files or "multipart/form-data" in consumes else _FORMS[0]
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {p["name"]: self._param_schema(p) for p in form},
        }
        required = [p["name"] for p in form if p.get("required")]
        if required:
            schema["required"] = required
        return {"content": {media: {"schema": schema}}, "required": bool(required)}

    def parameter(self, parameter: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in parameter:
            return {"$ref": _ref(parameter["$ref"])}
        out: dict[str, Any] = {
            k: parameter[k] for k in ("name", "in", "description", "required") if k in parameter
        }
        if parameter.get("in") == "path":
            out["required"] = True
        out["schema"] = self._param_schema(parameter)
        if parameter.get("collectionFormat") == "multi":
            out["explode"] = True
        return out

    def _param_schema(self, parameter: dict[str, Any]) -> dict[str, Any]:
        schema = {k: parameter[k] for k in _SCHEMA_KEYS if k in parameter}
        if schema.get("type") == "file":
            schema = {"type": "string", "format": "binary"}
        return self.schema(schema) if schema else {}

    def response(self, response: dict[str, Any], produces: list[str]) -> dict[str, Any]:
        if "$ref" in response:
            return {"$ref": _ref(response["$ref"])}
        out: dict[str, Any] = {"description": response.get("description") or ""}
        if response.get("schema") is not None:
            schema = self.schema(response["schema"])
            out["content"] = {t: {"schema": schema} for t in produces}
        if response.get("headers"):
            out["headers"] = {
                name: {"schema": self._param_schema(header), **({"description": header["description"]}
                                                                if "description" in header else {})}
                for name, header in response["headers"].items()
            }  # fmt: skip
        return out

    def schema(self, node: Any) -> Any:
        """Refs rewritten; 2.0-only keywords turned into their 3.0 spelling."""
        if isinstance(node, list):
            return [self.schema(n) for n in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = _ref(value)
            elif key == "x-nullable":
                out["nullable"] = bool(value)
            elif key == "discriminator" and isinstance(value, str):
                out[key] = {"propertyName": value}
            elif key == "type" and value == "file":
                out.update({"type": "string", "format": "binary"})
            elif key in ("properties", "definitions", "patternProperties") and isinstance(value, dict):
                out[key] = {k: self.schema(v) for k, v in value.items()}
            else:
                out[key] = self.schema(value)
        return out

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """Body and form parameters become part of the operation, so their refs are followed here."""
        ref = node.get("$ref") if isinstance(node, dict) else None
        if not isinstance(ref, str) or not ref.startswith(("#/parameters/", "#/responses/")):
            return node
        section, _, name = ref[2:].partition("/")
        target = (self.document.get(section) or {}).get(name.replace("~1", "/").replace("~0", "~"))
        if not isinstance(target, dict):
            return node
        if section == "parameters" and target.get("in") not in ("body", "formData"):
            return node  # kept as a reference to components/parameters
        return target if section == "parameters" else node


def _ref(ref: str) -> str:
    for old, new in _REFS.items():
        if ref.startswith(old):
            return new + ref[len(old) :]
    return ref


def _security_scheme(scheme: dict[str, Any]) -> dict[str, Any]:
    kind = scheme.get("type")
    if kind == "basic":
        return {"type": "http", "scheme": "basic"}
    if kind == "apiKey":
        return {"type": "apiKey", "name": scheme.get("name", ""), "in": scheme.get("in", "header")}
    flow = {"implicit": "implicit", "password": "password", "application": "clientCredentials",
            "accessCode": "authorizationCode"}.get(scheme.get("flow", ""), "implicit")  # fmt: skip
    details: dict[str, Any] = {"scopes": scheme.get("scopes") or {}}
    if flow in ("implicit", "authorizationCode"):
        details["authorizationUrl"] = scheme.get("authorizationUrl", "")
    if flow != "implicit":
        details["tokenUrl"] = scheme.get("tokenUrl", "")
    return {"type": "oauth2", "flows": {flow: details}}
