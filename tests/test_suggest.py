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
