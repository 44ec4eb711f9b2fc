"""Suggested causes for a finding, from a table of patterns.

The first matching rule wins, so the specific rules come first. Each text
says where to look next, not merely what the status code means.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """What a rule may look at."""

    message: str
    status: int | None = None
    expected_failure: bool = False
    #: Headers and fields of the request that held a redacted placeholder instead of the credential.
    redacted: tuple[str, ...] = ()


Rule = tuple[str, Callable[[Finding], bool], str | Callable[[Finding], str]]


def _status(*codes: int) -> Callable[[Finding], bool]:
    return lambda f: f.status in codes


_EXPECTED_REFUSAL = re.compile(r"expected status (4\d\d|4xx)", re.IGNORECASE)
_REDACTED_FIELD = re.compile(r'"([\w-]+)"\s*:\s*"\[redacted|(?:^|[?&])([\w-]+)=(?:\[|%5B)redacted', re.I)


def redacted_names(headers: Iterable[tuple[str, str]], body: str | None) -> tuple[str, ...]:
    """Where a recorded request had a secret the recording does not keep: headers, then fields."""
    names = [name.lower() for name, value in headers if "[redacted" in value]
    names += [a or b for a, b in _REDACTED_FIELD.findall(body or "")]
    return tuple(dict.fromkeys(names))


def _secret_hint(finding: Finding) -> str:
    name = finding.redacted[0]
    example = "Basic <base64 of user:password>" if name == "authorization" else "VALUE"
    return (
        f"The recording keeps this request's {name} redacted, so the replay sent a placeholder: "
        f'pass the real value with --secret "{name}={example}" (or in the secrets of replayqa.toml).'
    )


RULES: list[Rule] = [
    (
        "connection refused",
        lambda f: "connection refused" in f.message.lower() or "connecterror" in f.message.lower(),
        "The app is not running or not listening there: check --base-url and the app's startup log.",
    ),
    (
        "timeout",
        lambda f: "timeout" in f.message.lower() or "timed out" in f.message.lower(),
        "The app did not answer in time: look for a slow query, a lock held by an open "
        "transaction, or a deadlock; the log lines show what it was doing.",
    ),
    (
        "schema mismatch",
        lambda f: "openapi" in f.message.lower() or "schema" in f.message.lower(),
        "The response does not match the OpenAPI spec: either the handler returns a field "
        "of the wrong type or misses a required one, or the spec is out of date.",
    ),
    (
        "5xx",
        lambda f: f.status is not None and f.status >= 500,
        "The app failed while handling the request: the log lines below usually hold the "
        "traceback; the state the earlier steps built is the likely trigger.",
    ),
    (
        "accepted what it should refuse",
        lambda f: (
            f.status is not None
            and f.status < 400
            and (f.expected_failure or bool(_EXPECTED_REFUSAL.search(f.message)))
        ),
        "The app accepted a request it should refuse in this state: a guard is missing "
        "(already paid, already deleted, not the owner, duplicate submit).",
    ),
    (
        "a redacted credential",
        lambda f: f.status in (401, 403) and bool(f.redacted),
        _secret_hint,
    ),
    (
        "rate limited",
        _status(429),
        "The app is rate limiting (429 Too Many Requests): replays and runs in quick succession "
        "hit its limit, not a regression; wait as its Retry-After header says, raise the limit in "
        "the test environment, or replay fewer sessions at once.",
    ),
    (
        "401/403",
        _status(401, 403),
        "Authentication or authorization failed: check the token or session an earlier step "
        "obtained, that it was sent, and the role this request needs.",
    ),
    (
        "404",
        _status(404),
        "Not found: the resource was never created on this path, was deleted by an earlier "
        "step, or the id came from the wrong step; check the route too.",
    ),
    (
        "409",
        _status(409),
        "Conflict: the state already holds what this request tries to create or do "
        "(duplicate, already done); check the earlier steps and the restored checkpoint.",
    ),
    (
        "422",
        _status(400, 422),
        "The app rejected the request as invalid: compare the body and parameters with the "
        "operation's schema (required fields, formats, enums).",
    ),
    (
        "database effects changed",
        lambda f: f.message.startswith("database differs from the recording"),
        "The app's writes differ from what it wrote when this was recorded: the diff names the "
        "table, row and column; look at the handler of the request before, or accept the new baseline.",
    ),
    (
        "replay regression",
        lambda f: " → " in f.message or "removed (was" in f.message or ": added " in f.message,
        "The app now answers differently than when this was recorded: if the change is intended, "
        "accept the new baseline; if not, the diff names the field that moved.",
    ),
    (
        "value mismatch",
        lambda f: "expected" in f.message.lower(),
        "The response holds a different value than expected: the state left by the earlier "
        "steps is not what the journey assumes; compare with the steps before it.",
    ),
]


def suggest(finding: Finding) -> str:
    for _name, matches, text in RULES:
        if matches(finding):
            return text(finding) if callable(text) else text
    return "Compare the request and response with the step's expectations and the app's log."
