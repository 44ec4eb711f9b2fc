"""A tiny shop keeping its cart in Redis and its orders in SQLite, run as its own process.

``python redis_cart_app.py redis://127.0.0.1:PORT/DB ORDERS_test.db [PORT]`` prints
``listening on URL``. The cart is a Redis hash with an hour's time to live, as
carts and sessions usually are; a checkout writes an order row and deletes the
cart. So a branch that checks out in one path and adds to the cart in the next
sees an empty cart unless the Redis store is restored between them.

With ``CART_FAULT=keep`` a checkout answers as usual but leaves the cart in
Redis: a fault only the store's end state shows.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis

cache = redis.Redis.from_url(sys.argv[1])
orders = sqlite3.connect(sys.argv[2], check_same_thread=False, isolation_level=None)
orders.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY AUTOINCREMENT, items TEXT)")
lock = threading.Lock()
KEEP_CART = os.environ.get("CART_FAULT") == "keep"
CART = "cart:ada"


def cart() -> dict[str, int]:
    return {k.decode(): int(v) for k, v in sorted(cache.hgetall(CART).items())}


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send(200, {"items": cart()})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path == "/cart/items":
            cache.hincrby(CART, body["item"], 1)
            cache.expire(CART, 3600)
            self._send(201, {"items": cart()})
        elif self.path == "/checkout":
            with lock:
                items = cart()
                if not items:
                    self._send(409, {"error": "the cart is empty"})
                    return
                added = orders.execute("INSERT INTO orders (items) VALUES (?)", (json.dumps(items),))
                order = added.lastrowid
                if not KEEP_CART:
                    cache.delete(CART)
            self._send(201, {"order": order, "items": items})
        else:
            self._send(404, {"error": "not found"})

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(format % args + "\n")


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[3]) if len(sys.argv) > 3 else 0), Handler)
print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
server.serve_forever()
