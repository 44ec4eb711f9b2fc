"""Invariants and database checks written as data: mined from evidence, checked, written back."""

from __future__ import annotations

import json

import pytest

from replayqa.checks import db_effect
from replayqa.diff import Comparer
from replayqa.errors import JourneyError
from replayqa.invariants import from_spec
from replayqa.loader import dump_journey, load_yaml
from replayqa.model import Exchange, HttpRequest, HttpResponse
from replayqa.synth.fromrecordings import mine_relations


def row(body, status=200):
    return {"status": status, "response_body": json.dumps(body)}


def cart(total, *lines):
    return {"id": 7, "total_cents": total, "lines": [{"item_id": i, "line_total_cents": t} for i, t in lines]}


def test_relations_come_from_every_recorded_response():
    rows = [
        row(cart(300, (1, 100), (2, 200))),
        row(cart(1200, (3, 1200))),
        row(cart(500, (1, 500))),
        row({"amount": 10, "refunded": 0}),
        row({"amount": 20, "refunded": 20}),
        row({"amount": 30, "refunded": 5}),
        row({"error": "x"}, 500),
    ]
    found = dict(mine_relations(rows))
    assert "total_cents == sum(lines[*].line_total_cents)" in found
    assert "refunded <= amount" in found
    assert "held in all 3 recorded responses" in found["refunded <= amount"]
    # one counter-example and it is gone; ids never make relations
    rows.append(row(cart(999, (1, 100))))
    assert "total_cents == sum(lines[*].line_total_cents)" not in dict(mine_relations(rows))
    assert not any("id" in expression.split() for expression in dict(mine_relations(rows)))


class FakeClient:
    def __init__(self, *exchanges):
        self.history = list(exchanges)


def exchange(method, url, status, body=None):
    return Exchange(
        HttpRequest(method, url), HttpResponse(status, {}, json.dumps(body) if body is not None else "")
    )


def test_relation_invariant_checks_responses_that_have_the_fields():
    invariant = from_spec(
        {"kind": "relation", "expression": "total_cents == sum(lines[*].line_total_cents)"}, "t"
    )
    ok = FakeClient(exchange("GET", "http://x/cart", 200, cart(300, (1, 100), (2, 200))))
    assert invariant.check(ok, {}, None) is True
    bad = FakeClient(exchange("PATCH", "http://x/cart/items/1", 200, cart(900, (1, 300))))
    assert "does not hold: total_cents = 900" in invariant.check(bad, {}, None)
    unrelated = FakeClient(exchange("GET", "http://x/health", 200, {"status": "ok"}))
    assert invariant.check(unrelated, {}, None) is True


def test_dangling_references_follow_deletes():
    invariant = from_spec(
        {
            "kind": "no_dangling_references",
            "resources": {"item": {"delete": "/items/{item_id}", "fields": ["item_id"]}},
        },
        "t",
    )
    context: dict = {}
    assert invariant.check(FakeClient(exchange("DELETE", "http://x/items/4", 204)), context, None) is True
    still = FakeClient(exchange("GET", "http://x/cart", 200, cart(100, (4, 100))))
    assert "still refers to deleted item 4" in invariant.check(still, context, None)
    gone = FakeClient(exchange("GET", "http://x/cart", 200, cart(100, (5, 100))))
    assert invariant.check(gone, context, None) is True


def test_unknown_invariant_kind_is_a_clear_error():
    with pytest.raises(JourneyError, match="unknown invariant kind 'sometimes'"):
        from_spec({"kind": "sometimes"}, "j.yaml")


ROWS = {"orders": {"1": {"id": 1, "status": "paid"}}, "carts": {"1": {"id": 1, "total": 5}}}


def changed(**tables):
    return {**json.loads(json.dumps(ROWS)), **tables}


