"""Journeys from recorded sessions alone (no spec): what each request's values are bound to."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from replayqa.loader import dump_journey
from replayqa.record.storage import _INSERT_SQL, SCHEMA, create_recording
from replayqa.synth import synthesize

JSON = json.dumps([["Content-Type", "application/json"]])


def recording(path: Path, exchanges: list[dict]) -> Path:
    create_recording(path, {"name": "qa"})
    session = {"id": 1, "name": "qa", "source": "identity", "group_id": 1, "exchange_count": len(exchanges)}
    with sqlite3.connect(path) as conn:
        conn.execute(_INSERT_SQL["sessions"], [session.get(c) for c in SCHEMA["sessions"]])
        for number, row in enumerate(exchanges, 1):
            row = {"id": number, "session_id": 1, "request_headers": JSON, "response_headers": JSON, **row}
            conn.execute(_INSERT_SQL["exchanges"], [row.get(c) for c in SCHEMA["exchanges"]])
    return path


def test_a_name_a_create_chose_is_per_run_wherever_the_session_uses_it(tmp_path):
    """``{"table": "items"}`` made a table later requests address as ``items`` (``items.json``):
    run again, the same name would exist already, so every run makes and uses its own."""
    made = {"ok": True, "database": "shop", "table": "items"}
    path = recording(
        tmp_path / "rec.db",
        [
            {"method": "POST", "url": "http://db.test/shop/-/create", "status": 201,
             "request_body": json.dumps({"table": "items", "columns": [{"name": "id"}]}),
             "response_body": json.dumps(made)},
            {"method": "POST", "url": "http://db.test/shop/items/-/insert", "status": 201,
             "request_body": json.dumps({"row": {"name": "kettle"}}), "response_body": "{}"},
            {"method": "GET", "url": "http://db.test/shop/items.json", "status": 200,
             "response_body": "[]"},
        ],
    )  # fmt: skip
    journey = synthesize(None, [path]).journeys[0]
    text = dump_journey(journey)
    assert "table: items_{{ run_key }}" in text  # still an identifier: a query may name the table
    assert "/items_{{ run_key }}.json" in text or ".body.table }}.json" in text
    assert "/items/" not in text and "items.json" not in text  # the recorded name is used nowhere
    assert "name: id" in text and "name: kettle" in text  # names of other things stay as recorded


def test_a_new_name_a_rename_gave_is_per_run_and_a_name_met_before_stays(tmp_path):
    path = recording(
        tmp_path / "rec.db",
        [
            {"method": "GET", "url": "http://files.test/api/contents", "status": 200,
             "response_body": json.dumps([{"path": "shared.txt"}])},
            {"method": "PUT", "url": "http://files.test/api/contents/a.txt", "status": 201,
             "request_body": json.dumps({"type": "file"}), "response_body": json.dumps({"path": "a.txt"})},
            {"method": "PATCH", "url": "http://files.test/api/contents/a.txt", "status": 200,
             "request_body": json.dumps({"path": "b.txt"}), "response_body": json.dumps({"path": "b.txt"})},
            {"method": "POST", "url": "http://files.test/api/copies", "status": 201,
             "request_body": json.dumps({"from": "shared.txt"}), "response_body": "{}"},
            {"method": "DELETE", "url": "http://files.test/api/contents/b.txt", "status": 204},
            {"method": "GET", "url": "http://files.test/api/contents/shared.txt", "status": 200,
             "response_body": "{}"},
        ],
    )  # fmt: skip
    text = dump_journey(synthesize(None, [path]).journeys[0])
    assert "{path: 'b_{{ run_key }}.txt'}" in text  # the rename's new name, chosen per run
    assert "b.txt" not in text and "/a.txt" not in text
    assert "shared-{{" not in text  # listed before the session used it: a reference, not a new name


def test_a_create_that_answers_200_makes_its_name_per_run_and_later_lookups_follow(tmp_path):
    """``POST /experiments/create`` answers 200, not 201, and echoes no name: the path says it is
    a create, and a later lookup by the recorded name asks for this run's."""
    path = recording(
        tmp_path / "rec.db",
        [
            {"method": "POST", "url": "http://ml.test/api/experiments/create", "status": 200,
             "request_body": json.dumps({"name": "shop-ranking"}),
             "response_body": json.dumps({"experiment_id": "1"})},
            {"method": "GET", "url": "http://ml.test/api/experiments/get-by-name?experiment_name=shop-ranking",
             "status": 200, "response_body": json.dumps({"experiment": {"experiment_id": "1"}})},
        ],
    )  # fmt: skip
    text = dump_journey(synthesize(None, [path]).journeys[0])
    assert text.count("shop-ranking-{{ run_id }}") == 2, text
    assert "shop-ranking}" not in text and "shop-ranking'" not in text


def test_a_plain_word_is_not_bound_to_whatever_a_listing_showed_first(tmp_path):
    path = recording(
        tmp_path / "rec.db",
        [
            {"method": "GET", "url": "http://nb.test/api/contents", "status": 200,
             "response_body": json.dumps({"content": [{"name": "a.ipynb", "type": "notebook"}]})},
            {"method": "POST", "url": "http://nb.test/api/sessions", "status": 201,
             "request_body": json.dumps({"path": "b.ipynb", "type": "notebook"}),
             "response_body": json.dumps({"id": "5f0c1d2e-aaaa-4bbb-8ccc-0123456789ab"})},
        ],
    )  # fmt: skip
    text = dump_journey(synthesize(None, [path]).journeys[0])
    assert "type: notebook" in text and "content[0].type" not in text
