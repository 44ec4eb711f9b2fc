"""Small builders for OpenAPI documents written inside tests, so each test shows only what it is about."""

from __future__ import annotations

from typing import Any


def document(paths: dict[str, Any], version: str = "3.1.0", **extra: Any) -> dict[str, Any]:
    return {"openapi": version, "info": {"title": "t", "version": "1"}, "paths": paths, **extra}


def json_response(schema: dict[str, Any] | None = None, description: str = "ok") -> dict[str, Any]:
    """A response; with a schema, its JSON content."""
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def path_param(name: str, kind: str = "integer") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}
