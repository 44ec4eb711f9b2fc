"""SAVEPOINTs undo an in-process app's writes when it shares replayqa's connection."""

from __future__ import annotations

import json

import httpx
import psycopg

from replayqa import Branch, Checkpoint, Client, Journey, JourneyRunner, Path, Step
from replayqa.state import SavepointBackend


def notes_app(conn):
    """A WSGI app whose every query goes through ``conn``, as in a test client setup."""

    def app(environ, start_response):
        if environ["REQUEST_METHOD"] == "POST":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            text = json.loads(environ["wsgi.input"].read(size))["text"]
            row = conn.execute("INSERT INTO notes (text) VALUES (%s) RETURNING id", (text,)).fetchone()
            status, payload = "201 Created", {"id": row[0]}
        else:
            rows = conn.execute("SELECT id, text FROM notes ORDER BY id").fetchall()
            status, payload = "200 OK", [{"id": i, "text": t} for i, t in rows]
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(payload).encode()]

    return app


def test_each_path_starts_from_the_checkpoint_and_ids_repeat(pg_url):
    conn = psycopg.connect(pg_url)  # not autocommit: everything runs in one transaction
    conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, text text)")
    conn.execute("INSERT INTO notes (text) VALUES ('seed')")
    client = Client("http://app", transport=httpx.WSGITransport(app=notes_app(conn)))
    seen: dict[str, object] = {}

    def add(text):
        def action(c, ctx):
            response = c.post("/notes", json={"text": text})
            seen[text] = response.json()["id"]
            return response

        return action

    def listing(label):
        def action(c, ctx):
            response = c.get("/notes")
            seen[label] = [n["text"] for n in response.json()]
            return response

        return action

    journey = Journey(
        "notes",
        [
            Checkpoint("seeded"),
            Branch(
                "seeded",
                [
                    Path("a", [Step("add_a", add("a")), Step("list_a", listing("after_a"))]),
                    Path("b", [Step("add_b", add("b")), Step("list_b", listing("after_b"))]),
                ],
            ),
        ],
    )
    backend = SavepointBackend(conn, database_name="notes_test")
    result = JourneyRunner(client, backend).run([journey])

    assert result.passed
    assert seen["after_a"] == ["seed", "a"]
    assert seen["after_b"] == ["seed", "b"]  # path a's note is gone
    assert seen["a"] == seen["b"] == 2  # the sequence was put back too
    conn.close()
