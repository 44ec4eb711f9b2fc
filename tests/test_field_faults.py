"""The field suite's fault catalogue: each fault changes what it says, and only where it can."""

from __future__ import annotations

import json

import pytest

from bench.field.faults_addon import FAULTS, MUTATIONS, plant, shape

BODY = {
    "data": [
        {"id": 7, "name": "kettle", "price": 25, "last_modified": 1795997581649},
        {"id": 8, "name": "mug"},
    ]
}
JSON = "application/json"


@pytest.mark.parametrize("fault", sorted(MUTATIONS))
def test_each_body_fault_changes_the_body_and_says_where(fault):
    planted = plant(fault, 200, JSON, json.dumps(BODY))
    assert planted is not None
    detail, text = planted
    assert json.loads(text) != BODY and "$" in detail


def test_faults_leave_ids_and_times_alone_and_skip_what_would_not_change():
    _, text = plant("number_changed", 200, JSON, json.dumps(BODY)) or ("", "")
    changed = json.loads(text)["data"][0]
    assert (changed["id"], changed["price"], changed["last_modified"]) == (7, 26, 1795997581649)
    assert plant("status_404", 404, JSON, "{}") is None
    assert plant("status_500", 404, JSON, "{}") == ("status 404 -> 500", "{}")
    assert plant("string_changed", 200, "text/html", "<p>hi</p>") is None
    assert plant("id_int_to_string", 200, JSON, json.dumps({"id": "a-uuid"})) is None
    assert plant("content_type_changed", 200, JSON, "{}") is not None
    assert set(FAULTS) == {
        *MUTATIONS,
        "status_500",
        "status_404",
        "content_type_changed",
        "db_write_behind_same_response",
    }


def test_recorded_paths_match_their_replays_whatever_ids_the_server_made():
    recorded = shape("/v1/buckets/shop/records/9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f?_sort=name")
    assert recorded == "/v1/buckets/shop/records/*"
    assert shape("/v1/buckets/shop/records/00000000-1111-4222-8333-444444444444") == recorded
    assert shape("/items/12.json") == "/items/12.json" and shape("/items/12") == "/items/*"
