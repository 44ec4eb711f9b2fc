"""A small shop API on SQLite (or MariaDB/MySQL), with planted bugs, for the demo and the tests.

Users log in for a bearer token, fill a cart, and check it out with a card:
a card ending in 0002 is declined. Admins create and delete items. Every
request opens its own connection, as a real app with a pool would, so
replayqa's restores of the database are seen on the next request. The SQL
is SQLite's; :mod:`replayqa.demo.db` makes a MySQL connection answer alike,
and the two statements that differ are chosen by dialect.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from functools import wraps
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from flask import Flask, g, jsonify, request

from replayqa.demo.bugs import active_bugs
from replayqa.demo.db import INTEGRITY_ERRORS, connect, is_mysql, sqlite_path

ADMIN_EMAIL = "admin@shop.test"
ADMIN_PASSWORD = "admin-pass"
DECLINED_SUFFIX = "0002"

SCHEMA = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE tokens (
    token TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id)
);
CREATE TABLE items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE carts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    status TEXT NOT NULL DEFAULT 'open',
    total_cents INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE cart_lines (
    cart_id INTEGER NOT NULL REFERENCES carts(id),
    item_id INTEGER NOT NULL REFERENCES items(id),
    quantity INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL,
    PRIMARY KEY (cart_id, item_id)
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    cart_id INTEGER NOT NULL REFERENCES carts(id),
    total_cents INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id INTEGER NOT NULL REFERENCES orders(id),
    amount_cents INTEGER NOT NULL,
    status TEXT NOT NULL,
    card_last4 TEXT NOT NULL
);
"""

# The same tables for MariaDB/MySQL: keys are VARCHARs, foreign keys are table
# constraints (MySQL ignores REFERENCES on a column), text compares byte for
# byte as in SQLite, and created_at is DATETIME(6) in UTC.
MYSQL_SCHEMA = """
CREATE TABLE users (
    id INT AUTO_INCREMENT PRIMARY KEY,
    email VARCHAR(255) NOT NULL UNIQUE,
    password_hash VARCHAR(64) NOT NULL,
    is_admin TINYINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE tokens (
    token VARCHAR(64) PRIMARY KEY,
    user_id INT NOT NULL,
    FOREIGN KEY (user_id) REFERENCES users(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE items (
    id INT AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    price_cents INT NOT NULL CHECK (price_cents >= 0),
    deleted TINYINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE carts (
    id INT AUTO_INCREMENT PRIMARY KEY,
    user_id INT NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'open',
    total_cents INT NOT NULL DEFAULT 0,
    FOREIGN KEY (user_id) REFERENCES users(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE cart_lines (
    cart_id INT NOT NULL,
    item_id INT NOT NULL,
    quantity INT NOT NULL,
    unit_price_cents INT NOT NULL,
    PRIMARY KEY (cart_id, item_id),
    FOREIGN KEY (cart_id) REFERENCES carts(id),
    FOREIGN KEY (item_id) REFERENCES items(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE orders (
    id INT AUTO_INCREMENT PRIMARY KEY,
    user_id INT NOT NULL,
    cart_id INT NOT NULL,
    total_cents INT NOT NULL,
    status VARCHAR(20) NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    FOREIGN KEY (user_id) REFERENCES users(id),
    FOREIGN KEY (cart_id) REFERENCES carts(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE payments (
    id INT AUTO_INCREMENT PRIMARY KEY,
    order_id INT NOT NULL,
    amount_cents INT NOT NULL,
    status VARCHAR(20) NOT NULL,
    card_last4 VARCHAR(4) NOT NULL,
    FOREIGN KEY (order_id) REFERENCES orders(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
"""

# Adding an item already in the cart adds to its quantity: an upsert, spelt two ways.
ADD_LINE = {
    "sqlite": "INSERT INTO cart_lines (cart_id, item_id, quantity, unit_price_cents) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (cart_id, item_id) DO UPDATE SET quantity = quantity + excluded.quantity",
    "mysql": "INSERT INTO cart_lines (cart_id, item_id, quantity, unit_price_cents) VALUES (?, ?, ?, ?) "
    "ON DUPLICATE KEY UPDATE quantity = quantity + VALUES(quantity)",
}

SEED_ITEMS = (("Mug", 1200), ("T-shirt", 2500), ("Sticker", 300))

log = logging.getLogger("replayqa.demo.shop")


