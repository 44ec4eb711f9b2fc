"""Replay's own rules, apart from the end-to-end replays in tests/e2e/test_replay.py."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import httpx
import pytest

from replayqa.record.storage import _INSERT_SQL, SCHEMA, create_recording
from replayqa.replay import ReplaySettings, fill_secret, replay


@pytest.mark.parametrize(
    ("recorded", "secret", "sent"),
    [
        ("Basic [redacted:1a2b3c]", "Basic dXNlcjpwdw==", "Basic dXNlcjpwdw=="),  # the whole header value
        ("Basic [redacted:1a2b3c]", "dXNlcjpwdw==", "Basic dXNlcjpwdw=="),  # the credential alone
        ("Bearer [redacted]", "bearer abc.def", "Bearer abc.def"),
        ("Basic [redacted:1a2b3c]", "user:pw", "Basic dXNlcjpwdw=="),  # as a person knows it
        ("Basic [redacted:1a2b3c]", "Basic user:pw", "Basic dXNlcjpwdw=="),
        ("[redacted:9f]", "s3cret", "s3cret"),  # a body field
        ("token [redacted]", "Basic xyz", "token Basic xyz"),  # another scheme is not swallowed
        ("no placeholder", "s3cret", "no placeholder"),
    ],
)
def test_a_secret_fills_the_placeholder_whether_given_with_its_scheme_or_without(recorded, secret, sent):
    assert fill_secret(recorded, secret) == sent


# -- replays through the client's transport seam ------------------------------------------------

RECORDED_ID = "0b7f3d1e-5a8c-4c2e-9d6f-1a2b3c4d5e6f"


def orders_recording(path: Path) -> Path:
    """A session as the recorder keeps it: create an order (the server makes its id), then read it."""
    create_recording(path, {"name": "orders"})
    session = {"id": 1, "name": "orders", "source": "identity", "group_id": 1, "exchange_count": 2}
    json_headers = json.dumps([["Content-Type", "application/json"]])
    exchanges = [
        {"id": 1, "method": "POST", "url": "http://shop.test/orders", "status": 201,
         "request_headers": json_headers, "request_body": json.dumps({"item": "mug"}),
         "response_headers": json_headers,
         "response_body": json.dumps({"id": RECORDED_ID, "item": "mug", "total": 12})},
        {"id": 2, "method": "GET", "url": f"http://shop.test/orders/{RECORDED_ID}", "status": 200,
         "request_headers": "[]", "response_headers": json_headers,
         "response_body": json.dumps({"id": RECORDED_ID, "item": "mug", "total": 12})},
    ]  # fmt: skip
    with sqlite3.connect(path) as conn:
        conn.execute(_INSERT_SQL["sessions"], [session.get(c) for c in SCHEMA["sessions"]])
        for row in exchanges:
            row["session_id"] = 1
            conn.execute(_INSERT_SQL["exchanges"], [row.get(c) for c in SCHEMA["exchanges"]])
    return path


class Shop:
    def __init__(self, total: int = 12, create_status: int = 201) -> None:
        self.orders: dict[str, dict] = {}
        self.total, self.create_status = total, create_status
        self.seen: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            if self.create_status >= 400:
                return httpx.Response(self.create_status, json={"detail": "down"})
            order = {"id": str(uuid.uuid4()), **json.loads(request.content), "total": self.total}
            self.orders[order["id"]] = order
            return httpx.Response(201, json=order)
        order = self.orders.get(request.url.path.rpartition("/")[2])
        return httpx.Response(200, json=order) if order else httpx.Response(404, json={"detail": "no"})


def replay_on(shop: Shop, tmp_path: Path):
    settings = ReplaySettings("http://shop.test", transport=httpx.MockTransport(shop.handle))
    return replay([orders_recording(tmp_path / "orders.db")], settings)


def test_an_id_the_server_made_is_rebound_into_the_next_request(tmp_path):
    shop = Shop()
    result = replay_on(shop, tmp_path)
    assert result.passed, [i.error for i in result.issues]
    assert shop.seen == ["POST /orders", f"GET /orders/{next(iter(shop.orders))}"]


def test_a_changed_field_is_an_issue_naming_the_field(tmp_path):
    result = replay_on(Shop(total=13), tmp_path)
    assert [(i.step, [d["path"] for d in i.diff]) for i in result.issues] == [
        ("#1 POST /orders", ["$.total"]),
        ("#2 GET /orders/" + RECORDED_ID, ["$.total"]),
    ]
    assert result.issues[0].expected is not None and result.issues[0].expected.status == 201


def test_a_create_that_fails_is_one_issue_though_the_read_that_needed_its_id_fails_too(tmp_path):
    shop = Shop(create_status=500)
    result = replay_on(shop, tmp_path)
    assert shop.seen == ["POST /orders", f"GET /orders/{RECORDED_ID}"], "every step runs, clean-up too"
    assert [i.step for i in result.issues] == ["#1 POST /orders"]
    assert "(then 1 later steps that needed what it made failed too)" in result.issues[0].error


def test_steps_and_issues_name_their_recorded_exchange_by_id(tmp_path):
    result = replay_on(Shop(total=13), tmp_path)
    (journey,) = result.journeys
    assert [s.exchange_id for s in journey.steps] == [1, 2]
    assert [i.exchange_id for i in result.issues] == [1, 2]


def test_a_replayed_journey_carries_its_sessions_and_shows_them_joined(tmp_path):
    recording = orders_recording(tmp_path / "orders.db")
    with sqlite3.connect(recording) as conn:
        conn.execute("UPDATE sessions SET name = 'orders+reads'")
    settings = ReplaySettings(
        "http://shop.test", transport=httpx.MockTransport(Shop().handle), sessions=("orders+reads",)
    )
    (journey,) = replay([recording], settings).journeys
    assert (journey.journey, journey.sessions) == ("orders+reads", ("orders+reads",))
