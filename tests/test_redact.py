import json

from replayqa.config import Settings
from replayqa.model import HttpRequest, HttpResponse, Issue
from replayqa.redact import (
    MASK,
    NOT_STORED,
    RedactionRules,
    Redactor,
    cookie_values,
    is_password_hash,
    is_secret_name,
    stable_placeholders,
)

REPORTS = Redactor()
redact_body = REPORTS.body
redact_headers = REPORTS.headers
redact_request = REPORTS.request
redact_response = REPORTS.response
redact_url = REPORTS.url


def test_credential_headers_keep_their_scheme():
    headers = redact_headers(
        {"Authorization": "Bearer abc.def", "Cookie": "s=1; theme=dark", "Accept": "*/*"}
    )
    assert headers == {
        "Authorization": f"Bearer {MASK}",
        "Cookie": f"s={MASK}; theme={MASK}",
        "Accept": "*/*",
    }


def test_secret_fields_are_masked_at_any_depth_and_cards_keep_last_four():
    body = json.dumps(
        {
            "user": {"password": "hunter22", "api_key": "k"},
            "card_number": "4242424242424242",
            "items": [{"token": "t", "name": "mug"}],
        }
    )
    clean = json.loads(redact_body(body))
    assert clean == {
        "user": {"password": MASK, "api_key": MASK},
        "card_number": "************4242",
        "items": [{"token": MASK, "name": "mug"}],
    }


def test_forms_and_query_strings():
    assert redact_body("user=ada&password=hunter22") == f"user=ada&password={MASK}"
    assert redact_url("http://a/b?token=abc&page=2") == f"http://a/b?token={MASK}&page=2"


def test_request_and_response_copies_leave_the_originals_intact():
    request = HttpRequest("POST", "http://a/login", {"authorization": "Basic x"}, '{"password": "p"}')
    response = HttpResponse(200, {"set-cookie": "sid=1"}, '{"token": "t"}')
    assert MASK in redact_request(request).body and MASK in redact_response(response).body
    assert redact_response(response).headers["set-cookie"] == f"sid={MASK}"
    assert request.body == '{"password": "p"}' and response.body == '{"token": "t"}'


def test_plain_text_bodies_pass_through():
    assert redact_body("hello world") == "hello world"


def test_stable_placeholders_keep_value_flow_visible():
    redactor = Redactor(RedactionRules(cards=False), stable_placeholders(b"k" * 32))
    login = redactor.body('{"token": "tok-123", "user": "ada"}')
    header = redactor.header_value("Authorization", "Bearer tok-123")
    placeholder = json.loads(login)["token"]
    assert placeholder.startswith("[redacted:") and "tok-123" not in login
    assert header == f"Bearer {placeholder}"  # the same secret, the same placeholder
    assert redactor.header_value("Authorization", "Bearer other") != header
    assert redactor.body('{"card_number": "4242424242424242"}') == '{"card_number": "4242424242424242"}'


def test_set_cookie_keeps_its_attributes():
    redactor = Redactor(replace_secret=lambda v: "X")
    assert redactor.header_value("Set-Cookie", "sid=abc; Path=/; HttpOnly") == "sid=X; Path=/; HttpOnly"


def test_extra_rules_and_their_description():
    rules = RedactionRules(extra_headers=("X-Session",), extra_fields=("pin",))
    redactor = Redactor(rules)
    assert redactor.header_value("x-session", "v") == MASK
    assert json.loads(redactor.body('{"pin": "1234"}')) == {"pin": MASK}
    assert "x-session" in rules.describe()["headers"]


def test_cookie_values():
    assert cookie_values("sid=abc; theme=dark") == ["abc", "dark"]


