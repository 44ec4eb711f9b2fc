"""Journeys from a spec alone: what they call, in what order, and which branches they try."""

from __future__ import annotations

import json

import pytest

from replayqa.actions import RequestAction
from replayqa.demo.run import spec_path
from replayqa.errors import ConfigError
from replayqa.loader import dump_journey, load_yaml
from replayqa.model import Branch, Checkpoint, Step
from replayqa.synth.fromspec import SpecSynth, SynthOptions, _should_be_idempotent
from replayqa.synth.openapi import Api
from tests.support.library_app import library_spec
from tests.support.specs import document, json_response, path_param


def walk(nodes):
    for node in nodes:
        yield node
        if isinstance(node, Branch):
            for path in node.paths:
                yield path
                yield from walk(path.steps)


def by_name(journeys):
    return {j.name: j for j in journeys}


def test_every_operation_is_called_and_files_are_stable():
    api = Api(library_spec())
    journeys = SpecSynth(api).journeys()
    every = by_name(journeys)["every_operation"]
    called = {
        (n.action.method, n.action.path.split("?")[0])
        for n in walk(every.steps)
        if isinstance(n, Step) and isinstance(n.action, RequestAction)
    }
    assert len({p.name for p in walk(every.steps) if hasattr(p, "steps")}) == len(api.operations)
    assert ("POST", "/api/v2/loans/{{ loan_id }}/return") in called
    again = SpecSynth(Api(library_spec())).journeys()
    assert [dump_journey(j) for j in journeys] == [dump_journey(j) for j in again]
    for journey in journeys:  # what synth writes, the loader reads back the same
        assert dump_journey(load_yaml(dump_journey(journey))) == dump_journey(journey)


def test_branches_before_state_changing_steps():
    journeys = by_name(
        SpecSynth(Api.load(spec_path()), SynthOptions(variables=("email", "password"))).journeys()
    )
    cart = journeys["cart_lifecycle"]
    branches = {
        n.checkpoint_name: [p.name for p in n.paths] for n in walk(cart.steps) if isinstance(n, Branch)
    }
    assert branches["before_checkout_cart"] == [
        "invalid_body",
        "no_auth",
        "unknown_id",
        "twice",
        "other_user",
        "example_declined",
    ]
    checkpoints = [n.name for n in cart.steps if isinstance(n, Checkpoint)]
    assert "before_checkout_cart" in checkpoints
    login = next(n for n in cart.steps if isinstance(n, Step))
    assert login.action.json == {"email": "{{ email }}", "password": "{{ password }}"}
    item = journeys["item_lifecycle"]
    names = [n.name for n in walk(item.steps) if isinstance(n, Step)]
    # another user puts the item in their cart; after the delete, that user's cart is read again
    assert (
        names.index("add_to_cart_as_other")
        < names.index("delete_item")
        < names.index("get_cart_after_delete")
    )
    assert "read_deleted_item" in names


def test_which_requests_should_be_idempotent():
    ops = Api.load(spec_path()).by_label()
    library = Api(library_spec()).by_label()
    assert _should_be_idempotent(ops["checkoutCart"])  # an action on one cart
    assert _should_be_idempotent(library["returnLoan"])
    assert _should_be_idempotent(ops["updateCartQuantity"])
    assert not _should_be_idempotent(library["createReview"])  # a sub-collection makes new ones
    assert not _should_be_idempotent(ops["addToCart"])


def test_setting_a_value_twice_may_add_history_but_not_change_the_first_effect():
    run = {"type": "object", "properties": {"id": {"type": "integer"}, "state": {"type": "string"}}}
    body = {
        "content": {
            "application/json": {"schema": {"type": "object", "properties": {"state": {"type": "string"}}}}
        }
    }
    action = {"parameters": [path_param("run_id")], "responses": {"200": json_response(run)}}
    spec = document(
        {
            "/runs": {"post": {"operationId": "createRun", "responses": {"201": json_response(run)}}},
            "/runs/{run_id}/set_state": {"post": {**action, "operationId": "setState", "requestBody": body}},
            "/runs/{run_id}/cancel": {"post": {**action, "operationId": "cancelRun"}},
        }
    )
    checks = {}
    for journey in SpecSynth(Api(spec)).journeys():
        for node in walk(journey.steps):
            if isinstance(node, Step) and node.name.endswith("_again"):
                checks[node.action.path] = next(c.value for c in node.checks if c.kind == "db")
    # a state history row is no double effect; a second cancel must change nothing at all
    assert checks == {"/runs/{{ run_id }}/set_state": "kept", "/runs/{{ run_id }}/cancel": "idempotent"}


