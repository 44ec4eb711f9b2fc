"""The control page a recording proxy serves itself, for testers on phones.

A tester holding a phone has no ``replayqa session start`` at hand, so the
proxy answers a page of its own, in the spirit of mitmproxy's mitm.it:

- forward proxy: ``http://replayqa.test/`` through the proxy (``.test`` is a
  reserved name that no real server will ever have);
- reverse proxy: ``/__replayqa/`` on the proxy's own address.

From it the tester starts and ends a named session, watches the exchange
count, and downloads the CA certificate with the steps for each platform.
Its traffic is answered here and never recorded.

The page is reachable by every page the phone browses through the proxy, so
what changes state is a POST carrying a token that only the page itself
holds (a cross-site page can send a form but cannot read the token), and
the page refuses to be framed (no clickjacking of its buttons).
"""

from __future__ import annotations

import hmac
import html
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, urlencode

from replayqa.record.recorder import Recorder
from replayqa.record.sessions import MARKER_PREFIX
from replayqa.record.traffic import RequestInfo

CONTROL_HOST = "replayqa.test"
CONTROL_PREFIX = "/__replayqa"
MAX_SESSION_NAME = 100

#: (action, name, client address) -> the marker's answer, exactly as ``replayqa session start|end`` gets it.
Mark = Callable[[str, str, str], tuple[int, dict[str, Any]]]


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Status:
    """What the page shows: this client's marked session, and the whole recording's counts."""

    session: str | None
    session_exchanges: int
    exchanges: int
    sessions: int


def status_of(recorder: Recorder, client: str) -> Status:
    """The open session ``client`` marked, if any, and the recording's counts."""
    mine = next(
        (
            s
            for s in reversed(recorder.tracker.sessions)
            if s.open and s.source == "marker" and s.client == client
        ),
        None,
    )
    stats = recorder.stats()
    return Status(
        mine.name if mine else None, mine.exchange_count if mine else 0, stats["exchanges"], stats["sessions"]
    )


def marker_request(request: RequestInfo, action: str, name: str) -> RequestInfo:
    """A button press as the marker request ``replayqa session start|end`` sends, from the same client."""
    return replace(request, path=MARKER_PREFIX + action, query=urlencode({"name": name}) if name else "")


def control_path(host: str, path: str) -> tuple[str, str] | None:
    """(the page's own path, where the page lives) for a request meant for it, else None."""
    path = path.partition("?")[0]
    if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
        rest = path[len(CONTROL_PREFIX) :] or "/"
        if rest.startswith("/session/"):
            return None  # markers keep their own path
        return rest, CONTROL_PREFIX + "/"
    if host.lower().rstrip(".") == CONTROL_HOST:
        return path or "/", "/"
    return None


class ControlPage:
    """Routes the page's requests; knows nothing of mitmproxy.

    ``status(client)`` and ``mark(action, name, client)`` come from the recorder;
    ``ca_pem()`` from mitmproxy's certificate store.
    """

    def __init__(
        self,
        status: Callable[[str], Status],
        mark: Mark,
        ca_pem: Callable[[], bytes],
        token: str | None = None,
    ) -> None:
        self.status = status
        self.mark = mark
        self.ca_pem = ca_pem
        self.token = token or secrets.token_urlsafe(24)

    def answer(self, method: str, path: str, body: bytes, base: str, client: str) -> Answer:
        """``base``: where the page lives as the browser sees it ("/" or "/__replayqa/").

        ``client``: the address the request came from; sessions are marked per address.
        """
        if path in ("/start", "/end"):
            if method != "POST":
                return _text(405, "sessions change only by the page's buttons (POST)")
            return self._post(path.strip("/"), body, base, client)
        if method not in ("GET", "HEAD"):
            return _text(405, "use GET for the page, POST from its buttons")
        if path == "/":
            return self._page(base, client)
        if path == "/status":
            return _json(self._status_json(client))
        if path in ("/ca.pem", "/ca.cer"):
            return self._certificate(path == "/ca.pem")
        return _text(404, f"nothing here: the control page is at {base}")

    # -- pages ------------------------------------------------------------------------

    def _post(self, action: str, body: bytes, base: str, client: str) -> Answer:
        form = parse_qs(body.decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0]
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            refused = "refused: this form did not come from the control page; reload it"
            return self._page(base, client, 403, refused)
        name = (form.get("name") or [""])[0].strip()
        if len(name) > MAX_SESSION_NAME:
            return self._page(base, client, 400, f"a session name has at most {MAX_SESSION_NAME} characters")
        code, answer = self.mark(action, name, client)
        if code != 200:
            return self._page(base, client, code, str(answer.get("error", "the recorder refused")))
        return Answer(303, b"", {"Location": base, "Cache-Control": "no-store"})

    def _status_json(self, client: str) -> dict[str, Any]:
        status = self.status(client)
        return {
            "session": status.session,
            "session_exchanges": status.session_exchanges,
            "exchanges": status.exchanges,
            "sessions": status.sessions,
        }

    def _certificate(self, pem: bool) -> Answer:
        data = self.ca_pem()
        if not pem:
            from cryptography import x509
            from cryptography.hazmat.primitives.serialization import Encoding

            data = x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER)
        name = "replayqa-proxy-ca." + ("pem" if pem else "cer")
        return Answer(
            200,
            data,
            {
                "Content-Type": "application/x-x509-ca-cert",
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )

    def _page(self, base: str, client: str, code: int = 200, message: str = "") -> Answer:
        status = self.status(client)
        current = html.escape(status.session) if status.session else "none"
        count = status.session_exchanges if status.session else 0
        notice = f'<p id="message" class="message">{html.escape(message)}</p>' if message else ""
        page = _PAGE.format(
            base=html.escape(base),
            token=html.escape(self.token),
            current=current,
            count=count,
            exchanges=status.exchanges,
            sessions=status.sessions,
            notice=notice,
            end_disabled="" if status.session else " disabled",
        )
        return Answer(code, page.encode(), {"Content-Type": "text/html; charset=utf-8", **_PAGE_HEADERS})


_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
}


