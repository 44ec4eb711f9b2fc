"""An admin-style app: a login form, a session cookie, CSRF double-submit, and a JSON API.

Its spec declares no security at all, as such apps' specs often do: every
API call needs the session cookie, and every change also the ``csrftoken``
cookie's value in an ``X-CSRFToken`` header (Django's way). ``python
session_app.py DB_PATH`` prints ``listening on URL``. The login is
``admin`` / ``s3cret-pass``.
"""

from __future__ import annotations

import secrets
import sqlite3
import sys
from typing import Any

from flask import Flask, abort, g, jsonify, request

USER, PASSWORD = "admin", "s3cret-pass"


def spec() -> dict[str, Any]:
    note = {
        "type": "object",
        "properties": {"id": {"type": "integer", "readOnly": True}, "text": {"type": "string"}},
        "required": ["text"],
    }
    text = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    file = {"content": {"application/json": {"schema": text}}}
    ref = {"$ref": "#/components/schemas/Note"}
    one = {"content": {"application/json": {"schema": ref}}}
    many = {"content": {"application/json": {"schema": {"type": "array", "items": ref}}}}
    item = {"name": "note_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "notes admin", "version": "1"},
        "paths": {
            "/api/notes": {
                "get": {
                    "operationId": "listNotes",
                    "responses": {"200": {"description": "OK", **many}},
                },
                "post": {
                    "operationId": "createNote",
                    "requestBody": {"required": True, **one},
                    "responses": {"201": {"description": "Created", **one}},
                },
            },
            "/api/notes/{note_id}": {
                "parameters": [item],
                "get": {"operationId": "getNote", "responses": {"200": {"description": "OK", **one}}},
                "delete": {"operationId": "deleteNote", "responses": {"204": {"description": "Deleted"}}},
                "patch": {
                    "operationId": "updateNote",
                    "requestBody": {"required": True, **one},
                    "responses": {"200": {"description": "OK", **one}, "412": {"description": "Stale"}},
                },
            },
            "/api/files/{name}": {  # a name the client chooses: PUT makes it (201) or saves it (200)
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "get": {"operationId": "readFile", "responses": {"200": {"description": "OK", **file}}},
                "put": {
                    "operationId": "saveFile",
                    "requestBody": {"required": True, **file},
                    "responses": {
                        "200": {"description": "Saved", **file},
                        "201": {"description": "Created", **file},
                    },
                },
                "delete": {"operationId": "deleteFile", "responses": {"204": {"description": "Deleted"}}},
            },
        },
        "components": {"schemas": {"Note": note}},
    }


def create_app(db_path: str) -> Flask:
    app = Flask("session_app")
    sessions: set[str] = set()
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT, etag TEXT)"
        )
        conn.execute("CREATE TABLE IF NOT EXISTS file (name TEXT PRIMARY KEY, text TEXT)")

    def db() -> sqlite3.Connection:
        if "db" not in g:
            g.db = sqlite3.connect(db_path)
        return g.db

    @app.teardown_appcontext
    def close(_: Any) -> None:
        if "db" in g:
            g.db.close()

    @app.get("/login")
    def login_page() -> Any:
        if request.cookies.get("sessionid") in sessions:  # logged in already: on to the app
            return app.response_class("", status=302, headers={"Location": "/"})
        token = request.cookies.get("csrftoken") or secrets.token_hex(16)
        page = app.response_class('<form method="post"><input name="username"><input name="password"></form>')
        page.set_cookie("csrftoken", token)
        return page

    @app.post("/login")
    def login() -> Any:
        csrf_ok()
        if request.form.get("username") != USER or request.form.get("password") != PASSWORD:
            abort(403)
        session = secrets.token_hex(16)
        sessions.add(session)
        page = app.response_class("", status=302, headers={"Location": "/"})
        page.set_cookie("sessionid", session)
        return page

    def csrf_ok() -> None:
        cookie = request.cookies.get("csrftoken")
        if not cookie or request.headers.get("X-CSRFToken") != cookie:
            abort(403)

    @app.before_request
    def guard() -> None:
        if not request.path.startswith("/api/"):
            return
        if request.cookies.get("sessionid") not in sessions:
            abort(403)
        if request.method not in ("GET", "HEAD"):
            csrf_ok()

    @app.get("/api/notes")
    def notes() -> Any:
        return jsonify([{"id": i, "text": t} for i, t in db().execute("SELECT id, text FROM note")])

    @app.post("/api/notes")
    def create() -> Any:
        text = (request.get_json(silent=True) or {}).get("text")
        if not isinstance(text, str):
            abort(422)
        cursor = db().execute("INSERT INTO note (text, etag) VALUES (?, ?)", (text, secrets.token_hex(6)))
        db().commit()
        return jsonify({"id": cursor.lastrowid, "text": text}), 201

    @app.get("/api/notes/<int(max=9223372036854775807):note_id>")
    def read(note_id: int) -> Any:
        row = db().execute("SELECT id, text, etag FROM note WHERE id = ?", (note_id,)).fetchone()
        if row is None:
            abort(404)
        answer = jsonify({"id": row[0], "text": row[1]})
        answer.headers["ETag"] = f'"{row[2]}"'  # a new one at every change: If-Match must repeat it
        return answer

    @app.patch("/api/notes/<int(max=9223372036854775807):note_id>")
    def update(note_id: int) -> Any:
        row = db().execute("SELECT etag FROM note WHERE id = ?", (note_id,)).fetchone()
        if row is None:
            abort(404)
        if request.headers.get("If-Match") != f'"{row[0]}"':
            abort(412)
        text = (request.get_json(silent=True) or {}).get("text")
        if not isinstance(text, str):
            abort(422)
        db().execute("UPDATE note SET text = ?, etag = ? WHERE id = ?", (text, secrets.token_hex(6), note_id))
        db().commit()
        return jsonify({"id": note_id, "text": text})

    @app.delete("/api/notes/<int(max=9223372036854775807):note_id>")
    def delete(note_id: int) -> Any:
        if db().execute("DELETE FROM note WHERE id = ?", (note_id,)).rowcount == 0:
            abort(404)
        db().commit()
        return "", 204

    @app.get("/api/files/<name>")
    def read_file(name: str) -> Any:
        row = db().execute("SELECT text FROM file WHERE name = ?", (name,)).fetchone()
        if row is None:
            abort(404)
        return jsonify({"text": row[0]})

    @app.put("/api/files/<name>")
    def save_file(name: str) -> Any:
        text = (request.get_json(silent=True) or {}).get("text")
        if not isinstance(text, str):
            abort(422)
        known = db().execute("SELECT 1 FROM file WHERE name = ?", (name,)).fetchone() is not None
        db().execute("INSERT OR REPLACE INTO file (name, text) VALUES (?, ?)", (name, text))
        db().commit()
        return jsonify({"text": text}), 200 if known else 201

    @app.delete("/api/files/<name>")
    def delete_file(name: str) -> Any:
        if db().execute("DELETE FROM file WHERE name = ?", (name,)).rowcount == 0:
            abort(404)
        db().commit()
        return "", 204

    @app.get("/openapi.json")
    def openapi() -> Any:
        return jsonify(spec())

    return app


if __name__ == "__main__":
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, create_app(sys.argv[1]), threaded=True)
    print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
