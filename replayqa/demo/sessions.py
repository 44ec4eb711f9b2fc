"""A tester's sessions in the demo shop, driven over HTTP through a recording proxy.

Four named sessions, one along each planted bug's path. Recorded against the
fixed shop, they are the demo recording (``recordings/demo-shop.db``), which
replays cleanly against the fixed shop and shows each bug when it is on.

    python -m replayqa.demo.sessions http://127.0.0.1:8888
"""

from __future__ import annotations

import sys

import httpx

from replayqa.demo.app import ADMIN_EMAIL, ADMIN_PASSWORD
from replayqa.record.markers import send_marker

#: Every demo account uses one password, so a replay needs one --secret password=...
PASSWORD = ADMIN_PASSWORD
CARD_OK, CARD_DECLINED = "4242424242424242", "4000000000000002"


def _shopper(client: httpx.Client, email: str) -> dict[str, str]:
    client.post("/users", json={"email": email, "password": PASSWORD})
    token = client.post("/auth/login", json={"email": email, "password": PASSWORD}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def declined_payment(client: httpx.Client) -> None:
    auth = _shopper(client, "dana@shop.test")
    cart = client.post("/cart/items", json={"item_id": 1, "quantity": 2}, headers=auth).json()
    client.post(f"/carts/{cart['id']}/checkout", json={"card_number": CARD_DECLINED}, headers=auth)
    client.get("/cart", headers=auth)


def double_submit(client: httpx.Client) -> None:
    auth = _shopper(client, "eli@shop.test")
    cart = client.post("/cart/items", json={"item_id": 2}, headers=auth).json()
    order = client.post(f"/carts/{cart['id']}/checkout", json={"card_number": CARD_OK}, headers=auth).json()
    client.post(f"/carts/{cart['id']}/checkout", json={"card_number": CARD_OK}, headers=auth)
    client.get(f"/orders/{order['id']}", headers=auth)


def quantity_update(client: httpx.Client) -> None:
    auth = _shopper(client, "fay@shop.test")
    cart = client.post("/cart/items", json={"item_id": 3, "quantity": 1}, headers=auth).json()
    client.patch("/cart/items/3", json={"quantity": 3}, headers=auth)
    order = client.post(f"/carts/{cart['id']}/checkout", json={"card_number": CARD_OK}, headers=auth).json()
    client.get(f"/orders/{order['id']}", headers=auth)


def item_removal(client: httpx.Client) -> None:
    admin_token = client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": PASSWORD}).json()[
        "token"
    ]
    admin = {"Authorization": f"Bearer {admin_token}"}
    poster = client.post("/items", json={"name": "Limited poster", "price_cents": 4000}, headers=admin).json()
    auth = _shopper(client, "gus@shop.test")
    client.post("/cart/items", json={"item_id": poster["id"]}, headers=auth)
    client.delete(f"/items/{poster['id']}", headers=admin)
    client.get("/cart", headers=auth)


SESSIONS = {
    "declined-payment": declined_payment,
    "double-submit": double_submit,
    "quantity-update": quantity_update,
    "item-removal": item_removal,
}


def run_sessions(proxy_url: str) -> None:
    """Each session between markers, one after another, through the proxy."""
    with httpx.Client(base_url=proxy_url, timeout=30) as client:
        for name, session in SESSIONS.items():
            send_marker(proxy_url, "start", name)
            session(client)
            send_marker(proxy_url, "end")


if __name__ == "__main__":
    run_sessions(sys.argv[1])
