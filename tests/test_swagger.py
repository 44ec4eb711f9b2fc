"""Swagger 2.0 documents read as OpenAPI 3.0, as published by real apps (cornice, drf-yasg, Tornado)."""

from __future__ import annotations

from openapi_spec_validator import OpenAPIV30SpecValidator

from replayqa.swagger import is_swagger2, to_openapi3

DOCUMENT = {
    "swagger": "2.0",
    "info": {"title": "notes", "version": "1"},
    "basePath": "/api",
    "produces": ["application/json"],
    "securityDefinitions": {"key": {"type": "apiKey", "name": "X-Key", "in": "header"}},
    "security": [{"key": []}],
    "parameters": {
        "Limit": {"name": "limit", "in": "query", "type": "integer", "minimum": 1},
        "Note": {"name": "note", "in": "body", "required": True, "schema": {"$ref": "#/definitions/Note"}},
    },
    "definitions": {
        "Note": {
            "type": "object",
            "required": ["text"],
            "properties": {"text": {"type": "string"}, "due": {"type": "string", "x-nullable": True}},
        }
    },
    "paths": {
        "/notes": {
            "get": {
                "parameters": [{"$ref": "#/parameters/Limit"}],
                "responses": {
                    "200": {
                        "description": "notes",
                        "schema": {"type": "array", "items": {"$ref": "#/definitions/Note"}},
                        "headers": {"X-Total": {"type": "integer"}},
                    }
                },
            },
            "post": {
                "parameters": [{"$ref": "#/parameters/Note"}],
                "responses": {"201": {"description": "made", "schema": {"$ref": "#/definitions/Note"}}},
            },
        },
        "/login": {
            "post": {
                "consumes": ["application/x-www-form-urlencoded"],
                "parameters": [{"name": "password", "in": "formData", "type": "string", "required": True}],
                "responses": {"302": {"description": "to the app"}},
            }
        },
    },
}


def test_the_converted_document_is_valid_openapi_3():
    assert is_swagger2(DOCUMENT)
    converted = to_openapi3(DOCUMENT)
    assert list(OpenAPIV30SpecValidator(converted).iter_errors()) == []
    assert converted["servers"] == [{"url": "/api"}]


def test_parameters_bodies_and_forms_take_their_openapi_3_places():
    paths = to_openapi3(DOCUMENT)["paths"]
    assert paths["/notes"]["get"]["parameters"] == [{"$ref": "#/components/parameters/Limit"}]
    body = paths["/notes"]["post"]["requestBody"]
    assert body == {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Note"}}},
        "required": True,
    }
    form = paths["/login"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form == {
        "type": "object",
        "properties": {"password": {"type": "string"}},
        "required": ["password"],
    }


def test_responses_schemas_and_security_keep_their_meaning():
    converted = to_openapi3(DOCUMENT)
    listed = converted["paths"]["/notes"]["get"]["responses"]["200"]
    assert listed["content"]["application/json"]["schema"]["items"] == {"$ref": "#/components/schemas/Note"}
    assert listed["headers"] == {"X-Total": {"schema": {"type": "integer"}}}
    assert converted["components"]["schemas"]["Note"]["properties"]["due"]["nullable"] is True
    assert converted["components"]["parameters"]["Limit"]["schema"] == {"type": "integer", "minimum": 1}
    assert converted["components"]["securitySchemes"]["key"] == {
        "type": "apiKey",
        "name": "X-Key",
        "in": "header",
    }
    assert converted["security"] == [{"key": []}]
