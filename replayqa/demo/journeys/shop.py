"""Python journeys for the demo shop: the same model as the YAML, written as code.

An action is ``action(client, context) -> response``; a failed ``assert``
fails the step with its message.
"""

from replayqa import Branch, Checkpoint, Invariant, Journey, Path, Severity, Step
from replayqa.demo.app import ADMIN_EMAIL, ADMIN_PASSWORD

SHOPPER_PASSWORD = "shopper-pass-2"


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def register_shopper(client, ctx):
    ctx["email"] = f"shopper-{ctx['run_id']}@shop.test"
    return client.post("/users", json={"email": ctx["email"], "password": SHOPPER_PASSWORD})


def login_shopper(client, ctx):
    response = client.post("/auth/login", json={"email": ctx["email"], "password": SHOPPER_PASSWORD})
    ctx["token"] = response.json()["token"]
    return response


def login_admin(client, ctx):
    response = client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    ctx["admin_token"] = response.json()["token"]
    return response


# --- quantity update --------------------------------------------------------


def add_sticker(client, ctx):
    response = client.post("/cart/items", json={"item_id": 3, "quantity": 1}, headers=auth(ctx["token"]))
    ctx["cart_id"] = response.json()["id"]
    return response


def set_three_stickers(client, ctx):
    return client.patch("/cart/items/3", json={"quantity": 3}, headers=auth(ctx["token"]))


def checkout(client, ctx):
    response = client.post(
        f"/carts/{ctx['cart_id']}/checkout",
        json={"card_number": "4242424242424242"},
        headers=auth(ctx["token"]),
    )
    ctx["order_id"] = response.json()["id"]
    return response


def order_total_matches_lines(client, ctx):
    response = client.get(f"/orders/{ctx['order_id']}", headers=auth(ctx["token"]))
    total = response.json()["total_cents"]
    assert total == 3 * 300, f"order total is {total} cents, but 3 stickers at 300 cents make 900"
    return response


quantity_update = Journey(
    "quantity_update",
    description="Changing a line's quantity must change the order total accordingly.",
    tags=("demo", "cart"),
    steps=[
        Step("register", register_shopper),
        Step("login", login_shopper),
        Step("add_sticker", add_sticker),
        Step("set_three_stickers", set_three_stickers),
        Step("checkout", checkout),
        Step("order_total_matches_lines", order_total_matches_lines),
    ],
)


# --- item removal -----------------------------------------------------------


def create_poster(client, ctx):
    response = client.post(
        "/items", json={"name": "Limited poster", "price_cents": 4000}, headers=auth(ctx["admin_token"])
    )
    ctx["poster_id"] = response.json()["id"]
    return response


def shopper_adds_poster(client, ctx):
    response = client.post("/cart/items", json={"item_id": ctx["poster_id"]}, headers=auth(ctx["token"]))
    ctx["cart_id"] = response.json()["id"]
    return response


def admin_deletes_poster(client, ctx):
    return client.delete(f"/items/{ctx['poster_id']}", headers=auth(ctx["admin_token"]))


def cart_drops_deleted_item(client, ctx):
    response = client.get("/cart", headers=auth(ctx["token"]))
    in_cart = [line["item_id"] for line in response.json()["lines"]]
    assert ctx["poster_id"] not in in_cart, (
        f"deleted item {ctx['poster_id']} is still in the shopper's cart (lines: {in_cart})"
    )
    return response


def deleted_item_is_gone(client, ctx):
    return client.get(f"/items/{ctx['poster_id']}")


item_removal = Journey(
    "item_removal",
    description="An item in a shopper's cart is deleted by an admin, or bought.",
    tags=("demo", "catalog"),
    steps=[
        Step("admin_login", login_admin),
        Step("create_poster", create_poster),
        Step("register", register_shopper),
        Step("login", login_shopper),
        Step("shopper_adds_poster", shopper_adds_poster),
        Checkpoint("poster_in_cart"),
        Branch(
            "poster_in_cart",
            [
                Path(
                    "admin_deletes_item",
                    [
                        Step("delete_poster", admin_deletes_poster),
                        Step("deleted_item_is_gone", deleted_item_is_gone, expect_failure=True),
                        Step("cart_drops_deleted_item", cart_drops_deleted_item),
                    ],
                ),
                Path(
                    "shopper_buys_item",
                    [
                        Step("checkout", checkout),
                    ],
                ),
            ],
        ),
    ],
)


# --- invariants, checked after every step ------------------------------------


def never_charged_beyond_total(client, ctx, db):
    rows = db.query(
        "SELECT o.id, o.total_cents, sum(p.amount_cents) AS charged FROM orders o "
        "JOIN payments p ON p.order_id = o.id AND p.status = 'approved' "
        "GROUP BY o.id HAVING sum(p.amount_cents) > o.total_cents"
    )
    if rows:
        return "; ".join(f"order {r['id']} charged {r['charged']} of {r['total_cents']}" for r in rows)
    return True


def one_paid_order_per_cart(client, ctx, db):
    rows = db.query(
        "SELECT cart_id, count(*) AS n FROM orders WHERE status = 'paid' GROUP BY cart_id HAVING n > 1"
    )
    return "; ".join(f"cart {r['cart_id']} has {r['n']} paid orders" for r in rows) or True


invariants = [
    Invariant("never charged beyond the order total", never_charged_beyond_total, Severity.CRITICAL),
    Invariant("one paid order per cart", one_paid_order_per_cart, Severity.CRITICAL),
]
