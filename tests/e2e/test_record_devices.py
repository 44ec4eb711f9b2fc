"""Recording from devices on the LAN: a phone in a network namespace, its browser, and strangers.

The "phone" is a network namespace of the test's own, joined to this machine
by a veth pair; it uses the proxy on this machine's end of the pair, as a
phone on the tester's Wi-Fi uses the laptop's address. A second namespace,
outside ``--allow-client``, is anyone else on that network.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port
from tests.support.netns import Device, NamespacesUnavailable, add_device, remove

#: What the phone does, as a script run inside its namespace: marks two sessions on the
#: control page, uses the app inside each, and reports what it saw.
PHONE = textwrap.dedent(
    """
    import json, re, sys
    import httpx

    proxy, app = sys.argv[1], sys.argv[2]
    seen = {}
    with httpx.Client(proxy=proxy, timeout=10) as phone:
        page = phone.get("http://replayqa.test/").text
        token = re.search(r'name="token" value="([^"]+)"', page).group(1)

        def mark(action, **form):
            answer = phone.post(f"http://replayqa.test/{action}", data={"token": token, **form})
            assert answer.status_code == 303, (answer.status_code, answer.text)

        mark("start", name="browse-on-phone")
        phone.get(app + "/items")
        phone.get(app + "/items/2")
        seen["live"] = phone.get("http://replayqa.test/status").json()
        mark("end")
        mark("start", name="second-look")
        phone.get(app + "/items/1")
        mark("end")
        forged = {"name": "x", "token": "guess"}
        seen["forged"] = phone.post("http://replayqa.test/start", data=forged).status_code
    print(json.dumps(seen))
    """
)

STRANGER = textwrap.dedent(
    """
    import sys
    import httpx

    try:
        answer = httpx.get(sys.argv[2] + "/items/3?from=stranger", proxy=sys.argv[1], timeout=10)
        print("answered", answer.status_code)
    except httpx.HTTPError as exc:
        print("refused", type(exc).__name__)
    """
)


@pytest.fixture
def devices():
    made: list[Device] = []

    def make() -> Device:
        try:
            device = add_device(len(made))
        except NamespacesUnavailable as exc:
            pytest.skip(
                f"no network namespaces on this machine ({exc}); the device test needs root and iproute2"
            )
        made.append(device)
        return device

    yield make
    for device in made:
        remove(device)


def start_proxy(cwd: Path, host: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "replayqa",
            "record",
            "--mode",
            "regular",
            "--listen",
            f"{host}:{port}",
            *args,
        ],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "80"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the proxy exited: {process.communicate()[1]}")
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return process, f"http://{host}:{port}"
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.1)


def stop(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err


def test_a_phone_on_the_lan_records_two_marked_sessions_and_a_stranger_is_refused(
    cli, demo_shop, devices, tmp_path
):
    phone, stranger = devices(), devices()
    process, proxy = start_proxy(
        tmp_path, phone.host_address, "--out", "phone.db", "--allow-client", f"{phone.address}/32"
    )
    try:
        used = phone.run(sys.executable, "-c", PHONE, proxy, demo_shop.base_url)
        refused = stranger.run(sys.executable, "-c", STRANGER, proxy, demo_shop.base_url)
    finally:
        code, _, err = stop(process)
    assert used.returncode == 0, used.stderr
    seen = json.loads(used.stdout)
    assert seen["live"]["session"] == "browse-on-phone"
    assert seen["live"]["session_exchanges"] == 2, "the page counts the session's exchanges as they happen"
    assert seen["forged"] == 403, "a form without the page's token changes nothing"
    assert refused.stdout.startswith("refused"), refused.stdout + refused.stderr
    assert code == 0, err
    assert f"the proxy on {phone.host_address}:" in err and f"only clients in {phone.address}/32" in err
    assert f"refused client {stranger.address}: not in --allow-client" in err

    shown = json.loads(cli("show", "phone.db", "--json").stdout)
    sessions = [(s["name"], s["source"], s["client"], s["end_reason"]) for s in shown["sessions"]]
    assert sessions == [
        ("browse-on-phone", "marker", phone.address, "marker"),
        ("second-look", "marker", phone.address, "marker"),
    ]
    urls = [e["url"].removeprefix(demo_shop.base_url) for s in shown["sessions"] for e in s["exchanges"]]
    assert urls == ["/items", "/items/2", "/items/1"], "the control page's own traffic is never recorded"
    assert "stranger" not in json.dumps(shown)

    listed = cli("show", "phone.db")
    assert listed.returncode == 0
    names = [line.split()[0] for line in listed.stdout.splitlines()[1:] if line and not line.startswith(" ")]
    assert names == ["browse-on-phone", "second-look"]


def test_without_allow_client_a_lan_proxy_warns_that_it_is_open_and_serves_the_lan(
    cli, demo_shop, devices, tmp_path
):
    phone = devices()
    process, proxy = start_proxy(tmp_path, phone.host_address, "--out", "open.db")
    try:
        used = phone.run(sys.executable, "-c", STRANGER, proxy, demo_shop.base_url)
    finally:
        code, _, err = stop(process)
    assert code == 0, err
    assert used.stdout.strip() == "answered 200", used.stderr
    (warning,) = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warning.startswith(f"warning: open proxy on {phone.host_address}:")
    assert "--allow-client CIDR" in warning


def test_a_loopback_proxy_prints_no_exposure_warning(demo_shop, recording_proxy):
    proxy = recording_proxy("--mode", "regular", "--out", "quiet.db")
    code, out, err = proxy.stop()
    assert code == 0, err
    assert "warning" not in err and "control page: http://replayqa.test/" in out


def test_the_control_page_on_a_phone_sized_browser(cli, demo_shop, recording_proxy, tmp_path):
    """Headless Chromium at an iPhone's viewport, through the proxy, as a tester's phone would use it."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.test_browser import BROWSER_ARGS, CHROMIUM

    proxy = recording_proxy("--mode", "regular", "--out", "phone.db")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=BROWSER_ARGS, proxy={"server": proxy.url}
        )
        try:
            phone = chromium.new_context(
                viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, accept_downloads=True
            )
            control = phone.new_page()
            control.goto("http://replayqa.test/")
            assert control.text_content("#session-name") == "none"
            assert control.is_disabled("#end button"), "nothing to end yet"
            assert control.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
            start = control.locator("#start button").bounding_box()
            assert start is not None and start["width"] >= 300 and start["height"] >= 40, "thumb-sized"

            control.fill("#name", "checkout-on-phone")
            control.click("#start button")
            control.wait_for_function(
                "document.getElementById('session-name').textContent === 'checkout-on-phone'"
            )

            shop = phone.new_page()  # the app in another tab; the control page counts live
            shop.goto(f"{demo_shop.base_url}/")
            shop.wait_for_selector("#login")
            shop.goto(f"{demo_shop.base_url}/items")
            control.bring_to_front()
            control.wait_for_function("Number(document.getElementById('exchange-count').textContent) >= 2")

            with control.expect_download() as download:
                control.click("#ca-pem")
            certificate = Path(download.value.path()).read_bytes()
            control.click("#end button")
            control.wait_for_function("document.getElementById('session-name').textContent === 'none'")
        finally:
            chromium.close()
    code, _, err = proxy.stop()
    assert code == 0, err
    assert certificate == (Path.home() / ".mitmproxy" / "mitmproxy-ca-cert.pem").read_bytes()

    shown = json.loads(cli("show", "phone.db", "--json").stdout)
    (session,) = [s for s in shown["sessions"] if s["name"] == "checkout-on-phone"]
    assert session["end_reason"] == "marker"
    assert [e["url"].removeprefix(demo_shop.base_url) for e in session["exchanges"]] == ["/", "/items"]
    assert "replayqa.test" not in json.dumps(shown), "the control page's traffic is never recorded"


