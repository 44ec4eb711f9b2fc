import pytest

from replayqa.suggest import Finding, suggest


@pytest.mark.parametrize(
    ("finding", "words"),
    [
        (Finding("status 401", 401), "Authentication"),
        (Finding("status 403", 403), "authorization"),
        (Finding("status 404", 404), "Not found"),
        (Finding("status 409", 409), "Conflict"),
        (Finding("status 422", 422), "invalid"),
        (Finding("status 503", 503), "log lines"),
        (Finding("ReadTimeout: timed out"), "in time"),
        (Finding("ConnectError: [Errno 111] Connection refused"), "not running"),
        (Finding("response does not match the OpenAPI spec: ...", 200), "OpenAPI spec"),
        (Finding("expected status 409, got 201", 201), "should refuse"),
        (Finding("total_cents: expected 2400, got 0", 200), "different value"),
    ],
)
def test_each_pattern_has_its_suggestion(finding, words):
    assert words in suggest(finding)


def test_a_401_on_a_request_that_carried_a_redacted_credential_names_the_secret_to_pass():
    from replayqa.suggest import redacted_names

    names = redacted_names([("Authorization", "Basic [redacted:1a2b]"), ("Accept", "*/*")], None)
    text = suggest(Finding("status 401", 401, redacted=names))
    assert '--secret "authorization=Basic <base64 of user:password>"' in text
    field = redacted_names([], '{"email": "a@b.c", "password": "[redacted:9f]"}')
    assert '--secret "password=VALUE"' in suggest(Finding("status 403", 403, redacted=field))
    assert "--secret" not in suggest(Finding("status 401", 401)), "no placeholder: the plain auth hint"


def test_a_429_is_named_a_rate_limit_not_a_regression():
    text = suggest(Finding("assertion failed: status status: 200 → 429", 429))
    assert "rate limit" in text and "Retry-After" in text
