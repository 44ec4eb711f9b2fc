"""What replayqa remembers about failures: fingerprints, known issues, and what is new.

A fingerprint names a failure independently of the data it happened with:
the operation (method and route template, ids replaced), the kind of
finding, and a normalised message (numbers, ids and timestamps stripped), or
for a replay regression the paths that changed. The same bug on another id
gets the same fingerprint, so runs can be compared and known issues matched.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from replayqa.model import Issue, IssueKind, IssueStatus, RunResult

_VOLATILE = [
    (re.compile(r"\[redacted(:[0-9a-f]+)?\]"), "<secret>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"\b[0-9a-f]{16,}\b", re.I), "<hex>"),
    (re.compile(r"(?<![\w.])-?\d+(\.\d+)?(?![\w.])"), "<n>"),
]
_Member = TypeVar("_Member", IssueKind, IssueStatus)
_ANY_INDEX = re.compile(r"\[\d+\]")
_ID_SEGMENT = re.compile(r"^(\d+|[0-9a-f]{8}-[0-9a-f-]{27}|[0-9a-f]{16,}|\[redacted(:[0-9a-f]+)?\])$", re.I)


def route_template(method: str, url: str) -> str:
    """``POST /carts/12/checkout`` -> ``POST /carts/{id}/checkout``."""
    segments = ["{id}" if _ID_SEGMENT.match(s) else s for s in urlsplit(url).path.split("/")]
    return f"{method.upper()} {'/'.join(segments) or '/'}"


def normalise(message: str) -> str:
    for pattern, replacement in _VOLATILE:
        message = pattern.sub(replacement, message)
    return " ".join(message.split())


def fingerprint_fields(issue: Issue) -> dict[str, str]:
    operation = route_template(issue.request.method, issue.request.url) if issue.request else issue.step
    if issue.response is not None and issue.response.status >= 500 and not issue.diff:
        # One server error is one finding, whichever check saw it (a status check, an invariant)
        # and however many requests hit it: what tells two apart is what the server said.
        body = normalise(issue.response.body[:200])
        return {"operation": operation, "kind": "server-error", "detail": f"{issue.response.status} {body}"}
    if issue.diff and issue.kind == "db-regression":  # the cause: table, column, kind of change
        detail = normalise(", ".join(sorted({f"db {d['path']} {d['kind']}" for d in issue.diff})))
    elif issue.diff:
        detail = ", ".join(
            sorted({f"{d['where']} {_ANY_INDEX.sub('[*]', str(d['path']))}" for d in issue.diff})
        )
    else:
        detail = normalise(issue.error)
    return {"operation": operation, "kind": issue.kind, "detail": detail}


def fingerprint(issue: Issue) -> str:
    fields = fingerprint_fields(issue)
    text = "\n".join((fields["operation"], fields["kind"], fields["detail"]))
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12]


@dataclass(frozen=True)
class KnownIssue:
    """A rule: every field given must match (fingerprint, operation, kind, or a text in the detail)."""

    reason: str = ""
    fingerprint: str | None = None
    operation: str | None = None
    kind: IssueKind | None = None
    contains: str | None = None
    status: IssueStatus = IssueStatus.KNOWN

    def __post_init__(self) -> None:
        # Rules come from settings files and the run store as plain strings: a misspelt kind would
        # never match, and a misspelt status would reach every report, so both fail here.
        if self.kind is not None:
            object.__setattr__(self, "kind", _member(IssueKind, self.kind, "kind"))
        object.__setattr__(self, "status", _member(IssueStatus, self.status, "status"))

    def matches(self, issue: Issue) -> bool:
        fields = fingerprint_fields(issue)
        checks = (
            self.fingerprint is None or self.fingerprint == fingerprint(issue),
            self.operation is None or self.operation == fields["operation"],
            self.kind is None or self.kind == issue.kind,
            self.contains is None or self.contains in fields["detail"] or self.contains in issue.error,
        )
        return any(
            v is not None for v in (self.fingerprint, self.operation, self.kind, self.contains)
        ) and all(checks)

    @classmethod
    def from_config(cls, entry: Mapping[str, Any]) -> KnownIssue:
        allowed = {"reason", "fingerprint", "operation", "kind", "contains", "status"}
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise ValueError(
                f"unknown field {unknown[0]!r} in a known issue; use {', '.join(sorted(allowed))}"
            )
        return cls(**dict(entry))


def _member(enum: type[_Member], value: str, field: str) -> _Member:
    try:
        return enum(value)
    except ValueError:
        raise ValueError(f"{field} {value!r} is none of {', '.join(enum)}") from None


def annotate(run: RunResult, rules: Iterable[KnownIssue]) -> None:
    """Give every issue its fingerprint, and the status a known-issue rule gives it (else "new")."""
    rules = list(rules)
    for issue in run.issues:
        issue.fingerprint = fingerprint(issue)
        rule = next((r for r in rules if r.matches(issue)), None)
        issue.status = rule.status if rule else IssueStatus.NEW
        if rule and rule.reason:
            issue.suggestion = f"Known issue: {rule.reason}. {issue.suggestion}"


def counts_as_failure(issue: Issue, fail_on: str) -> bool:
    return fail_on == "any" or issue.status == IssueStatus.NEW


def failed(run: RunResult, fail_on: str) -> bool:
    """Whether a run fails: on any issue, or (``--fail-on new``) only on issues no rule knows."""
    return any(counts_as_failure(i, fail_on) for i in run.issues)