@pytest.mark.parametrize(
    ("mode", "status", "after", "problem"),
    [
        ("unchanged", 422, ROWS, None),
        ("unchanged", 422, changed(orders={**ROWS["orders"], "2": {"id": 2}}), "orders/2 added"),
        ("kept", 402, changed(orders={**ROWS["orders"], "2": {"id": 2}}), None),
        ("kept", 402, changed(carts={"1": {"id": 1, "total": 0}}), "carts/1 total changed"),
        ("kept-on-failure", 201, changed(carts={}), None),
        ("kept-on-failure", 402, changed(carts={}), "carts/1 removed"),
        ("idempotent", 409, changed(orders={**ROWS["orders"], "2": {"id": 2}}), None),
        ("idempotent", 201, changed(orders={**ROWS["orders"], "2": {"id": 2}}), "changed the database again"),
        ("idempotent", 200, ROWS, None),
    ],
)
def test_db_effect_modes(mode, status, after, problem):
    verdict = db_effect(mode, status, ROWS, after)
    assert (verdict is None) if problem is None else (problem in verdict)


def test_invariants_db_and_length_checks_round_trip_through_yaml():
    text = """
name: j
invariants:
  - {kind: no_server_errors, name: no server errors}
  - {kind: relation, name: likely, expression: "a <= b", evidence: held in all 4 recorded responses}
steps:
  - name: list_before
    request: {method: GET, path: /items}
  - name: create
    request: {method: POST, path: /items, json: {}}
    expect:
      status: 4xx
      db: unchanged
  - name: list_after
    request: {method: GET, path: /items}
    expect:
      body:
        - {path: $, length: {like: "{{ steps.list_before.body }}", plus: 0}}
"""
    journey = load_yaml(text)
    assert [i.name for i in journey.invariants] == ["no server errors", "likely"]
    assert journey.invariants[1].description == "held in all 4 recorded responses"
    again = load_yaml(dump_journey(journey))
    assert dump_journey(again) == dump_journey(journey)
    assert "db: unchanged" in dump_journey(journey)
    with pytest.raises(JourneyError, match=r"expect\.db is one of"):
        load_yaml(text.replace("db: unchanged", "db: maybe"))


def test_a_repeat_that_only_moves_bookkeeping_did_not_change_the_database():
    """An updated time, or a UUID the app regenerates inside a value, is not a second change."""
    before = {"variable": {"v1": {"id": "v1", "value": "x", "updated": "2026-11-30 00:56:30.1",
                                  "trigger": '{"id": "9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"}'}}}  # fmt: skip
    moved = {"variable": {"v1": {"id": "v1", "value": "x", "updated": "2026-11-30 00:56:31.7",
                                 "trigger": '{"id": "00000000-1111-4222-8333-444444444444"}'}}}  # fmt: skip
    assert db_effect("idempotent", 200, before, moved) is None
    charged = {"variable": {"v1": {**moved["variable"]["v1"], "value": "x twice"}}}
    assert "v1 value changed" in (db_effect("idempotent", 200, before, charged) or "")


def test_within_one_run_a_row_under_a_new_generated_id_is_another_row():
    """Replay pairs rows whose keys differ only by generated ids (two runs make their own);
    before and after one step, the key is the row: a replaced row is removed and added."""
    old_id, new_id = "9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f", "00000000-1111-4222-8333-444444444444"
    before = {"acl": {f"/records/{old_id}|write": {"perm": "write"}}}
    after = {"acl": {f"/records/{new_id}|write": {"perm": "write"}}}
    verdict = db_effect("unchanged", 200, before, after) or ""
    assert f"acl//records/{old_id}|write removed" in verdict
    assert f"acl//records/{new_id}|write added" in verdict
    assert Comparer().tables(before, after) == []  # across two runs: the same row


def test_db_effect_names_every_changed_column_of_a_row_once():
    before = {"carts": {"1": {"id": 1, "total": 5, "items": 1}}}
    after = {"carts": {"1": {"id": 1, "total": 9, "items": 2}}}
    assert db_effect("kept", 200, before, after) == "existing rows changed: carts/1 total, items changed"


