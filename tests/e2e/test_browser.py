"""A real browser (Debian's headless Chromium) buying in the demo shop through the recording proxy."""

from __future__ import annotations

import json
import shutil

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = [
    "--no-sandbox",  # the tests may run as root
    "--proxy-bypass-list=<-loopback>",  # proxy loopback traffic too
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]


@pytest.fixture
def browser(tmp_path):
    with sync_playwright() as playwright:
        yield playwright, tmp_path


def test_a_browser_session_is_recorded_through_the_forward_proxy(cli, demo_shop, recording_proxy, browser):
    playwright, _ = browser
    proxy = recording_proxy("--mode", "regular", "--out", "browser.db", "--db", demo_shop.db_url)
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, args=BROWSER_ARGS, proxy={"server": proxy.url}
    )
    try:
        page = chromium.new_page()
        page.goto(f"{demo_shop.base_url}/")
        page.fill("#email", "admin@shop.test")
        page.fill("#password", "admin-pass")
        page.click("#login")
        page.wait_for_selector("#add-2")
        page.click("#add-2")
        page.wait_for_function("document.getElementById('total').textContent === '25.00'")
        page.click("#pay")
        page.wait_for_function("document.getElementById('status').textContent.startsWith('Order')")
        assert page.text_content("#status") == "Order 1 paid: 25.00"
        # the cart is read again after paying: wait for its answer before closing the browser
        page.wait_for_function("document.getElementById('total').textContent === '0.00'")
    finally:
        chromium.close()
    code, _, err = proxy.stop()
    assert code == 0, err

    shown = json.loads(cli("show", "browser.db", "--json").stdout)
    (session,) = shown["sessions"]
    calls = [
        (e["method"], e["url"].removeprefix(demo_shop.base_url), e["status"]) for e in session["exchanges"]
    ]
    assert calls[:2] == [("GET", "/", 200), ("POST", "/auth/login", 200)]
    # The page loads items and cart at once (Promise.all): either may arrive first.
    assert sorted(calls[2:4]) == [("GET", "/cart", 200), ("GET", "/items", 200)]
    assert calls[4:] == [
        ("POST", "/cart/items", 201),
        ("POST", "/carts/1/checkout", 201),
        ("GET", "/cart", 200),
    ]
    assert [c["kind"] for c in shown["checkpoints"]] == ["start", "end"]
    assert shown["checkpoints"][1]["tables"]["orders"] == 1