def hash_password(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def init_db(db: str | Path) -> None:
    """Create the schema and seed data (an admin and three items) in a new file or empty database.

    ``db`` is a SQLite file path, or a ``mysql://`` URL of an existing, empty database.
    """
    conn = connect(db)
    try:
        if is_mysql(db):
            conn.executescript(MYSQL_SCHEMA)
        else:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(SCHEMA)
        conn.execute(
            "INSERT INTO users (email, password_hash, is_admin) VALUES (?, ?, 1)",
            (ADMIN_EMAIL, hash_password(ADMIN_PASSWORD)),
        )
        conn.executemany("INSERT INTO items (name, price_cents) VALUES (?, ?)", SEED_ITEMS)
        conn.commit()
    finally:
        conn.close()


def is_initialised(db: str | Path) -> bool:
    """Whether ``db`` already holds the shop's tables, so a restarted server keeps its data."""
    if not is_mysql(db):
        path = sqlite_path(db)
        return path.exists() and path.stat().st_size > 0
    conn = connect(db)
    try:
        return conn.execute("SHOW TABLES LIKE 'users'").fetchone() is not None
    finally:
        conn.close()


def spec_document() -> dict[str, Any]:
    text = resources.files("replayqa.demo").joinpath("openapi.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.payload = {"error": message, **extra}


def create_app(db_path: str | Path, bugs: set[str] | None = None) -> Flask:
    """The shop on ``db_path``: a SQLite file, or a ``mysql://`` URL (see :mod:`replayqa.demo.db`)."""
    app = Flask("replayqa-demo-shop", static_folder=str(resources.files("replayqa.demo").joinpath("static")))
    app.config["DB_PATH"] = str(db_path)
    add_line = ADD_LINE["mysql" if is_mysql(db_path) else "sqlite"]
    planted = active_bugs() if bugs is None else bugs
    log.info("planted bugs active: %s", ", ".join(sorted(planted)) or "none")

    def db() -> Any:
        if "db" not in g:
            g.db = connect(app.config["DB_PATH"], timeout=10)
        return g.db

    @app.teardown_request
    def finish(exc: BaseException | None) -> None:
        conn = g.pop("db", None)
        if conn is not None:
            if exc is None:
                conn.commit()
            conn.close()

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Any:
        conn = g.get("db")
        if conn is not None:
            conn.rollback()
        return jsonify(exc.payload), exc.status

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ApiError(422, "request body must be a JSON object")
        return data

    def current_user() -> Any:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        row = (
            db()
            .execute("SELECT u.* FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token = ?", (token,))
            .fetchone()
        )
        if row is None:
            raise ApiError(401, "missing or invalid bearer token")
        return row

    def authenticated(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.user = current_user()
            return view(*args, **kwargs)

        return wrapper

    def admin_only(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.user = current_user()
            if not g.user["is_admin"]:
                raise ApiError(403, "admin role required")
            return view(*args, **kwargs)

        return wrapper

    def item_row(item_id: int) -> Any:
        row = db().execute("SELECT * FROM items WHERE id = ? AND deleted = 0", (item_id,)).fetchone()
        if row is None:
            raise ApiError(404, f"no item {item_id}")
        return row

    def open_cart(user_id: int) -> Any:
        conn = db()
        row = conn.execute(
            "SELECT * FROM carts WHERE user_id = ? AND status = 'open' ORDER BY id DESC", (user_id,)
        ).fetchone()
        if row is None:
            cur = conn.execute("INSERT INTO carts (user_id) VALUES (?)", (user_id,))
            row = conn.execute("SELECT * FROM carts WHERE id = ?", (cur.lastrowid,)).fetchone()
        return row

    def cart_json(cart_id: int) -> dict[str, Any]:
        conn = db()
        cart = conn.execute("SELECT * FROM carts WHERE id = ?", (cart_id,)).fetchone()
        lines = conn.execute(
            "SELECT l.item_id, i.name, l.quantity, l.unit_price_cents FROM cart_lines l "
            "JOIN items i ON i.id = l.item_id WHERE l.cart_id = ? ORDER BY l.item_id",
            (cart_id,),
        ).fetchall()
        return {
            "id": cart["id"],
            "status": cart["status"],
            "lines": [
                {**dict(line), "line_total_cents": line["quantity"] * line["unit_price_cents"]}
                for line in lines
            ],
            "total_cents": cart["total_cents"],
        }

    def recompute_total(cart_id: int) -> None:
        db().execute(
            "UPDATE carts SET total_cents = (SELECT coalesce(sum(quantity * unit_price_cents), 0) "
            "FROM cart_lines WHERE cart_id = ?) WHERE id = ?",
            (cart_id, cart_id),
        )

    def order_json(order_id: int) -> dict[str, Any]:
        row = (
            db()
            .execute(
                "SELECT o.*, (SELECT coalesce(sum(amount_cents), 0) FROM payments p "
                "WHERE p.order_id = o.id AND p.status = 'approved') AS charged_cents "
                "FROM orders o WHERE o.id = ?",
                (order_id,),
            )
            .fetchone()
        )
        return {k: row[k] for k in ("id", "cart_id", "status", "total_cents", "charged_cents", "created_at")}

    def quantity(data: dict[str, Any]) -> int:
        value = data.get("quantity", 1)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ApiError(422, "quantity must be a whole number of at least 1")
        return value

    # -- routes --------------------------------------------------------------

    @app.get("/")
    def page() -> Any:
        return app.send_static_file("index.html")

    @app.get("/health")
    def health() -> Any:
        return {"status": "ok"}

    @app.get("/openapi.json")
    def openapi() -> Any:
        return jsonify(spec_document())

    @app.post("/users")
    def register() -> Any:
        data = body()
        email, password = data.get("email"), data.get("password")
        if (
            not isinstance(email, str)
            or "@" not in email
            or not isinstance(password, str)
            or len(password) < 8
        ):
            raise ApiError(422, "email must be an address and password at least 8 characters")
        try:
            cur = db().execute(
                "INSERT INTO users (email, password_hash) VALUES (?, ?)", (email, hash_password(password))
            )
        except INTEGRITY_ERRORS:
            raise ApiError(409, f"{email} is already registered") from None
        return {"id": cur.lastrowid, "email": email}, 201

    @app.post("/auth/login")
    def login() -> Any:
        data = body()
        row = (
            db()
            .execute(
                "SELECT * FROM users WHERE email = ? AND password_hash = ?",
                (data.get("email"), hash_password(str(data.get("password")))),
            )
            .fetchone()
        )
        if row is None:
            raise ApiError(401, "wrong email or password")
        token = secrets.token_urlsafe(24)
        db().execute("INSERT INTO tokens (token, user_id) VALUES (?, ?)", (token, row["id"]))
        return {"token": token, "user_id": row["id"]}

    @app.get("/items")
    def list_items() -> Any:
        rows = db().execute("SELECT id, name, price_cents FROM items WHERE deleted = 0 ORDER BY id")
        return jsonify([dict(r) for r in rows])

    @app.get("/items/<int:item_id>")
    def get_item(item_id: int) -> Any:
        row = item_row(item_id)
        return {"id": row["id"], "name": row["name"], "price_cents": row["price_cents"]}

    @app.post("/items")
    @admin_only
    def create_item() -> Any:
        data = body()
        name, price = data.get("name"), data.get("price_cents")
        if not isinstance(name, str) or not name or not isinstance(price, int) or price < 0:
            raise ApiError(422, "name must be a string and price_cents a non-negative integer")
        cur = db().execute("INSERT INTO items (name, price_cents) VALUES (?, ?)", (name, price))
        return {"id": cur.lastrowid, "name": name, "price_cents": price}, 201

    @app.delete("/items/<int:item_id>")
    @admin_only
    def delete_item(item_id: int) -> Any:
        item_row(item_id)
        conn = db()
        conn.execute("UPDATE items SET deleted = 1 WHERE id = ?", (item_id,))
        if "deleted_item" in planted:
            carts = conn.execute(
                "SELECT id FROM carts WHERE user_id = ? AND status = 'open'", (g.user["id"],)
            )
        else:
            carts = conn.execute(
                "SELECT DISTINCT cart_id AS id FROM cart_lines l JOIN carts c "
                "ON c.id = l.cart_id WHERE l.item_id = ? AND c.status = 'open'",
                (item_id,),
            )
        for cart in carts.fetchall():
            conn.execute("DELETE FROM cart_lines WHERE cart_id = ? AND item_id = ?", (cart["id"], item_id))
            recompute_total(cart["id"])
        log.info("item %s deleted by user %s", item_id, g.user["id"])
        return "", 204

    @app.get("/cart")
    @authenticated
    def get_cart() -> Any:
        return cart_json(open_cart(g.user["id"])["id"])

    @app.post("/cart/items")
    @authenticated
    def add_to_cart() -> Any:
        data = body()
        item = item_row(int(data.get("item_id") or 0))
        count = quantity(data)
        cart = open_cart(g.user["id"])
        conn = db()
        conn.execute(
            add_line,
            (cart["id"], item["id"], count, item["price_cents"]),
        )
        conn.execute(
            "UPDATE carts SET total_cents = total_cents + ? WHERE id = ?",
            (count * item["price_cents"], cart["id"]),
        )
        return cart_json(cart["id"]), 201

    @app.patch("/cart/items/<int:item_id>")
    @authenticated
    def update_quantity(item_id: int) -> Any:
        data = body()
        if "quantity" not in data:
            raise ApiError(422, "quantity is required")
        count = quantity(data)
        cart = open_cart(g.user["id"])
        conn = db()
        line = conn.execute(
            "SELECT * FROM cart_lines WHERE cart_id = ? AND item_id = ?", (cart["id"], item_id)
        ).fetchone()
        if line is None:
            raise ApiError(404, f"item {item_id} is not in the cart")
        conn.execute(
            "UPDATE cart_lines SET quantity = ? WHERE cart_id = ? AND item_id = ?",
            (count, cart["id"], item_id),
        )
        if "quantity_total" in planted:
            conn.execute(
                "UPDATE carts SET total_cents = total_cents + ? WHERE id = ?",
                (count * line["unit_price_cents"], cart["id"]),
            )
        else:
            recompute_total(cart["id"])
        return cart_json(cart["id"])

    @app.delete("/cart/items/<int:item_id>")
    @authenticated
    def remove_from_cart(item_id: int) -> Any:
        cart = open_cart(g.user["id"])
        db().execute("DELETE FROM cart_lines WHERE cart_id = ? AND item_id = ?", (cart["id"], item_id))
        recompute_total(cart["id"])
        return cart_json(cart["id"])

    @app.post("/carts/<int:cart_id>/checkout")
    @authenticated
    def checkout(cart_id: int) -> Any:
        conn = db()
        card = str(body().get("card_number", ""))
        if not (card.isdigit() and len(card) == 16):
            raise ApiError(422, "card_number must be 16 digits")
        cart = conn.execute(
            "SELECT * FROM carts WHERE id = ? AND user_id = ?", (cart_id, g.user["id"])
        ).fetchone()
        if cart is None:
            raise ApiError(404, f"no cart {cart_id}")
        if cart["status"] != "open" and "double_charge" not in planted:
            raise ApiError(409, f"cart {cart_id} is already checked out")
        if not conn.execute("SELECT 1 FROM cart_lines WHERE cart_id = ?", (cart_id,)).fetchone():
            raise ApiError(409, f"cart {cart_id} is empty")
        total = cart["total_cents"]
        cursor = conn.execute(
            "INSERT INTO orders (user_id, cart_id, total_cents, status) VALUES (?, ?, ?, 'pending')",
            (g.user["id"], cart_id, total),
        )
        order_id = int(cursor.lastrowid or 0)
        approved = not card.endswith(DECLINED_SUFFIX)
        conn.execute(
            "INSERT INTO payments (order_id, amount_cents, status, card_last4) VALUES (?, ?, ?, ?)",
            (order_id, total, "approved" if approved else "declined", card[-4:]),
        )
        if approved:
            conn.execute("UPDATE orders SET status = 'paid' WHERE id = ?", (order_id,))
            conn.execute("UPDATE carts SET status = 'checked_out' WHERE id = ?", (cart_id,))
            log.info("order %s paid: %s cents", order_id, total)
            return order_json(order_id), 201
        conn.execute("UPDATE orders SET status = 'payment_failed' WHERE id = ?", (order_id,))
        if "declined_cart" in planted:
            conn.execute("DELETE FROM cart_lines WHERE cart_id = ?", (cart_id,))
            conn.execute("UPDATE carts SET total_cents = 0 WHERE id = ?", (cart_id,))
        log.warning("payment declined for order %s (card ending %s)", order_id, card[-4:])
        conn.commit()  # the failed order and payment are kept, as a real shop would
        raise ApiError(402, "payment declined", order_id=order_id)

    @app.get("/orders/<int:order_id>")
    @authenticated
    def get_order(order_id: int) -> Any:
        row = (
            db()
            .execute("SELECT id FROM orders WHERE id = ? AND user_id = ?", (order_id, g.user["id"]))
            .fetchone()
        )
        if row is None:
            raise ApiError(404, f"no order {order_id}")
        return order_json(order_id)

    @app.get("/orders")
    @authenticated
    def list_orders() -> Any:
        rows = db().execute("SELECT id FROM orders WHERE user_id = ? ORDER BY id", (g.user["id"],))
        return jsonify([order_json(r["id"]) for r in rows.fetchall()])

    return app
