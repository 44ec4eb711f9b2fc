"""The control page: routes, the CSRF token on its buttons, the certificate, what it shows."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from mitmproxy import certs

from replayqa.record.control import ControlPage, control_path, marker_request, status_of
from replayqa.record.recorder import Recorder, RecorderSettings
from replayqa.record.traffic import RequestInfo


@pytest.fixture(scope="module")
def ca_pem(tmp_path_factory) -> bytes:
    store = certs.CertStore.from_store(tmp_path_factory.mktemp("ca"), "mitmproxy", 2048)
    return store.default_ca.to_pem()


def marker_source(client: str) -> RequestInfo:
    """A request from ``client`` to the page, as the addon turns a flow into one."""
    return RequestInfo(
        "flow", f"{client}:50000", "POST", "http", "replayqa.test", 80, "/start", "", "HTTP/1.1", []
    )


@pytest.fixture
def recorder(tmp_path):
    made = Recorder(RecorderSettings(out=tmp_path / "rec.db"))
    yield made
    made.close()


@pytest.fixture
def page(recorder, ca_pem):
    return ControlPage(
        lambda client: status_of(recorder, client),
        lambda action, name, client: recorder.marker_response(
            marker_request(marker_source(client), action, name)
        ),
        lambda: ca_pem,
        token="secret-token",
    )


def traffic(recorder: Recorder, client: str, count: int) -> None:
    for number in range(count):
        request = RequestInfo(
            f"f{client}{number}", f"{client}:1", "GET", "http", "app", 80, "/items", "", "1.1", []
        )
        recorder.on_request(request)


def form(**fields: str) -> bytes:
    return urlencode(fields).encode()


@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        ("replayqa.test", "/", ("/", "/")),
        ("REPLAYQA.TEST.", "/status?x=1", ("/status", "/")),
        ("app.example", "/__replayqa/", ("/", "/__replayqa/")),
        ("app.example", "/__replayqa", ("/", "/__replayqa/")),
        ("app.example", "/__replayqa/ca.pem", ("/ca.pem", "/__replayqa/")),
        ("app.example", "/__replayqa/session/start", None),
        ("app.example", "/__replayqa-not", None),
        ("app.example", "/", None),
    ],
)
def test_which_requests_are_the_pages(host, path, expected):
    assert control_path(host, path) == expected


def test_the_page_shows_this_clients_session_and_carries_the_token(page, recorder):
    page.answer("POST", "/start", form(token="secret-token", name="<checkout>"), "/", "10.0.0.2")
    traffic(recorder, "10.0.0.2", 3)
    answer = page.answer("GET", "/", b"", "/", "10.0.0.2")
    html = answer.body.decode()
    assert answer.status == 200 and answer.headers["X-Frame-Options"] == "DENY"
    assert '<strong id="session-name">&lt;checkout&gt;</strong>' in html, "names are escaped"
    assert '<strong id="exchange-count">3</strong>' in html
    assert html.count('name="token" value="secret-token"') == 2
    other = page.answer("GET", "/", b"", "/", "10.0.0.3").body.decode()
    assert '<strong id="session-name">none</strong>' in other and "disabled>End session" in other


def test_buttons_mark_sessions_like_the_session_command(page, recorder):
    start = form(token="secret-token", name=" checkout ")
    started = page.answer("POST", "/start", start, "/__replayqa/", "c")
    assert (started.status, started.headers["Location"]) == (303, "/__replayqa/")
    traffic(recorder, "c", 2)
    traffic(recorder, "d", 1)
    ended = page.answer("POST", "/end", form(token="secret-token"), "/", "c")
    assert ended.status == 303
    (marked,) = [s for s in recorder.tracker.sessions if s.source == "marker"]
    assert (marked.name, marked.client, marked.exchange_count) == ("checkout", "c", 2)
    assert marked.end_reason == "marker"


def test_a_form_without_the_token_changes_nothing(page, recorder):
    for body in (form(name="x"), form(name="x", token="guess"), b"\xff\xfe"):
        answer = page.answer("POST", "/start", body, "/", "c")
        assert answer.status == 403 and b"did not come from the control page" in answer.body
    assert page.answer("GET", "/start", b"", "/", "c").status == 405, "no state changes by GET"
    assert recorder.tracker.sessions == []


def test_refusals_are_shown_on_the_page(page):
    answer = page.answer("POST", "/end", form(token="secret-token"), "/", "c")
    assert answer.status == 409 and b"no session was started from c" in answer.body
    long = page.answer("POST", "/start", form(token="secret-token", name="n" * 101), "/", "c")
    assert long.status == 400 and b"at most 100 characters" in long.body


def test_status_is_json_for_the_live_count(page, recorder):
    traffic(recorder, "d", 1)  # someone else's session
    page.answer("POST", "/start", form(token="secret-token", name="checkout"), "/", "c")
    traffic(recorder, "c", 3)
    answer = page.answer("GET", "/status", b"", "/", "c")
    assert json.loads(answer.body) == {
        "session": "checkout",
        "session_exchanges": 3,
        "exchanges": 0,  # none has had its response yet
        "sessions": 2,
    }
    assert "secret-token" not in answer.body.decode(), "the token is only in the page"


def test_the_certificate_downloads_as_pem_and_der(page, ca_pem):
    from cryptography import x509

    pem = page.answer("GET", "/ca.pem", b"", "/", "c")
    der = page.answer("GET", "/ca.cer", b"", "/", "c")
    assert pem.body == ca_pem and pem.headers["Content-Type"] == "application/x-x509-ca-cert"
    assert x509.load_der_x509_certificate(der.body) == x509.load_pem_x509_certificate(ca_pem)
    assert 'filename="replayqa-proxy-ca.cer"' in der.headers["Content-Disposition"]


def test_a_random_token_per_page_owner_and_404_elsewhere(page, ca_pem):
    one = ControlPage(page.status, page.mark, lambda: ca_pem)
    two = ControlPage(page.status, page.mark, lambda: ca_pem)
    assert one.token != two.token and len(one.token) >= 32
    assert one.answer("GET", "/nope", b"", "/", "c").status == 404
