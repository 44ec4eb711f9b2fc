"""A library API in the style of third-party specs: 53 operations, for synth's tests and benchmark.

Its spec has what real specs have and the demo's lacks: ``$ref`` cycles
(Author.books → Book.author → Author), ``allOf`` and ``oneOf``, path-level
parameters, nested resources, an action endpoint, a required query
parameter, and OpenAPI links. The app is SQLite-backed (one JSON row per
resource), so replayqa can checkpoint and restore it.

``python library_app.py DB_PATH`` prints ``listening on URL``.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from typing import Any

from flask import Flask, g, jsonify, request
from werkzeug.routing import IntegerConverter

#: name -> (collection path, fields: name -> (schema, required), references: field -> resource)
RESOURCES: dict[str, tuple[str, dict[str, tuple[dict[str, Any], bool]], dict[str, str]]] = {
    "author": (
        "authors",
        {"name": ({"type": "string", "minLength": 1}, True), "born": ({"type": "integer"}, False)},
        {},
    ),
    "publisher": (
        "publishers",
        {
            "name": ({"type": "string"}, True),
            "country": ({"type": "string", "enum": ["NL", "DE", "FR", "GB"]}, False),
        },
        {},
    ),
    "book": (
        "books",
        {
            "title": ({"type": "string"}, True),
            "author_id": ({"type": "integer"}, True),
            "publisher_id": ({"type": "integer"}, False),
            "isbn": ({"type": "string", "pattern": "^97[89][0-9]{10}$"}, False),
            "pages": ({"type": "integer", "minimum": 1, "maximum": 5000}, False),
            "media": ({"$ref": "#/components/schemas/Media"}, False),
        },
        {"author_id": "author", "publisher_id": "publisher"},
    ),
    "member": (
        "members",
        {"email": ({"type": "string", "format": "email"}, True), "name": ({"type": "string"}, False)},
        {},
    ),
    "shelf": ("shelves", {"name": ({"type": "string"}, True)}, {}),
    "tag": ("tags", {"label": ({"type": "string", "maxLength": 40}, True)}, {}),
}
NESTED = {"review": ("book", "reviews"), "loan": (None, "loans")}
ERROR = {"$ref": "#/components/responses/Error"}


def id_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


def _schema_name(name: str) -> str:
    return name.capitalize()


def library_spec() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
        "Ebook": {
            "type": "object",
            "required": ["format"],
            "properties": {"format": {"enum": ["epub", "pdf"]}},
        },
        "Paperback": {
            "type": "object",
            "required": ["weight_grams"],
            "properties": {"weight_grams": {"type": "integer"}},
        },
        "Media": {
            "oneOf": [{"$ref": "#/components/schemas/Ebook"}, {"$ref": "#/components/schemas/Paperback"}]
        },
        "Review": {
            "type": "object",
            "required": ["id", "book_id", "rating"],
            "properties": {
                "id": {"type": "integer", "readOnly": True},
                "book_id": {"type": "integer", "readOnly": True},
                "rating": {"type": "integer", "minimum": 1, "maximum": 5},
                "text": {"type": "string"},
            },
        },
        "Loan": {
            "type": "object",
            "required": ["id", "member_id", "book_id", "status"],
            "properties": {
                "id": {"type": "integer", "readOnly": True},
                "member_id": {"type": "integer"},
                "book_id": {"type": "integer"},
                "status": {"type": "string", "enum": ["active", "returned"]},
            },
        },
    }
    paths: dict[str, Any] = {}
    for name, (plural, fields, _) in RESOURCES.items():
        schema = _schema_name(name)
        schemas[f"{schema}Input"] = {
            "type": "object",
            "required": [f for f, (_, required) in fields.items() if required],
            "properties": {f: s for f, (s, _) in fields.items()},
        }
        schemas[schema] = {
            "allOf": [
                {"$ref": f"#/components/schemas/{schema}Input"},
                {
                    "type": "object",
                    "required": ["id"],
                    "properties": {"id": {"type": "integer", "readOnly": True}},
                },
            ]
        }
        one = {"$ref": f"#/components/schemas/{schema}"}
        body = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}Input"}}},
        }
        patch = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "properties": {f: s for f, (s, _) in fields.items()}}
                }
            },
        }
        ok = {"description": "OK", "content": {"application/json": {"schema": one}}}
        title = name.capitalize()
        created = {"description": "Created", "content": {"application/json": {"schema": one}}}
        if name == "author":
            created["links"] = {
                "GetAuthorById": {
                    "operationId": "getAuthor",
                    "parameters": {"author_id": "$response.body#/id"},
                }
            }
        paths[f"/{plural}"] = {
            "get": {
                "operationId": f"list{title}s",
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {"application/json": {"schema": {"type": "array", "items": one}}},
                    }
                },
            },
            "post": {
                "operationId": f"create{title}",
                "requestBody": body,
                "responses": {"201": created, "422": ERROR},
            },
        }
        paths[f"/{plural}/{{{name}_id}}"] = {
            "parameters": [id_param(f"{name}_id")],
            "get": {"operationId": f"get{title}", "responses": {"200": ok, "404": ERROR}},
            "put": {
                "operationId": f"replace{title}",
                "requestBody": body,
                "responses": {"200": ok, "404": ERROR, "422": ERROR},
            },
            "patch": {
                "operationId": f"update{title}",
                "requestBody": patch,
                "responses": {"200": ok, "404": ERROR, "422": ERROR},
            },
            "delete": {
                "operationId": f"delete{title}",
                "responses": {"204": {"description": "Deleted"}, "404": ERROR},
            },
        }
    schemas["Author"]["allOf"][1]["properties"]["books"] = {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Book"},
    }
    schemas["Book"]["allOf"][1]["properties"]["author"] = {"$ref": "#/components/schemas/Author"}

    def array_of(ref: str) -> dict[str, Any]:
        return {
            "description": "OK",
            "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": ref}}}},
        }

    def one_of(ref: str) -> dict[str, Any]:
        return {"description": "OK", "content": {"application/json": {"schema": {"$ref": ref}}}}

    def object_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
        """An inline JSON object body, as hand-written specs often have besides their $refs."""
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        return {"required": True, "content": {"application/json": {"schema": schema}}}

    book_param = id_param("book_id")
    review_fields = {"rating": {"type": "integer", "minimum": 1, "maximum": 5}, "text": {"type": "string"}}
    review_body = object_body(review_fields, ["rating"])
    review_patch = object_body(review_fields, [])
    paths["/authors/{author_id}/books"] = {
        "parameters": [id_param("author_id")],
        "get": {
            "operationId": "listAuthorBooks",
            "responses": {"200": array_of("#/components/schemas/Book"), "404": ERROR},
        },
    }
    paths["/books/{book_id}/reviews"] = {
        "parameters": [book_param],
        "get": {
            "operationId": "listReviews",
            "responses": {"200": array_of("#/components/schemas/Review"), "404": ERROR},
        },
        "post": {
            "operationId": "createReview",
            "requestBody": review_body,
            "responses": {"201": one_of("#/components/schemas/Review"), "404": ERROR, "422": ERROR},
        },
    }
    paths["/books/{book_id}/reviews/{review_id}"] = {
        "parameters": [
            book_param,
            id_param("review_id"),
        ],
        "get": {
            "operationId": "getReview",
            "responses": {"200": one_of("#/components/schemas/Review"), "404": ERROR},
        },
        "patch": {
            "operationId": "updateReview",
            "requestBody": review_patch,
            "responses": {"200": one_of("#/components/schemas/Review"), "404": ERROR, "422": ERROR},
        },
        "delete": {
            "operationId": "deleteReview",
            "responses": {"204": {"description": "Deleted"}, "404": ERROR},
        },
    }
    shelf_param = id_param("shelf_id")
    paths["/shelves/{shelf_id}/books"] = {
        "parameters": [shelf_param],
        "get": {
            "operationId": "listShelfBooks",
            "responses": {"200": array_of("#/components/schemas/Book"), "404": ERROR},
        },
        "post": {
            "operationId": "addShelfBook",
            "requestBody": object_body({"book_id": {"type": "integer"}}, ["book_id"]),
            "responses": {"201": array_of("#/components/schemas/Book"), "404": ERROR, "422": ERROR},
        },
    }
    paths["/shelves/{shelf_id}/books/{book_id}"] = {
        "parameters": [shelf_param, book_param],
        "delete": {
            "operationId": "removeShelfBook",
            "responses": {"204": {"description": "Removed"}, "404": ERROR},
        },
    }
    loan_body = object_body(
        {"member_id": {"type": "integer"}, "book_id": {"type": "integer"}}, ["member_id", "book_id"]
    )
    paths["/loans"] = {
        "get": {"operationId": "listLoans", "responses": {"200": array_of("#/components/schemas/Loan")}},
        "post": {
            "operationId": "createLoan",
            "requestBody": loan_body,
            "responses": {"201": one_of("#/components/schemas/Loan"), "404": ERROR, "422": ERROR},
        },
    }
    loan_param = id_param("loan_id")
    paths["/loans/{loan_id}"] = {
        "parameters": [loan_param],
        "get": {
            "operationId": "getLoan",
            "responses": {"200": one_of("#/components/schemas/Loan"), "404": ERROR},
        },
    }
    paths["/loans/{loan_id}/return"] = {
        "parameters": [loan_param],
        "post": {
            "operationId": "returnLoan",
            "responses": {"200": one_of("#/components/schemas/Loan"), "404": ERROR, "409": ERROR},
        },
    }
    paths["/books/{book_id}/tags"] = {
        "parameters": [book_param],
        "put": {
            "operationId": "setBookTags",
            "requestBody": object_body(
                {"tag_ids": {"type": "array", "items": {"type": "integer"}}}, ["tag_ids"]
            ),
            "responses": {"200": one_of("#/components/schemas/Book"), "404": ERROR, "422": ERROR},
        },
    }
    paths["/search"] = {
        "get": {
            "operationId": "searchBooks",
            "parameters": [
                {
                    "name": "q",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1},
                    "example": "dune",
                }
            ],
            "responses": {"200": array_of("#/components/schemas/Book"), "400": ERROR},
        }
    }
    stats = {"type": "object", "properties": {name + "s": {"type": "integer"} for name in RESOURCES}}
    paths["/stats"] = {
        "get": {
            "operationId": "getStats",
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": stats}}}},
        }
    }
    paths["/health"] = {"get": {"operationId": "health", "responses": {"200": {"description": "OK"}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Library", "version": "2.4.0"},
        "servers": [{"url": "/api/v2"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                "Error": {
                    "description": "Failed",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
        },
    }


# --- the app -------------------------------------------------------------------------------


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _RowId(IntegerConverter):
    """An id SQLite can hold: a larger number in a path is no row (404), not an OverflowError (500)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(db_path: str, server_errors: bool = False) -> Flask:
    """``server_errors`` plants three distinct 500s: in search, in updating a book's pages, and
    for any text holding a NUL character (found only by synth's fuzz phase); and it answers 501,
    on purpose, to a value outside an enum (not a crash: synth must not report it)."""
    app = Flask("library")
    app.url_map.converters["int"] = _RowId
    kinds = [*RESOURCES, "review", "loan", "shelf_book"]
    with sqlite3.connect(db_path) as conn:
        for kind in kinds:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {kind} "
                "(id INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL)"
            )

    def db() -> sqlite3.Connection:
        if "db" not in g:
            g.db = sqlite3.connect(db_path, timeout=10)
        return g.db

    @app.teardown_request
    def close(exc: BaseException | None) -> None:
        conn = g.pop("db", None)
        if conn is not None:
            if exc is None:
                conn.commit()
            conn.close()

    @app.errorhandler(Refused)
    def refused(exc: Refused) -> Any:
        return jsonify({"error": str(exc)}), exc.status

    def rows(kind: str) -> list[dict[str, Any]]:
        return [
            {**json.loads(d), "id": i} for i, d in db().execute(f"SELECT id, data FROM {kind} ORDER BY id")
        ]

    def get(kind: str, ident: int) -> dict[str, Any]:
        row = db().execute(f"SELECT data FROM {kind} WHERE id = ?", (ident,)).fetchone()
        if row is None:
            raise Refused(404, f"no {kind} {ident}")
        return {**json.loads(row[0]), "id": ident}

    def insert(kind: str, data: dict[str, Any]) -> dict[str, Any]:
        cursor = db().execute(f"INSERT INTO {kind} (data) VALUES (?)", (json.dumps(data),))
        return {**data, "id": cursor.lastrowid}

    def save(kind: str, ident: int, data: dict[str, Any]) -> dict[str, Any]:
        data = {k: v for k, v in data.items() if k != "id"}
        db().execute(f"UPDATE {kind} SET data = ? WHERE id = ?", (json.dumps(data), ident))
        return {**data, "id": ident}

    def cascade(kind: str, ident: int) -> None:
        """What refers to a deleted row goes with it: no dangling references."""
        db().execute(f"DELETE FROM {kind} WHERE id = ?", (ident,))
        for other in kinds:
            for row in rows(other):
                if row.get(f"{kind}_id") == ident:
                    cascade(other, row["id"])

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise Refused(422, "the body must be a JSON object")
        return data

    def validated(name: str, data: dict[str, Any], partial: bool) -> dict[str, Any]:
        _, fields, refs = RESOURCES[name]
        out = {}
        for field, (schema, required) in fields.items():
            if field not in data:
                if required and not partial:
                    raise Refused(422, f"{field} is required")
                continue
            value = data[field]
            kind = schema.get("type")
            if kind == "integer" and (not isinstance(value, int) or isinstance(value, bool)):
                raise Refused(422, f"{field} must be an integer")
            if kind == "string" and not isinstance(value, str):
                raise Refused(422, f"{field} must be a string")
            if kind == "string" and server_errors and "\x00" in value:
                # The third planted bug, which only a boundary value reaches: text stores such as
                # PostgreSQL refuse a NUL character, and this app lets the error through.
                raise ValueError(f"A string literal cannot contain NUL (0x00) characters: {field}")
            if "enum" in schema and value not in schema["enum"]:
                if server_errors:  # a 5xx on purpose, as servers answer what they do not support
                    raise Refused(501, f"{field} {value!r} is not implemented")
                raise Refused(422, f"{field} must be one of {schema['enum']}")
            if kind == "integer" and not schema.get("minimum", value) <= value <= schema.get(
                "maximum", value
            ):
                raise Refused(422, f"{field} is out of range")
            if field in refs:
                get(refs[field], value)
            out[field] = value
        return out

    for name in RESOURCES:

        def make(name: str = name) -> None:
            app.add_url_rule(f"/api/v2/{RESOURCES[name][0]}", f"list_{name}", lambda: jsonify(rows(name)))
            app.add_url_rule(
                f"/api/v2/{RESOURCES[name][0]}",
                f"create_{name}",
                lambda: (insert(name, validated(name, body(), False)), 201),
                methods=["POST"],
            )
            one = f"/api/v2/{RESOURCES[name][0]}/<int:ident>"
            app.add_url_rule(one, f"get_{name}", lambda ident: get(name, ident))
            app.add_url_rule(
                one,
                f"put_{name}",
                lambda ident: (get(name, ident), save(name, ident, validated(name, body(), False)))[1],
                methods=["PUT"],
            )

            def patch(ident: int) -> Any:
                changes = validated(name, body(), True)
                if server_errors and "pages" in changes:
                    changes["pages"] = changes["pages"] / 0  # the planted bug: a ZeroDivisionError
                return save(name, ident, {**get(name, ident), **changes})

            app.add_url_rule(one, f"patch_{name}", patch, methods=["PATCH"])

            def delete(ident: int) -> Any:
                get(name, ident)
                cascade(name, ident)
                return "", 204

            app.add_url_rule(one, f"delete_{name}", delete, methods=["DELETE"])

        make()

    @app.get("/api/v2/authors/<int:author_id>/books")
    def author_books(author_id: int) -> Any:
        get("author", author_id)
        return jsonify([b for b in rows("book") if b.get("author_id") == author_id])

    def review_input(partial: bool) -> dict[str, Any]:
        data = body()
        if "rating" not in data and not partial:
            raise Refused(422, "rating is required")
        rating = data.get("rating", 3)
        if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
            raise Refused(422, "rating must be 1 to 5")
        return {k: v for k, v in data.items() if k in ("rating", "text")}

    @app.route("/api/v2/books/<int:book_id>/reviews", methods=["GET", "POST"])
    def reviews(book_id: int) -> Any:
        get("book", book_id)
        if request.method == "POST":
            return insert("review", {**review_input(False), "book_id": book_id}), 201
        return jsonify([r for r in rows("review") if r["book_id"] == book_id])

    @app.route("/api/v2/books/<int:book_id>/reviews/<int:review_id>", methods=["GET", "PATCH", "DELETE"])
    def review(book_id: int, review_id: int) -> Any:
        found = get("review", review_id)
        if found["book_id"] != book_id:
            raise Refused(404, f"no review {review_id} of book {book_id}")
        if request.method == "PATCH":
            return save("review", review_id, {**found, **review_input(True)})
        if request.method == "DELETE":
            db().execute("DELETE FROM review WHERE id = ?", (review_id,))
            return "", 204
        return found

    def shelf_books(shelf_id: int) -> list[dict[str, Any]]:
        ids = [r["book_id"] for r in rows("shelf_book") if r["shelf_id"] == shelf_id]
        return [b for b in rows("book") if b["id"] in ids]

    @app.route("/api/v2/shelves/<int:shelf_id>/books", methods=["GET", "POST"])
    def shelf(shelf_id: int) -> Any:
        get("shelf", shelf_id)
        if request.method == "POST":
            book_id = body().get("book_id")
            if not isinstance(book_id, int):
                raise Refused(422, "book_id must be an integer")
            get("book", book_id)
            if book_id not in [b["id"] for b in shelf_books(shelf_id)]:
                insert("shelf_book", {"shelf_id": shelf_id, "book_id": book_id})
            return jsonify(shelf_books(shelf_id)), 201
        return jsonify(shelf_books(shelf_id))

    @app.delete("/api/v2/shelves/<int:shelf_id>/books/<int:book_id>")
    def unshelve(shelf_id: int, book_id: int) -> Any:
        entries = [r for r in rows("shelf_book") if r["shelf_id"] == shelf_id and r["book_id"] == book_id]
        if not entries:
            raise Refused(404, f"book {book_id} is not on shelf {shelf_id}")
        db().execute("DELETE FROM shelf_book WHERE id = ?", (entries[0]["id"],))
        return "", 204

    @app.route("/api/v2/loans", methods=["GET", "POST"])
    def loans() -> Any:
        if request.method == "GET":
            return jsonify(rows("loan"))
        data = body()
        for field in ("member_id", "book_id"):
            if not isinstance(data.get(field), int):
                raise Refused(422, f"{field} must be an integer")
        get("member", data["member_id"])
        get("book", data["book_id"])
        return insert(
            "loan", {"member_id": data["member_id"], "book_id": data["book_id"], "status": "active"}
        ), 201

    @app.get("/api/v2/loans/<int:loan_id>")
    def loan(loan_id: int) -> Any:
        return get("loan", loan_id)

    @app.post("/api/v2/loans/<int:loan_id>/return")
    def return_loan(loan_id: int) -> Any:
        found = get("loan", loan_id)
        if found["status"] == "returned":
            raise Refused(409, f"loan {loan_id} is already returned")
        return save("loan", loan_id, {**found, "status": "returned"})

    @app.put("/api/v2/books/<int:book_id>/tags")
    def tags(book_id: int) -> Any:
        found = get("book", book_id)
        tag_ids = body().get("tag_ids")
        if not isinstance(tag_ids, list) or not all(isinstance(t, int) for t in tag_ids):
            raise Refused(422, "tag_ids must be a list of integers")
        for tag in tag_ids:
            get("tag", tag)
        return save("book", book_id, {**found, "tag_ids": sorted(set(tag_ids))})

    @app.get("/api/v2/search")
    def search() -> Any:
        q = request.args.get("q", "")
        if server_errors:
            raise RuntimeError("search index unavailable")
        if not q:
            raise Refused(400, "q is required")
        return jsonify([b for b in rows("book") if q.lower() in b["title"].lower()])

    @app.get("/api/v2/stats")
    def stats() -> Any:
        return {name + "s": len(rows(name)) for name in RESOURCES}

    @app.get("/api/v2/health")
    def health() -> Any:
        return {"status": "ok"}

    @app.get("/api/v2/openapi.json")
    def openapi() -> Any:
        return jsonify(library_spec())

    return app


if __name__ == "__main__":
    from werkzeug.serving import make_server

    planted = "--server-errors" in sys.argv[2:]
    server = make_server("127.0.0.1", 0, create_app(sys.argv[1], planted), threaded=True)
    print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