def test_multipart_forms_lose_their_secret_fields_and_keep_every_other_byte():
    redactor = Redactor(RedactionRules(cards=False), stable_placeholders(b"k" * 32))
    body = (
        b'--b0undary\r\nContent-Disposition: form-data; name="email"\r\n\r\nana@shop.test\r\n'
        b'--b0undary\r\nContent-Disposition: form-data; name="password"\r\n\r\nhunter2-secret\r\n'
        b'--b0undary\r\nContent-Disposition: form-data; name="api_key"; filename="key.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nfile bytes\r\n--b0undary--\r\n"
    )
    redacted = redactor.multipart(body, 'multipart/form-data; boundary="b0undary"')
    assert b"hunter2-secret" not in redacted
    placeholder = redactor.secret("hunter2-secret").encode()
    assert redacted == body.replace(b"hunter2-secret", placeholder)  # file parts are left alone
    as_text = redactor.body(body.decode(), "multipart/form-data; boundary=b0undary")
    assert as_text == redacted.decode()


def test_headers_whose_names_say_secret_are_redacted():
    redactor = Redactor()
    assert redactor.header_value("X-Access-Token", "abc") == MASK
    assert redactor.header_value("X-Request-Id", "abc") == "abc"


def test_extended_rules_add_whole_names_and_the_settings_redactor_follows_them():
    rules = RedactionRules().extended(["X-Tenant"], ["pin"])
    redactor = Redactor(rules)
    body = json.loads(redactor.body('{"pin": "1234", "shipping": "Pine St", "pin_code": "9"}'))
    assert body == {"pin": MASK, "shipping": "Pine St", "pin_code": "9"}
    assert redactor.header_value("x-tenant", "t") == MASK
    configured = Settings(redact_fields=["pin"]).redactor()
    assert json.loads(configured.body('{"pin": "1234"}')) == {"pin": MASK}
    assert json.loads(Settings().redactor().body('{"pin": "1234"}')) == {"pin": "1234"}


def test_a_name_is_secret_by_its_words_in_any_case_style():
    for name in (
        "jwt", "sessionId", "session_id", "X-Session-Id", "PRIVATE_KEY", "private key", "pwd", "passwd",
        "credentials", "otp_code", "clientSecret", "accessToken", "refresh-tokens", "api.key", "auth",
        "Set-Cookie", "phpsessid", "csrftoken", "passwordHash", "mfaCode",
    ):  # fmt: skip
        assert is_secret_name(name), name
    for name in ("passenger", "author", "status", "keyboard", "monkey", "secretary", "compass", "sessile"):
        assert not is_secret_name(name), name


def test_everything_beneath_a_secret_name_goes_but_flags_stay():
    body = {
        "tokens": ["t1", "t2"],
        "secrets": [{"value": "v1", "label": "l1"}],
        "session": {"id": 7, "user": {"name": "ana"}},
        "mfa": True,
        "profile": {"name": "ana"},
    }
    clean = json.loads(redact_body(json.dumps(body)))
    assert clean == {
        "tokens": [MASK, MASK],
        "secrets": [{"value": MASK, "label": MASK}],
        "session": {"id": MASK, "user": {"name": MASK}},
        "mfa": True,
        "profile": {"name": "ana"},
    }


def test_urls_with_secret_parameters_in_any_header_or_text():
    redactor = Redactor(RedactionRules(cards=False), stable_placeholders(b"k" * 32))
    pairs = redactor.header_pairs(
        [
            ("Location", "https://app/cb?code=1&access_token=AT-1#id_token=IDT-1"),
            ("Referer", "https://app/reset?otp=123456"),
            ("Link", '<https://app/items?page=2&token=LT-1>; rel="next"'),
            ("X-Request-Id", "req-1"),
        ]
    )
    text = json.dumps(pairs)
    assert not any(s in text for s in ("AT-1", "IDT-1", "123456", "LT-1"))
    assert "code=1" in text and "page=2" in text and "req-1" in text
    page = redactor.body('<a href="/reset?uid=3&amp;token=reset-tok">reset</a>', "text/html")
    assert "reset-tok" not in page and "uid=3" in page
    inside = json.loads(redactor.body('{"next": "https://app/x?api_key=K-9&page=3"}'))
    assert "K-9" not in inside["next"] and "page=3" in inside["next"]


def test_values_secret_whatever_their_name():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----"
    clean = redact_body(json.dumps({"note": f"use {jwt}", "blob": pem, "nested": json.dumps({"pwd": "x1"})}))
    assert jwt not in clean and "MIIBOgIBAAJBAK" not in clean and "x1" not in clean