def test_the_control_page_over_https_and_on_a_reverse_proxy(cli, demo_shop, recording_proxy):
    import ssl

    import httpx

    forward = recording_proxy("--mode", "regular", "--out", "forward.db")
    trust = ssl.create_default_context(cafile=Path.home() / ".mitmproxy" / "mitmproxy-ca-cert.pem")
    with httpx.Client(proxy=forward.url, verify=trust, timeout=20) as client:
        status = client.get("https://replayqa.test/status")
    forward.stop()
    assert status.json()["session"] is None, "a made-up host: the proxy answers the tunnel itself"

    reverse = recording_proxy("--upstream", demo_shop.base_url, "--out", "reverse.db")
    with httpx.Client(base_url=reverse.url, timeout=20) as client:
        page = client.get("/__replayqa/")
        token = page.text.split('name="token" value="')[1].split('"')[0]
        started = client.post("/__replayqa/start", data={"token": token, "name": "at-the-desk"})
        client.get("/items")
    code, _, err = reverse.stop()
    assert code == 0, err
    assert 'action="/__replayqa/start"' in page.text
    assert (started.status_code, started.headers["location"]) == (303, "/__replayqa/")
    shown = json.loads(cli("show", "reverse.db", "--json").stdout)
    assert [
        (s["name"], [e["url"].removeprefix(demo_shop.base_url) for e in s["exchanges"]])
        for s in shown["sessions"]
    ] == [("at-the-desk", ["/items"])]
