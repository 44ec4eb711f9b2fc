"""Tracing the values requests send back to the responses that produced them."""

from replayqa.provenance import Source, sent_values, trace, traceable


def row(method, url, status=200, body=None, response=None, headers=(), response_headers=()):
    return {
        "method": method,
        "url": url,
        "request_headers": list(headers),
        "request_body": body,
        "status": status,
        "response_headers": list(response_headers),
        "response_body": response,
    }


def test_ids_tokens_and_cookies_are_traced_to_their_producers():
    rows = [
        row("POST", "http://a/auth/login", response='{"token": "[redacted:0a1b2c3d4e5f]", "user_id": 1}'),
        row(
            "POST",
            "http://a/carts",
            201,
            response='{"id": 4711}',
            response_headers=[("Set-Cookie", "sid=s3ss10n; Path=/")],
        ),
        row(
            "POST",
            "http://a/carts/4711/checkout?cart=4711",
            body='{"cart_id": 4711, "note": "cart 4711 please"}',
            headers=[("Authorization", "Bearer [redacted:0a1b2c3d4e5f]"), ("Cookie", "sid=s3ss10n")],
        ),
    ]
    bindings = {(b.location, b.value): b.source for b in trace(rows) if b.exchange == 2}
    assert bindings[("path", "4711")] == Source(1, "body:$.id")
    assert bindings[("query:cart", "4711")] == Source(1, "body:$.id")
    assert bindings[("body:$.cart_id", "4711")] == Source(1, "body:$.id")
    assert bindings[("body:$.note", "4711")] == Source(1, "body:$.id"), "values inside larger strings"
    assert bindings[("header:authorization", "[redacted:0a1b2c3d4e5f]")] == Source(0, "body:$.token")
    assert bindings[("cookie:sid", "s3ss10n")] == Source(1, "cookie:sid")


def test_the_latest_producer_wins():
    rows = [
        row("POST", "http://a/items", 201, response='{"id": 77}'),
        row("POST", "http://a/items", 201, response='{"id": 77}'),
        row("GET", "http://a/items/77"),
    ]
    (binding,) = trace(rows)
    assert binding.source.exchange == 1


def test_common_values_are_not_traced():
    assert not any(traceable(v) for v in (0, 1, True, None, "ok", "abc", 1.5))
    assert all(traceable(v) for v in (2, 4711, "abcd", "12"))
    rows = [row("GET", "http://a/x", response='{"page": 1, "ok": true}'), row("GET", "http://a/items?page=1")]
    assert trace(rows) == []


def test_sent_values_by_location():
    found = set(
        sent_values("GET", "http://a/users/4242/orders?since=2026-01-01", [("If-Match", '"etag-99"')], None)
    )
    assert ("path", "4242") in found and ("query:since", "2026-01-01") in found
    assert ("header:if-match", '"etag-99"') in found
