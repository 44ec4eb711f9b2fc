"""The demo shop (bugs off) with one injected fault: the fault-injection suite's app.

``python faulty_shop.py DB FAULT`` prints ``listening on URL``. Response
faults rewrite what the shop answers; database faults change its writes
behind its back; ``none`` is the unchanged shop.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import make_server

from replayqa.demo.app import create_app, init_db


def _json(change: Callable[[dict[str, Any]], None]) -> Callable[[Any], Any]:
    def apply(body: Any) -> Any:
        change(body)
        return body

    return apply


# fault -> (method, path regex, what it does to the JSON body, new status, new content type)
RESPONSE_FAULTS: dict[str, tuple[str, str, Callable[[Any], Any] | None, int | None, str | None]] = {
    "changed field value": ("GET", r"/cart", _json(lambda b: b.update(status="closed")), None, None),
    "changed number": (
        "GET",
        r"/cart",
        _json(lambda b: b.update(total_cents=b["total_cents"] + 1)),
        None,
        None,
    ),
    "missing field": ("GET", r"/cart", _json(lambda b: b.pop("status")), None, None),
    "extra field": ("GET", r"/cart", _json(lambda b: b.update(debug=True)), None, None),
    "wrong status": ("GET", r"/cart", None, 201, None),
    "changed header": ("GET", r"/cart", None, None, "text/plain"),
    "null instead of value": ("GET", r"/cart", _json(lambda b: b.update(total_cents=None)), None, None),
    "changed value type": ("GET", r"/cart", _json(lambda b: b.update(id=str(b["id"]))), None, None),
    "changed item in list": (
        "POST",
        r"/cart/items",
        _json(lambda b: b["lines"][0].update(quantity=b["lines"][0]["quantity"] + 1)),
        None,
        None,
    ),
    "missing list item": ("POST", r"/cart/items", _json(lambda b: b.update(lines=[])), None, None),
    "extra list item": (
        "POST",
        r"/cart/items",
        _json(lambda b: b["lines"].append({**b["lines"][0], "item_id": 99})),
        None,
        None,
    ),
    "not JSON any more": ("GET", r"/cart", lambda b: "Internal Server Error", None, None),
    "broken id flow": ("POST", r"/cart/items", _json(lambda b: b.update(id=b["id"] + 100)), None, None),
}

# fault -> (method, path regex, SQL run after the response)
DATABASE_FAULTS: dict[str, tuple[str, str, str]] = {
    "extra DB row": ("POST", r"/users", "INSERT INTO items (name, price_cents) VALUES ('ghost', 1)"),
    "missing DB row": (
        "POST",
        r"/carts/\d+/checkout",
        "DELETE FROM payments WHERE id = (SELECT max(id) FROM payments)",
    ),
    "changed DB column": (
        "POST",
        r"/users",
        "UPDATE users SET is_admin = 1 WHERE id = (SELECT max(id) FROM users)",
    ),
}
FAULTS = ["none", *RESPONSE_FAULTS, *DATABASE_FAULTS]


class Faulty:
    """WSGI middleware injecting one fault."""

    def __init__(self, app: Any, db: str, fault: str) -> None:
        self.app, self.db, self.fault = app, db, fault

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            captured.update(status=status, headers=headers)
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        status, headers = captured["status"], list(captured["headers"])
        if self.fault in RESPONSE_FAULTS:
            want_method, pattern, change, new_status, content_type = RESPONSE_FAULTS[self.fault]
            if method == want_method and re.fullmatch(pattern, path):
                if change is not None:
                    changed = change(json.loads(body))
                    body = (changed if isinstance(changed, str) else json.dumps(changed)).encode()
                if new_status is not None:
                    status = f"{new_status} CHANGED"
                if content_type is not None:
                    headers = [(k, content_type if k.lower() == "content-type" else v) for k, v in headers]
        elif self.fault in DATABASE_FAULTS:
            want_method, pattern, statement = DATABASE_FAULTS[self.fault]
            if method == want_method and re.fullmatch(pattern, path):
                with sqlite3.connect(self.db) as conn:
                    conn.execute(statement)
        headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in headers]
        start_response(status, headers)
        return [body]


if __name__ == "__main__":
    database, fault = sys.argv[1], sys.argv[2]
    init_db(database)
    server = make_server(
        "127.0.0.1", 0, Faulty(create_app(database, bugs=set()), database, fault), threaded=True
    )
    print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
