import json

from replayqa.model import HttpRequest, HttpResponse
from replayqa.redact import (
    MASK,
    RedactionRules,
    Redactor,
    cookie_values,
    redact_body,
    redact_headers,
    redact_request,
    redact_response,
    redact_url,
    stable_placeholders,
)


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


def test_extended_rules_add_whole_names_and_reports_follow_them():
    from replayqa import redact

    rules = RedactionRules().extended(["X-Tenant"], ["pin"])
    redactor = Redactor(rules)
    body = json.loads(redactor.body('{"pin": "1234", "shipping": "Pine St", "pin_code": "9"}'))
    assert body == {"pin": MASK, "shipping": "Pine St", "pin_code": "9"}
    assert redactor.header_value("x-tenant", "t") == MASK
    try:
        redact.configure_reports(rules)
        assert json.loads(redact_body('{"pin": "1234"}')) == {"pin": MASK}
    finally:
        redact.configure_reports(RedactionRules())
    assert json.loads(redact_body('{"pin": "1234"}')) == {"pin": "1234"}
