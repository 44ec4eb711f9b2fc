"""Generated request values satisfy their schemas, deterministically; invalid ones break them."""

from __future__ import annotations

import re

import jsonschema
from hypothesis import given
from hypothesis import strategies as st

from replayqa.synth.values import example_value, from_pattern, invalid_body


def flat(schema):
    return schema


def test_constraints_are_met():
    schema = {
        "type": "object",
        "required": ["count", "code", "kind", "price", "tags"],
        "properties": {
            "count": {"type": "integer", "minimum": 10, "maximum": 20},
            "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
            "kind": {"type": "string", "enum": ["a", "b"]},
            "price": {"type": "number", "exclusiveMinimum": 5},
            "tags": {"type": "array", "minItems": 2, "items": {"type": "string", "minLength": 3}},
            "when": {"type": "string", "format": "date-time"},
            "id": {"type": "integer", "readOnly": True},
        },
    }
    value = example_value(schema, flat)
    jsonschema.validate(value, schema)
    assert "id" not in value  # read-only fields are the server's to set
    assert value == example_value(schema, flat)  # same input, same output: clean git diffs


def test_identity_fields_are_unique_per_run():
    schema = {
        "type": "object",
        "properties": {"email": {"type": "string", "format": "email"}, "username": {}},
    }
    value = example_value(schema, flat)
    assert "{{ run_id }}" in value["email"] and "{{ run_id }}" in value["username"]
    example = example_value({"type": "string", "example": "ann@shop.test"}, flat, name="email")
    assert example == "ann+{{ run_id }}@shop.test"


@given(
    st.sampled_from(
        [r"^[0-9]{16}$", r"^97[89][0-9]{10}$", r"^[a-z]+(-[a-z]+)*$", r"\d{3}-\d{2}", r"^[^@]+@x\.test$"]
    )
)
def test_patterns(pattern):
    value = from_pattern(pattern)
    assert value is not None and re.search(pattern, value)


def test_invalid_body_breaks_the_schema():
    schema = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "n": {"type": "integer"}},
    }
    body, why = invalid_body({"name": "x", "n": 1}, schema, flat)
    assert "name" in why
    assert not jsonschema.Draft202012Validator(schema).is_valid(body)
    body, why = invalid_body({"n": 1}, {**schema, "required": []}, flat)
    assert body == {"n": "not-a-integer"} and "wrong type" in why


def test_names_are_per_run_in_a_form_their_pattern_and_length_accept():
    def value(schema, name="name"):
        return example_value(schema, lambda s: s, name)

    assert value({"type": "string"}) == "name-{{ run_id }}"
    assert value({"type": "string"}, "title") == "title-{{ run_id }}"
    letters_digits = value({"type": "string", "pattern": "^[a-z0-9]+$"})
    assert letters_digits.endswith("{{ run_key }}") and "-" not in letters_digits
    with_example = {"type": "string", "example": "my-flow", "pattern": "^[a-z0-9-_]+$"}
    assert value(with_example) == "my-flow-{{ run_id }}"
    assert value({"type": "string", "maxLength": 8}) == "name"  # too short for a run id: stays fixed
    assert value({"type": "string"}, "first_name") == "first_name"  # only whole names
