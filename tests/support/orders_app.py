"""An in-memory order API with a planted repeat bug, run as its own process.

``python orders_app.py [--fixed] [postgresql://DSN]`` prints ``listening on
URL``. Refunding an order twice refunds twice: 200 refunded on a 100 order.
With ``--fixed`` a second refund is refused (409). The spec is served at
``/openapi.json``; it says nothing of the bug, so whatever finds it finds it
from the spec alone. With a PostgreSQL DSN the orders live in its ``orders``
table (one connection for the app's life), so restores have something to act on.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FIXED = "--fixed" in sys.argv[1:]
DSN = next((a for a in sys.argv[1:] if a.startswith("postgresql://")), None)
lock = threading.Lock()


class Orders:
    """In memory, or a PostgreSQL table: a dict of orders by id either way."""

    def __init__(self, dsn: str | None) -> None:
        self.rows: dict[int, dict[str, Any]] = {}
        self.conn = None
        if dsn:
            import psycopg
            from psycopg.rows import dict_row

            self.conn = psycopg.connect(dsn, autocommit=True, row_factory=dict_row)
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, amount int NOT NULL, "
                "refunded int NOT NULL DEFAULT 0, status text NOT NULL DEFAULT 'open')"
            )

    def all(self) -> list[dict[str, Any]]:
        if self.conn is None:
            return list(self.rows.values())
        return self.conn.execute("SELECT * FROM orders ORDER BY id").fetchall()

    def get(self, order_id: int) -> dict[str, Any] | None:
        if self.conn is None:
            return self.rows.get(order_id)
        return self.conn.execute("SELECT * FROM orders WHERE id = %s", (order_id,)).fetchone()

    def add(self, amount: int) -> dict[str, Any]:
        if self.conn is None:
            order = {"id": len(self.rows) + 1, "amount": amount, "refunded": 0, "status": "open"}
            self.rows[order["id"]] = order
            return order
        return self.conn.execute("INSERT INTO orders (amount) VALUES (%s) RETURNING *", (amount,)).fetchone()

    def save(self, order: dict[str, Any]) -> None:
        if self.conn is not None:
            self.conn.execute(
                "UPDATE orders SET refunded = %s, status = %s WHERE id = %s",
                (order["refunded"], order["status"], order["id"]),
            )


orders = Orders(DSN)

ORDER = {
    "type": "object",
    "required": ["id", "amount", "refunded", "status"],
    "properties": {
        "id": {"type": "integer"},
        "amount": {"type": "integer", "minimum": 1},
        "refunded": {"type": "integer"},
        "status": {"type": "string", "enum": ["open", "refunded", "cancelled"]},
    },
}
ERROR = {"description": "Refused.", "content": {"application/json": {"schema": {"type": "object"}}}}


def _json(schema: Any, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: Any) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


ORDER_ID = [{"name": "order_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
AMOUNT = {
    "type": "object",
    "required": ["amount"],
    "properties": {"amount": {"type": "integer", "example": 100}},
}
SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "orders", "version": "1"},
    "components": {"schemas": {"Order": ORDER}},
    "paths": {
        "/orders": {
            "get": {
                "operationId": "listOrders",
                "responses": {
                    "200": _json({"type": "array", "items": {"$ref": "#/components/schemas/Order"}})
                },
            },
            "post": {
                "operationId": "createOrder",
                "requestBody": _body(AMOUNT),
                "responses": {"201": _json({"$ref": "#/components/schemas/Order"}), "422": ERROR},
            },
        },
        "/orders/{order_id}": {
            "parameters": ORDER_ID,
            "get": {
                "operationId": "getOrder",
                "responses": {"200": _json({"$ref": "#/components/schemas/Order"}), "404": ERROR},
            },
        },
        "/orders/{order_id}/refund": {
            "parameters": ORDER_ID,
            "post": {
                "operationId": "refundOrder",
                "requestBody": _body(AMOUNT),
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Order"}),
                    "404": ERROR,
                    "409": ERROR,
                    "422": ERROR,
                },
            },
        },
        "/orders/{order_id}/cancel": {
            "parameters": ORDER_ID,
            "post": {
                "operationId": "cancelOrder",
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Order"}),
                    "404": ERROR,
                    "409": ERROR,
                },
            },
        },
    },
}


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read(self) -> Any:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def do_GET(self) -> None:
        if self.path == "/openapi.json":
            self._send(200, SPEC)
            return
        with lock:
            if self.path == "/orders":
                self._send(200, orders.all())
                return
            match = re.fullmatch(r"/orders/(\d+)", self.path)
            order = orders.get(int(match.group(1))) if match else None
            self._send(200, order) if order else self._send(404, {"error": "no such order"})

    def do_POST(self) -> None:
        body = self._read()
        with lock:
            if self.path == "/orders":
                amount = body.get("amount") if isinstance(body, dict) else None
                if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
                    self._send(422, {"error": "amount must be a positive integer"})
                    return
                self._send(201, orders.add(amount))
                return
            match = re.fullmatch(r"/orders/(\d+)/(refund|cancel)", self.path)
            order = orders.get(int(match.group(1))) if match else None
            if match is None or order is None:
                self._send(404, {"error": "no such order"})
            elif match.group(2) == "cancel":
                if order["status"] == "refunded":
                    self._send(409, {"error": "a refunded order cannot be cancelled"})
                    return
                order["status"] = "cancelled"
                orders.save(order)
                self._send(200, order)
            else:
                self._refund(order, body)

    def _refund(self, order: dict[str, Any], body: Any) -> None:
        amount = body.get("amount") if isinstance(body, dict) else None
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1 or amount > order["amount"]:
            self._send(422, {"error": "amount must be between 1 and the order's amount"})
            return
        if order["status"] == "cancelled" or (FIXED and order["status"] == "refunded"):
            self._send(409, {"error": f"order is {order['status']}"})
            return
        order["refunded"] += amount  # the planted bug: nothing stops a second refund
        order["status"] = "refunded"
        orders.save(order)
        self._send(200, order)

    def log_message(self, format: str, *args: object) -> None:
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
server.serve_forever()
