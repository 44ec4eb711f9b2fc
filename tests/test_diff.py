"""What counts as a difference between a recorded and a replayed response or database."""

from __future__ import annotations

import json

import pytest

from replayqa.diff import Comparer, NoiseRule, noise_format
from replayqa.model import HttpResponse

BODY = {
    "id": 5,
    "status": "paid",
    "total_cents": 2400,
    "created_at": "2026-11-21T10:00:00.123Z",
    "request_id": "9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f",
    "lines": [{"id": 1, "qty": 2}, {"id": 2, "qty": 1}],
    "steps": ["reserve", "charge", "ship"],
    "token": "[redacted:0a1b2c3d4e5f]",
}


def response(body=None, status=200, headers=None):
    return HttpResponse(status, headers or {"Content-Type": "application/json"}, json.dumps(body or BODY))


def mutated(**changes):
    body = json.loads(json.dumps(BODY))
    for key, value in changes.items():
        if value is _REMOVE:
            body.pop(key)
        else:
            body[key] = value
    return body


_REMOVE = object()

# Each fault is what a regression would look like; every one must be caught.
FAULTS = {
    "changed field value": (response(mutated(status="pending")), "$.status"),
    "changed number": (response(mutated(total_cents=2500)), "$.total_cents"),
    "missing field": (response(mutated(status=_REMOVE)), "$.status"),
    "extra field": (response(mutated(refund=True)), "$.refund"),
    "wrong status": (response(status=500), "status"),
    "swapped order where order matters": (
        response(mutated(steps=["charge", "reserve", "ship"])),
        "$.steps[0]",
    ),
    "changed item in keyed list": (
        response(mutated(lines=[{"id": 1, "qty": 3}, {"id": 2, "qty": 1}])),
        "$.lines[0].qty",
    ),
    "missing item in keyed list": (response(mutated(lines=[{"id": 2, "qty": 1}])), "$.lines[0]"),
    "extra item in keyed list": (
        response(mutated(lines=[*BODY["lines"], {"id": 3, "qty": 1}])),
        "$.lines[2]",
    ),
    "changed content type": (response(headers={"Content-Type": "text/html"}), "content-type"),
    "changed type of value": (response(mutated(total_cents="2400")), "$.total_cents"),
    "null instead of value": (response(mutated(status=None)), "$.status"),
    "shorter plain list": (response(mutated(steps=["reserve", "charge"])), "$.steps[2]"),
    "broken id flow": (response(mutated(id=6)), "$.id"),
    "non-JSON body": (HttpResponse(200, {"Content-Type": "application/json"}, "Internal error"), "$"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_every_fault_is_caught(fault):
    replayed, path = FAULTS[fault]
    differences = Comparer({"5": 5}).responses(response(), replayed)
    assert path in [d.path for d in differences], [d.describe() for d in differences]


def test_noise_and_bindings_are_not_differences():
    replayed = mutated(
        id=9,  # the replay's id 5 is 9: compared through the binding
        created_at="2026-11-22T08:30:00Z",
        request_id="00000000-1111-4222-8333-444444444444",
        token="eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXNpZ24",
    )
    headers = {"Content-Type": "application/json; charset=utf-8", "Date": "Sun, 22 Nov 2026 08:30:00 GMT"}
    assert Comparer({"5": 9}).responses(response(), response(replayed, headers=headers)) == []


def test_a_keyed_list_in_another_order_is_one_difference_and_its_items_still_pair_by_key():
    reordered = mutated(lines=[{"id": 2, "qty": 1}, {"id": 1, "qty": 7}])
    described = [d.describe() for d in Comparer({"5": 5}).responses(response(), response(reordered))]
    assert described == ["body $.lines[0].qty: 2 → 7"]  # the item that changed, named by its key
    same_items = mutated(lines=[{"id": 2, "qty": 1}, {"id": 1, "qty": 2}])
    (order,) = Comparer({"5": 5}).responses(response(), response(same_items))
    assert (order.path, order.kind) == ("$.lines", "changed")


def test_a_number_that_became_a_string_is_a_difference_even_when_its_text_is_bound():
    changed = mutated(id="5")
    assert [d.path for d in Comparer({"5": 5}).responses(response(), response(changed))] == ["$.id"]


def test_noise_rules_silence_paths_per_operation():
    rules = [NoiseRule("$.lines[*].qty", operation="getCart", reason="qty is random in this demo")]
    changed = response(mutated(lines=[{"id": 1, "qty": 7}, {"id": 2, "qty": 1}]))
    assert Comparer(rules=rules).responses(response(), changed, "getCart") == []
    assert Comparer(rules=rules).responses(response(), changed, "getOrder") != []


def test_location_headers_are_compared_through_bindings():
    old = HttpResponse(201, {"Location": "/orders/5"}, "")
    assert Comparer({"5": 9}).responses(old, HttpResponse(201, {"Location": "/orders/9"}, "")) == []
    assert Comparer({"5": 9}).responses(old, HttpResponse(201, {"Location": "/orders/8"}, "")) != []


def test_database_rows_by_table_key_and_column():
    recorded = {
        "orders": {"5": {"id": 5, "total": 2400, "created_at": "2026-11-21T10:00:00Z"}},
        "tokens": {"[redacted:aaaa]": {"token": "[redacted:aaaa]"}},
    }
    same = {
        "orders": {"9": {"id": 9, "total": 2400, "created_at": "2026-11-22T11:00:00Z"}},
        "tokens": {"[redacted:bbbb]": {"token": "[redacted:bbbb]"}},
    }
    assert Comparer({"5": 9}).tables(recorded, same) == []
    changed = {"orders": {"9": {"id": 9, "total": 2500, "created_at": "x"}, "10": {"id": 10}}, "tokens": {}}
    described = [d.describe() for d in Comparer({"5": 9}).tables(recorded, changed)]
    assert "db orders/5/total: 2400 → 2500" in described
    assert any(d.startswith("db orders/10: added") for d in described)
    assert "db tokens: '1 rows' → '0 rows'" in described


def test_noise_formats():
    assert noise_format("2026-11-21T10:00:00Z") == "timestamp"
    assert noise_format("Sat, 21 Nov 2026 10:00:00 GMT") == "timestamp"
    assert noise_format("9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f") == "uuid"
    assert noise_format('W/"abc"') == "etag"
    assert noise_format("d41d8cd98f00b204e9800998ecf8427e") == "hash"
    assert noise_format("paid") is None and noise_format(5) is None


def test_epoch_times_under_a_time_name_are_noise_and_other_numbers_are_not():
    old = response(mutated(last_modified=1795997581649, updated_ts=1795997581, amount=1795997581649))
    new = response(mutated(last_modified=1795997584066, updated_ts=1795997599, amount=1795997584066))
    assert [d.path for d in Comparer({"5": 5}).responses(old, new)] == ["$.amount"]
    # a time that changes unit (ms to s) or stops being a time is still a difference
    broken = response(mutated(last_modified=1795997584, updated_ts="soon", amount=1795997581649))
    assert [d.path for d in Comparer({"5": 5}).responses(old, broken)] == ["$.last_modified", "$.updated_ts"]
    rows = {"records": {"a": {"id": "a", "last_modified": 1795997581649}}}
    later = {"records": {"a": {"id": "a", "last_modified": 1795997584066}}}
    assert Comparer().tables(rows, later) == []


U1, U2, U3 = (f"{n}0000000-1111-4222-8333-444444444444" for n in (1, 2, 3))
N1, N2, N3 = (f"{n}aaaaaaa-1111-4222-8333-444444444444" for n in (7, 8, 9))


def test_generated_ids_no_request_used_pair_up_by_shape_and_order():
    """Server-made UUIDs that were never bound still match: the rest of each item is compared."""
    old = [{"id": U1, "name": "kettle"}, {"id": U2, "name": "teapot"}, {"id": U3, "name": "mug"}]
    new = [{"id": N1, "name": "kettle"}, {"id": N2, "name": "teapot"}, {"id": N3, "name": "mug"}]
    comparer = Comparer({U1: N1})  # only the first was used by a later request
    assert comparer.json(old, new, "$") == []
    assert comparer.json({"url": f"/records/{U2}"}, {"url": f"/records/{N2}"}, "$") == []
    # a bound id must still be its replayed value, inside a string too
    assert comparer.json({"url": f"/records/{U1}"}, {"url": f"/records/{N2}"}, "$") != []
    cells = [{"id": "c8e61f4a", "source": "# QA"}]
    assert comparer.json(cells, [{"id": "0b7d3a9e", "source": "# QA"}], "$") == []
    assert comparer.json(cells, [{"id": "0b7d3a9e", "source": "# changed"}], "$") != []
    # a list in another order is a difference, not a silent re-pairing
    swapped = [new[0], new[2], new[1]]
    assert [d.path for d in comparer.json(old, swapped, "$")] == ["$[1].name", "$[2].name"]


def test_database_keys_holding_generated_ids_match_by_shape():
    recorded = {"acl": {f"/records/{U1}|write": {"object": f"/records/{U1}", "perm": "write"}}}
    replayed = {"acl": {f"/records/{N1}|write": {"object": f"/records/{N1}", "perm": "write"}}}
    assert Comparer().tables(recorded, replayed) == []
    changed = {"acl": {f"/records/{N1}|write": {"object": f"/records/{N1}", "perm": "read"}}}
    assert [d.path for d in Comparer().tables(recorded, changed)] == [f"acl//records/{U1}|write/perm"]


H1, H2, M1, M2 = (u.replace("-", "") for u in (U1, U2, N1, N2))  # uuid4().hex, as many servers write ids


def test_database_keys_holding_dashless_uuids_match_through_their_bindings():
    """A composite key (metric name, run id) holding a dashless UUID pairs with the replayed row."""
    recorded = {
        "params": {f"depth|{H1}": {"key": "depth", "value": "4", "run": H1}},
        "metrics": {f"loss|{H1}|0": {"value": "0.9"}, f"loss|{H2}|0": {"value": "0.8"}},
    }
    replayed = {
        "params": {f"depth|{M1}": {"key": "depth", "value": "4", "run": M1}},
        "metrics": {f"loss|{M1}|0": {"value": "0.9"}, f"loss|{M2}|0": {"value": "0.8"}},
    }
    comparer = Comparer({H1: M1, H2: M2})  # both run ids came back in responses and were bound
    assert comparer.tables(recorded, replayed) == []
    # a bound id still holds: the rows of two runs swapped are differences, not a re-pairing
    swapped = {**replayed, "metrics": {f"loss|{M1}|0": {"value": "0.8"}, f"loss|{M2}|0": {"value": "0.9"}}}
    assert sorted(d.path for d in comparer.tables(recorded, swapped)) == [
        f"metrics/loss|{H1}|0/value",
        f"metrics/loss|{H2}|0/value",
    ]
    # 32 hex digits inside a longer run of letters and digits are not an id
    assert not Comparer().same_but_ids(f"x{H1}", f"x{M1}")


def test_a_page_differs_from_its_recording_only_where_it_says_something():
    form = '<form><input type="hidden" name="_xsrf" value="{}"/>'
    page = form.format("2|0f61e356|aae15210b2bd9dd6c17b91ef620c849f|1795997901")
    again = form.format("2|e88f29dc|ec75fce0a335711352b2d6e5be7da3af|1795997904")
    html = {"Content-Type": "text/html"}
    assert Comparer().responses(HttpResponse(200, html, page), HttpResponse(200, html, again)) == []
    worded = page.replace("hidden", "visible")
    assert Comparer().responses(HttpResponse(200, html, page), HttpResponse(200, html, worded)) != []


def test_how_long_the_server_took_is_noise():
    old, new = response(mutated(query_ms=16.4, elapsed=3)), response(mutated(query_ms=7.5, elapsed=9))
    assert Comparer({"5": 5}).responses(old, new) == []


def test_rows_keyed_by_generated_ids_pair_with_the_replayed_row_most_like_them():
    recorded = {"runs": {U1: {"id": U1, "name": "manual-run", "state": "COMPLETED"}}}
    replayed = {
        "runs": {
            N1: {"id": N1, "name": "gorgeous-macaw", "state": "SCHEDULED"},
            N2: {"id": N2, "name": "manual-run", "state": "COMPLETED"},
        }
    }
    (only,) = [d.describe() for d in Comparer().tables(recorded, replayed)]
    assert only.startswith(f"db runs/{N1}: added")


def test_list_items_keyed_by_a_made_anew_hex_id_match_even_when_it_happens_to_be_all_digits():
    """Jupyter gives each notebook cell a random 8-hex-digit id; one in forty is all digits."""
    from replayqa.diff import Comparer

    recorded = {"cells": [{"id": "38925558", "cell_type": "markdown", "source": "# QA"}]}
    replayed = {"cells": [{"id": "f14d3871", "cell_type": "markdown", "source": "# QA"}]}
    assert Comparer().json(recorded, replayed, "$") == []
    changed = {"cells": [{"id": "f14d3871", "cell_type": "markdown", "source": "# QA (changed)"}]}
    assert [d.path for d in Comparer().json(recorded, changed, "$")] == ["$.cells[0].source"]


def test_a_page_whose_recording_redacted_a_secret_matches_its_replay_placeholder_for_placeholder():
    """A login page showing an example URL with a token: the recording keeps a placeholder, so
    the replayed page is compared redacted the same way; any other change is still one."""
    from replayqa.diff import same_text_but_noise

    recorded = "<pre>http://localhost:8888/?token=[redacted:1a74881b79ac] :: /Users/you</pre>"
    replayed = "<pre>http://localhost:8888/?token=c8de56fa4e3b2b1d :: /Users/you</pre>"
    assert same_text_but_noise(recorded, replayed)
    assert not same_text_but_noise(recorded, replayed.replace("/Users/you", "/Users/someone"))
