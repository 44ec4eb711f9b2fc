import pytest

from replayqa.checks import evaluate, status_matches
from replayqa.model import Check, Exchange, HttpRequest, HttpResponse
from replayqa.spec import SpecValidator
from tests.support.specs import document, json_response, path_param


def exchange(status=200, body='{"id": 5, "name": "Mug", "tags": []}'):
    return Exchange(
        HttpRequest("GET", "http://app/items/5"),
        HttpResponse(status, {"content-type": "application/json"}, body),
    )


@pytest.mark.parametrize(
    ("status", "expected", "ok"),
    [(201, 201, True), (201, "201", True), (404, "4xx", True), (500, "4xx", False), (409, [404, 409], True)],
)
def test_status_expectations(status, expected, ok):
    assert status_matches(status, expected) is ok


def test_body_checks():
    ex = exchange()
    assert evaluate(Check("equals", "name", "Mug"), ex) is None
    assert evaluate(Check("equals", "id", 6), ex) == "id: expected 6, got 5"
    assert evaluate(Check("exists", "tags", True), ex) is None
    assert evaluate(Check("exists", "price", False), ex) is None
    assert "has no field 'price'" in evaluate(Check("exists", "price", True), ex)
    assert evaluate(Check("matches", "name", "^M"), ex) is None
    assert "does not match" in evaluate(Check("matches", "name", "^X"), ex)


def test_no_response_fails_every_check():
    ex = Exchange(HttpRequest("GET", "http://app/"), error="ConnectError: refused")
    assert "ConnectError" in evaluate(Check("status", value=200), ex)


ITEM = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
}
SPEC = document(
    {"/items/{id}": {"get": {"parameters": [path_param("id")], "responses": {"200": json_response(ITEM)}}}},
    servers=[{"url": "https://api.example.com/"}],
)


def test_schema_check_validates_against_the_spec_on_any_host():
    spec = SpecValidator(SPEC)
    assert evaluate(Check("schema"), exchange(), spec) is None
    message = evaluate(Check("schema"), exchange(body='{"id": "five"}'), spec)
    assert "does not match the OpenAPI spec" in message
    assert "'name' is a required property" in message and "'five' is not of type 'integer'" in message
