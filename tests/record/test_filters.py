import pytest

from replayqa.record.filters import TrafficFilter


@pytest.mark.parametrize(
    ("host", "path", "kept"),
    [
        ("shop.test", "/api/items", True),
        ("shop.test", "/static/app.js", False),
        ("shop.test", "/logo.PNG", False),
        ("update.googleapis.com", "/service/update2/json", False),
        ("clients2.google.com", "/time/1/current", False),
    ],
)
def test_static_assets_and_browser_traffic_are_dropped_by_default(host, path, kept):
    assert TrafficFilter().wants_request(host, path) is kept


def test_include_static_keeps_everything():
    assert TrafficFilter(include_static=True).wants_request("shop.test", "/app.js")
    assert TrafficFilter(include_static=True).wants_response("image/png")


def test_include_and_exclude_patterns():
    only_api = TrafficFilter(include=["api.shop.test"], exclude=["/health", "*/internal/*"])
    assert only_api.wants_request("api.shop.test", "/items")
    assert not only_api.wants_request("www.shop.test", "/items")
    assert not only_api.wants_request("api.shop.test", "/health")
    assert not only_api.wants_request("api.shop.test", "/internal/x")
    paths = TrafficFilter(include=["shop.test/api/*"])
    assert paths.wants_request("shop.test", "/api/items") and not paths.wants_request("shop.test", "/")
    assert TrafficFilter(include=["shop.test"]).wants_request("api.shop.test", "/")  # subdomains too


def test_static_responses_are_dropped_by_content_type():
    assert not TrafficFilter().wants_response("image/webp")
    assert not TrafficFilter().wants_response("text/css; charset=utf-8")
    assert TrafficFilter().wants_response("application/json")
