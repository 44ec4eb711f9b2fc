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


def test_a_form_posts_the_csrf_token_its_page_handed_out_in_a_hidden_field_or_meta_tag():
    page = (
        '<html><head><meta name="csrf-token" content="m3ta-t0ken-99"></head><body><form method="post">'
        '<input type="hidden" name="_xsrf" value="2|0f61e356|aae15210|1795997901"/>'
        '<input type="password" name="password"></form></body></html>'
    )
    form = [("Content-Type", "application/x-www-form-urlencoded")]
    rows = [
        row("GET", "http://a/login", response=page, response_headers=[("Content-Type", "text/html")]),
        row(
            "POST",
            "http://a/login",
            302,
            body="_xsrf=2%7C0f61e356%7Caae15210%7C1795997901&password=pw",
            headers=form,
        ),
        row("POST", "http://a/api/notes", 201, headers=[("X-CSRF-Token", "m3ta-t0ken-99")]),
    ]
    bindings = {(b.exchange, b.location, b.value): b.source for b in trace(rows)}
    assert bindings[(1, "form:_xsrf", "2|0f61e356|aae15210|1795997901")] == Source(0, "html:input:_xsrf")
    assert bindings[(2, "header:x-csrf-token", "m3ta-t0ken-99")] == Source(0, "html:meta:csrf-token")


def test_a_key_no_template_can_name_is_not_offered_as_a_source():
    """``labels: {"prefect.flow.id": ...}``: a dotted key would become a path that splits it in
    three; the same value elsewhere in the answer (``flow_id``) is the one to trace."""
    from replayqa.provenance import produced_values

    body = '{"flow_id": "f-123456", "labels": {"prefect.flow.id": "f-123456"}}'
    places = dict(produced_values(201, [], body))
    assert "body:$.flow_id" in places
    assert not any("prefect" in place for place in places)


def test_values_are_looked_up_by_one_text_whatever_json_number_form_they_took():
    from replayqa.provenance import value_text

    assert value_text(5.0) == value_text(5) == "5"  # an id a server sent as 5.0 is still id 5
    assert value_text(2.5) == "2.5" and value_text("5.0") == "5.0"  # a string stays what it was
    assert value_text({"a": [1]}) == '{"a": [1]}'
