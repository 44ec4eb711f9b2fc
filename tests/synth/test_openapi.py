"""Specs are validated first; every problem names the JSON pointer of the bad place."""

from __future__ import annotations

import json

import pytest
import yaml

from replayqa.errors import ConfigError
from replayqa.synth.openapi import Api, load_document
from tests.e2e.conftest import free_port
from tests.support.library_app import library_spec

MINIMAL = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}


def write(tmp_path, document, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document) if name.endswith(".yaml") else json.dumps(document))
    return path


def test_invalid_ref_names_where_it_is(tmp_path):
    document = {
        **MINIMAL,
        "paths": {
            "/a": {
                "get": {
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Nope"}}
                            },
                        }
                    }
                }
            }
        },
    }
    with pytest.raises(ConfigError) as caught:
        load_document(write(tmp_path, document))
    message = str(caught.value)
    assert "'#/components/schemas/Nope'" in message
    assert "/paths/~1a/get/responses/200/content/application~1json/schema/$ref" in message


def test_missing_paths(tmp_path):
    document = {k: v for k, v in MINIMAL.items() if k != "paths"}
    with pytest.raises(ConfigError, match="no 'paths' at /paths"):
        load_document(write(tmp_path, document, "spec.json"))


def test_swagger_2_is_read_as_openapi_3(tmp_path):
    """Bodies, forms, refs, the base path and Basic auth all survive the conversion."""
    path = write(tmp_path, SWAGGER)
    api = Api(load_document(path), "spec")
    operations = {o.key: o for o in api.operations}
    create = operations["POST /buckets/{bid}/records"]
    assert create.body_type == "application/json"
    assert api.properties(create.body_schema)["data"]["type"] == "object"
    assert [p.name for p in create.path_params] == ["bid"]
    upload = operations["POST /upload"]
    assert upload.body_type == "multipart/form-data"
    assert api.document["servers"] == [{"url": "/v1"}]
    assert api.document["components"]["securitySchemes"]["basic"] == {"type": "http", "scheme": "basic"}


SWAGGER = {
    "swagger": "2.0",
    "info": {"title": "t", "version": "1"},
    "basePath": "/v1",
    "securityDefinitions": {"basic": {"type": "basic"}},
    "definitions": {"Record": {"type": "object", "properties": {"data": {"type": "object"}}}},
    "paths": {
        "/buckets/{bid}/records": {
            "parameters": [{"name": "bid", "in": "path", "required": True, "type": "string"}],
            "post": {
                "parameters": [{"name": "body", "in": "body", "schema": {"$ref": "#/definitions/Record"}}],
                "responses": {201: {"description": "made", "schema": {"$ref": "#/definitions/Record"}}},
            },
        },
        "/upload": {
            "post": {
                "consumes": ["multipart/form-data"],
                "parameters": [{"name": "file", "in": "formData", "type": "file", "required": True}],
                "responses": {"200": {"description": "ok"}},
            }
        },
    },
}


def test_schema_errors_point_at_the_location(tmp_path):
    document = {**MINIMAL, "paths": {"/a": {"get": {"responses": {"200": {"content": {}}}}}}}
    with pytest.raises(ConfigError, match=r"invalid OpenAPI at /paths/~1a/get/responses/200"):
        load_document(write(tmp_path, document))


def test_url_that_does_not_answer():
    with pytest.raises(ConfigError, match=r"cannot read OpenAPI spec http://127\.0\.0\.1"):
        load_document(f"http://127.0.0.1:{free_port()}/openapi.json")


def test_third_party_style_spec_is_walkable(tmp_path):
    api = Api.load(write(tmp_path, library_spec(), "library.json"))
    assert len(api.operations) >= 50
    labels = api.by_label()
    # path-level parameters reach every operation of the path
    assert [p.name for p in labels["updateReview"].path_params] == ["book_id", "review_id"]
    # allOf merges, and the $ref cycle Author -> Book -> Author does not loop
    book = api.flatten(labels["getBook"].responses["200"])
    assert {"id", "title", "author", "media"} <= set(book["properties"])
    author = api.flatten(book["properties"]["author"])
    assert "books" in author["properties"]
    # oneOf reduces to its first choice
    assert api.flatten(api.document["components"]["schemas"]["Media"])["required"] == ["format"]
    assert "GetAuthorById" in labels["createAuthor"].links["201"]


def test_unquoted_status_codes_in_yaml_are_fine(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /pets:\n    get:\n"
        "      responses:\n        200:\n          description: ok\n"
    )
    assert Api.load(path).operations[0].documented_statuses() == ["200"]
