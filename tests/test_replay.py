"""Replay's own rules, apart from the end-to-end replays in tests/e2e/test_replay.py."""

from __future__ import annotations

import pytest

from replayqa.replay import fill_secret


@pytest.mark.parametrize(
    ("recorded", "secret", "sent"),
    [
        ("Basic [redacted:1a2b3c]", "Basic dXNlcjpwdw==", "Basic dXNlcjpwdw=="),  # the whole header value
        ("Basic [redacted:1a2b3c]", "dXNlcjpwdw==", "Basic dXNlcjpwdw=="),  # the credential alone
        ("Bearer [redacted]", "bearer abc.def", "Bearer abc.def"),
        ("Basic [redacted:1a2b3c]", "user:pw", "Basic dXNlcjpwdw=="),  # as a person knows it
        ("Basic [redacted:1a2b3c]", "Basic user:pw", "Basic dXNlcjpwdw=="),
        ("[redacted:9f]", "s3cret", "s3cret"),  # a body field
        ("token [redacted]", "Basic xyz", "token Basic xyz"),  # another scheme is not swallowed
        ("no placeholder", "s3cret", "no placeholder"),
    ],
)
def test_a_secret_fills_the_placeholder_whether_given_with_its_scheme_or_without(recorded, secret, sent):
    assert fill_secret(recorded, secret) == sent