def test_ndjson_and_event_streams_are_redacted_line_by_line():
    ndjson = '{"id": 1, "token": "n1"}\n{"id": 2, "token": "n2"}\n'
    events = 'event: login\ndata: {"session_id": "e1"}\n\n'
    assert "n1" not in redact_body(ndjson, "application/x-ndjson")
    assert redact_body(ndjson).count("\n") == 2
    assert redact_body(events, "text/event-stream") == f'event: login\ndata: {{"session_id": "{MASK}"}}\n\n'


def test_json_in_another_charset_or_content_type_is_still_json():
    body = {"password": "pässwort", "name": "zoë"}
    for raw, content_type in (
        (json.dumps(body, ensure_ascii=False).encode("utf-16"), "application/json"),
        (json.dumps(body, ensure_ascii=False).encode("utf-16-le"), "application/octet-stream"),
        (json.dumps(body, ensure_ascii=False).encode("latin-1"), "application/json; charset=iso-8859-1"),
        (json.dumps(body).encode(), "application/octet-stream"),
    ):
        text = REPORTS.decoded(raw, content_type)
        assert text is not None and json.loads(text) == {"password": MASK, "name": "zoë"}, content_type
    assert REPORTS.decoded(b"\x89PNG\r\n\x1a\n\x00\x00", "image/png") is None


def test_a_body_cut_at_the_cap_keeps_whole_lines_or_nothing():
    assert REPORTS.truncated_body('{"items": [{"token": "cut', "application/json") == NOT_STORED
    kept = REPORTS.truncated_body('{"token": "a1"}\n{"token": "a2"}\n{"tok', "application/x-ndjson")
    assert kept == f'{{"token": "{MASK}"}}\n{{"token": "{MASK}"}}\n'


def test_issues_lose_secrets_in_their_messages_diffs_and_logs():
    issue = Issue(
        "j",
        "p",
        "s",
        'expected 200, got 401: {"password": "pw-in-error"}',
        diff=[{"where": "body", "path": "$.user.api_key", "kind": "changed", "old": "k-old", "new": "k-new"}],
        logs=["GET /cb?token=tok-in-log"],
    )
    text = json.dumps(REPORTS.issue(issue).__dict__, default=str)
    assert not any(s in text for s in ("pw-in-error", "k-old", "k-new", "tok-in-log"))


def test_salted_password_hashes_are_recognised_and_nothing_else():
    assert is_password_hash("$2b$12$" + "a" * 53)
    assert is_password_hash("pbkdf2_sha256$600000$salt$" + "A" * 44)
    assert is_password_hash("scrypt:32768:8:1$salt$" + "0" * 64)
    assert not is_password_hash("hunter2") and not is_password_hash("0" * 64)


def test_extra_fields_are_found_in_forms_and_quoted_text_too():
    redactor = Redactor(RedactionRules().extended(fields=["email"]))
    assert redactor.body("email=ana%40shop.test&note=hi") == f"email={MASK}&note=hi"
    assert "ana@shop.test" not in redactor.text('got 409: {"email": "ana@shop.test"}')


def test_a_name_that_only_says_key_is_secret_when_its_value_looks_like_a_credential():
    """``key`` names keys of every kind: a metric named ``loss`` is data a replay needs, an API
    key is a secret; ``api_key`` and ``private_key`` are secret whatever they hold."""
    from replayqa.redact import Redactor

    redactor = Redactor()
    kept = redactor.json_value({"params": [{"key": "depth", "value": "3"}], "metric_key": "loss"})
    assert kept == {"params": [{"key": "depth", "value": "3"}], "metric_key": "loss"}
    gone = redactor.json_value({"key": "sk_live_51HxAbCdEf0123456789", "api_key": "abc", "private_key": "k"})
    assert all(str(v).startswith("[redacted") for v in gone.values()), gone
    assert "key=loss" in redactor.url("http://x/m?key=loss") and "AIza" not in redactor.url(
        "http://x/m?key=AIzaSyD-abcdef1234567890"
    )