def _text(code: int, message: str) -> Answer:
    return Answer(code, message.encode() + b"\n", {"Content-Type": "text/plain; charset=utf-8"})


def _json(payload: dict[str, Any]) -> Answer:
    return Answer(
        200, json.dumps(payload).encode(), {"Content-Type": "application/json", "Cache-Control": "no-store"}
    )


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>replayqa recording</title>
<style>
body {{ font: 16px/1.45 system-ui, sans-serif; margin: 0; padding: 1rem; max-width: 40rem; }}
h1 {{ font-size: 1.3rem; margin: 0 0 .5rem; }} h2 {{ font-size: 1.1rem; margin: 1.5rem 0 .4rem; }}
.box {{ border: 1px solid #bbb; border-radius: .5rem; padding: .8rem; }}
input, button {{ font: inherit; padding: .7rem; border-radius: .4rem; box-sizing: border-box; }}
input {{ width: 100%; border: 1px solid #888; margin: .4rem 0; }}
button {{ width: 100%; border: 0; background: #1f5fbf; color: #fff; margin: .3rem 0; }}
button[disabled] {{ background: #999; }} #end button {{ background: #a33; }}
.message {{ background: #fde8e8; padding: .6rem; border-radius: .4rem; }}
details {{ margin: .4rem 0; }} summary {{ font-weight: 600; padding: .3rem 0; }}
a.cert {{ display: block; padding: .6rem 0; }}
</style></head><body>
<h1>replayqa recording</h1>
{notice}
<div class="box">
<div>Your session: <strong id="session-name">{current}</strong></div>
<div>Its exchanges: <strong id="exchange-count">{count}</strong></div>
<div>Whole recording: <span id="total-exchanges">{exchanges}</span> exchanges,
<span id="total-sessions">{sessions}</span> sessions</div>
</div>
<form id="start" method="post" action="{base}start">
<input type="hidden" name="token" value="{token}">
<label for="name">Start a session named</label>
<input id="name" name="name" required maxlength="100" autocomplete="off" placeholder="checkout">
<button type="submit">Start session</button>
</form>
<form id="end" method="post" action="{base}end">
<input type="hidden" name="token" value="{token}">
<button type="submit"{end_disabled}>End session</button>
</form>
<p>Everything this device sends between Start and End belongs to that session.
This page itself is never recorded.</p>
<h2>HTTPS: trust the proxy's certificate</h2>
<a class="cert" id="ca-pem" href="{base}ca.pem">Download the CA certificate (PEM: iOS, Android, Firefox)</a>
<a class="cert" id="ca-cer" href="{base}ca.cer">Download it as DER .cer (Windows, macOS, Android)</a>
<details><summary>Android</summary><ol>
<li>Download the PEM certificate above.</li>
<li>Settings &rarr; Security &rarr; Encryption &amp; credentials &rarr; Install a certificate
&rarr; CA certificate; pick the file.</li>
<li>Android 7 and later: apps trust user certificates only if their
network_security_config allows it (debug builds can); Chrome does.</li>
</ol></details>
<details><summary>iOS</summary><ol>
<li>Open this page in Safari and download the PEM certificate; allow the profile.</li>
<li>Settings &rarr; General &rarr; VPN &amp; Device Management: install the profile.</li>
<li>Settings &rarr; General &rarr; About &rarr; Certificate Trust Settings:
turn on full trust for it. Without this step HTTPS fails.</li>
</ol></details>
<details><summary>Desktop browsers</summary><ol>
<li>Chrome, Edge, Safari: add the certificate to the system's trusted roots.</li>
<li>Firefox: Settings &rarr; Privacy &amp; Security &rarr; Certificates &rarr; View
&rarr; Authorities &rarr; Import; trust it for websites.</li>
</ol></details>
<p>Apps that pin their certificates cannot be recorded this way.</p>
<script>
async function refresh() {{
  try {{
    const s = await (await fetch("{base}status", {{cache: "no-store"}})).json();
    document.getElementById("session-name").textContent = s.session || "none";
    document.getElementById("exchange-count").textContent = s.session ? s.session_exchanges : 0;
    document.getElementById("total-exchanges").textContent = s.exchanges;
    document.getElementById("total-sessions").textContent = s.sessions;
    document.querySelector("#end button").disabled = !s.session;
  }} catch (e) {{}}
}}
setInterval(refresh, 1000);
</script>
</body></html>
"""
