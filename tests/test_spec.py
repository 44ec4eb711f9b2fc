import pytest

from replayqa.client import Client
from replayqa.demo.run import spec_path
from replayqa.errors import ConfigError
from replayqa.spec import SpecValidator, load_spec_document


def test_real_responses_from_the_demo_shop_conform_to_its_spec(demo_shop):
    spec = SpecValidator.load(spec_path())
    with Client(demo_shop.base_url) as client:
        client.get("/items")
        client.get("/items/1")
        client.get("/items/999")
        client.post("/auth/login", json={"email": "admin@shop.test", "password": "admin-pass"})
    for exchange in client.history:
        assert spec.check_response(exchange) == [], exchange.request.url


def test_a_response_that_breaks_the_spec_is_reported_with_its_json_path(demo_shop):
    spec = SpecValidator.load(spec_path())
    with Client(demo_shop.base_url) as client:
        client.get("/items/1")
    exchange = client.last_exchange
    exchange.response.body = '{"id": "1", "name": "Mug"}'
    problems = spec.check_response(exchange)
    assert "response body $.id: '1' is not of type 'integer'" in problems
    assert any("'price_cents' is a required property" in p for p in problems)


def test_spec_can_be_read_from_a_url(demo_shop):
    document = load_spec_document(f"{demo_shop.base_url}/openapi.json")
    assert document["openapi"].startswith("3.1")


@pytest.mark.parametrize(
    ("text", "message"),
    [("just: text\n", "not an OpenAPI document"), ("a: [\n", "not valid JSON or YAML")],
)
def test_bad_specs(tmp_path, text, message):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_spec_document(path)


def test_unreadable_spec(tmp_path):
    with pytest.raises(ConfigError, match="cannot read OpenAPI spec"):
        load_spec_document(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="cannot read OpenAPI spec"):
        load_spec_document("http://127.0.0.1:1/openapi.json")


def test_an_app_mounted_under_a_path_the_spec_does_not_name_is_still_checked(demo_shop):
    """base_url http://host/api with a spec whose servers say "/": the prefix is the app's mount point."""
    with Client(demo_shop.base_url) as client:
        client.get("/items/1")
    exchange = client.last_exchange
    exchange.request.url = exchange.request.url.replace("/items/1", "/api/items/1")
    assert any("ServerNotFound" in p for p in SpecValidator.load(spec_path()).check_response(exchange))
    mounted = SpecValidator.load(spec_path(), base_url=f"{demo_shop.base_url}/api/")
    assert mounted.check_response(exchange) == []
    exchange.response.body = '{"id": "1", "name": "Mug"}'
    assert "response body $.id: '1' is not of type 'integer'" in mounted.check_response(exchange)