def test_parameters_no_resource_names_are_looked_up_in_listings():
    countries = {
        "type": "object",
        "properties": {"results": {"type": "array", "items": {"properties": {"code": {"type": "string"}}}}},
    }
    spec = document(
        {
            "/countries": {"get": {"responses": {"200": json_response(countries)}}},
            "/countries/{code}": {
                "get": {"parameters": [path_param("code", "string")], "responses": {"200": json_response()}}
            },
        }
    )
    every = SpecSynth(Api(spec)).journeys()[-1]
    steps = [n for n in walk(every.steps) if isinstance(n, Step)]
    lookup = next(s for s in steps if s.save)
    assert lookup.save == {"countries_code": "results[0].code"}
    assert any(s.action.path == "/countries/{{ countries_code }}" for s in steps)


def test_list_counts_look_inside_wrapped_lists():
    note = {"$ref": "#/components/schemas/Note"}
    wrapped = {"type": "object", "properties": {"data": {"type": "array", "items": note}}}
    spec = document(
        {
            "/notes": {
                "get": {"operationId": "listNotes", "responses": {"200": json_response(wrapped)}},
                "post": {
                    "operationId": "createNote",
                    "requestBody": {"content": {"application/json": {"schema": note}}},
                    "responses": {"201": json_response(note)},
                },
            },
            "/notes/{note_id}": {
                "parameters": [path_param("note_id")],
                "get": {"operationId": "getNote", "responses": {"200": json_response(note)}},
                "delete": {"operationId": "deleteNote", "responses": {"204": json_response()}},
            },
        },
        components={
            "schemas": {
                "Note": {
                    "type": "object",
                    "properties": {"id": {"type": "integer"}, "text": {"type": "string"}},
                }
            }
        },
    )
    lifecycle = by_name(SpecSynth(Api(spec)).journeys())["note_lifecycle"]
    counts = {
        n.name: c.value
        for n in walk(lifecycle.steps)
        if isinstance(n, Step)
        for c in n.checks
        if c.kind == "length"
    }
    assert counts == {
        "list_notes_after_create": {"like": "{{ steps.list_notes_before.body.data }}", "plus": 1},
        "list_notes_after_delete": {"like": "{{ steps.list_notes_before.body.data }}", "plus": 0},
    }


def test_auth_the_spec_does_not_declare_reaches_every_request_and_the_no_auth_branch_drops_it(tmp_path):
    """Kinto's and jupyter_server's specs say nothing of auth; the user says it with --auth."""
    note = {"type": "object", "properties": {"id": {"type": "integer"}, "text": {"type": "string"}}}
    paths = {
        "/notes": {
            "post": {
                "requestBody": {"content": {"application/json": {"schema": note}}},
                "responses": {"201": json_response(note)},
            }
        },
        "/notes/{id}": {
            "parameters": [path_param("id")],
            "get": {"responses": {"200": json_response(note)}},
            "delete": {"responses": {"204": {"description": "gone"}}},
        },
    }
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(document(paths)))

    def steps(auth):
        journeys = SpecSynth(Api.load(spec, auth)).journeys()
        return {n.name: n.action.headers for j in journeys for n in walk(j.steps) if isinstance(n, Step)}

    assert steps("basic")["post_notes"] == {"Authorization": "Basic {{ basic_auth }}"}
    assert steps("basic")["post_notes_no_auth"] == {}
    assert steps("header:Authorization")["read_note"] == {"Authorization": "{{ api_key }}"}
    assert all(not headers for headers in steps(None).values())
    with pytest.raises(ConfigError, match="give one of basic, bearer"):
        Api.load(spec, "header")