def test_a_number_stored_as_text_again_is_no_change():
    """SQLite may hand the same value back as text or as a number; replay's row diff says equal."""
    before = {"carts": {"1": {"id": 1, "total": "5"}}}
    assert db_effect("unchanged", 200, before, {"carts": {"1": {"id": 1, "total": 5}}}) is None


class Context(dict):
    """What invariants remember lives in the journey's context, as with the runner's."""


def check_each(invariant, *exchanges):
    """The invariant after each exchange in turn, as the runner calls it after each step."""
    client, context, verdicts = FakeClient(), Context(), []
    for item in exchanges:
        client.history.append(item)
        verdicts.append(invariant.check(client, context, None))
    return verdicts


def test_a_refused_request_that_changed_what_it_named_is_found_on_the_next_read():
    invariant = from_spec({"kind": "refusals_change_nothing"}, "t")
    full = {"id": 1, "status": "open", "lines": [{"item_id": 4}], "total_cents": 1200}
    emptied = {**full, "lines": [], "total_cents": 0}
    verdicts = check_each(
        invariant,
        exchange("POST", "http://x/cart/items", 201, full),
        exchange("POST", "http://x/carts/1/checkout", 402, {"error": "declined"}),
        exchange("GET", "http://x/cart", 200, emptied),
    )
    assert verdicts[:2] == [True, True]
    assert "object id 1 changed (lines, total_cents)" in verdicts[2]
    assert "POST /carts/1/checkout answered 402" in verdicts[2]


def test_an_accepted_write_between_two_reads_may_change_anything():
    invariant = from_spec({"kind": "refusals_change_nothing"}, "t")
    before = {"id": 1, "status": "open", "total_cents": 1200}
    verdicts = check_each(
        invariant,
        exchange("GET", "http://x/cart", 200, before),
        exchange("POST", "http://x/carts/1/checkout", 402, {"error": "declined"}),
        exchange("DELETE", "http://x/cart/items/4", 200, {**before, "total_cents": 0}),
        exchange("GET", "http://x/cart", 200, {**before, "total_cents": 0}),
    )
    assert verdicts == [True, True, True, True]


def test_the_same_request_accepted_twice_must_answer_the_same():
    invariant = from_spec({"kind": "repeats_change_nothing", "operations": ["POST /orders/{id}/refund"]}, "t")
    order = {"id": 5, "amount": 100, "refunded": 100}
    twice = check_each(
        invariant,
        exchange("POST", "http://x/orders/5/refund", 200, order),
        exchange("GET", "http://x/orders/5", 200, order),  # reads in between do not matter
        exchange("POST", "http://x/orders/5/refund", 200, {**order, "refunded": 200}),
    )
    assert twice[:2] == [True, True]
    assert "the same POST /orders/5/refund again" in twice[2] and "refunded 100 -> 200" in twice[2]
    refused = check_each(
        invariant,
        exchange("POST", "http://x/orders/5/refund", 200, order),
        exchange("POST", "http://x/orders/5/refund", 409, {"error": "already refunded"}),
    )
    assert refused == [True, True]
    other_operation = check_each(
        invariant,
        exchange("POST", "http://x/orders", 201, {"id": 1}),
        exchange("POST", "http://x/orders", 201, {"id": 2}),
    )
    assert other_operation == [True, True]  # making one more each time is what a create does
    salted = check_each(
        from_spec({"kind": "repeats_change_nothing", "operations": ["PUT /accounts/{id}"]}, "t"),
        exchange("PUT", "http://x/accounts/a", 200, {"id": "a", "password": "$2b$12$one"}),
        exchange("PUT", "http://x/accounts/a", 200, {"id": "a", "password": "$2b$12$two"}),
    )
    assert salted == [True, True]  # a secret salted anew is no second change, and never repeated


def test_repeats_name_their_operations_as_method_and_path():
    with pytest.raises(JourneyError, match=r"'refund' is not 'METHOD /path/\{param\}'"):
        from_spec({"kind": "repeats_change_nothing", "operations": ["refund"]}, "t")
