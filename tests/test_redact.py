import json

from replayqa.model import HttpRequest, HttpResponse
from replayqa.redact import MASK, redact_body, redact_headers, redact_request, redact_response, redact_url


def test_credential_headers_keep_their_scheme():
    headers = redact_headers({"Authorization": "Bearer abc.def", "Cookie": "s=1", "Accept": "*/*"})
    assert headers == {"Authorization": f"Bearer {MASK}", "Cookie": MASK, "Accept": "*/*"}


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
    assert redact_response(response).headers["set-cookie"] == MASK
    assert request.body == '{"password": "p"}' and response.body == '{"token": "t"}'


def test_plain_text_bodies_pass_through():
    assert redact_body("hello world") == "hello world"
