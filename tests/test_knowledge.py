"""Fingerprints name a failure independently of its data; rules mark failures as known."""

from __future__ import annotations

import pytest

from replayqa.knowledge import KnownIssue, annotate, failed, fingerprint, normalise, route_template
from replayqa.model import HttpRequest, Issue, JourneyResult, RunResult


def issue(url="http://app/carts/12/checkout", error="expected status 409, got 201", kind="step", diff=()):
    made = Issue("j", "main", "pay", error, kind=kind, request=HttpRequest("POST", url))
    made.diff = list(diff)
    return made


def test_the_same_bug_on_other_data_has_the_same_fingerprint():
    first = issue("http://app/carts/12/checkout", "order 77 charged 2400 at 2026-11-21T10:00:00Z")
    again = issue("http://other:8080/carts/913/checkout", "order 78 charged 2500 at 2026-11-22T11:30:00.5Z")
    assert fingerprint(first) == fingerprint(again)


def test_different_bugs_differ():
    assert fingerprint(issue()) != fingerprint(issue(error="expected status 404, got 200 and more"))
    assert fingerprint(issue()) != fingerprint(issue(url="http://app/orders/12"))
    assert fingerprint(issue()) != fingerprint(issue(kind="invariant"))


def test_regressions_are_named_by_the_paths_that_changed():
    lines = [{"where": "body", "path": "$.lines[3].qty", "kind": "changed", "old": 1, "new": 2}]
    other_index = [{"where": "body", "path": "$.lines[0].qty", "kind": "changed", "old": 5, "new": 9}]
    assert fingerprint(issue(kind="regression", diff=lines)) == fingerprint(
        issue(kind="regression", diff=other_index)
    )


@pytest.mark.parametrize(
    ("method", "url", "template"),
    [
        ("post", "http://a/carts/12/checkout", "POST /carts/{id}/checkout"),
        ("GET", "http://a/u/9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f/files", "GET /u/{id}/files"),
        ("GET", "http://a/items?page=2", "GET /items"),
    ],
)
def test_route_templates(method, url, template):
    assert route_template(method, url) == template


def test_normalise_strips_volatile_values():
    assert (
        normalise("id 5 at 2026-01-01T00:00:00Z token [redacted:abc123]") == "id <n> at <time> token <secret>"
    )


def test_rules_and_fail_on():
    run = RunResult(
        "r", [JourneyResult("j", issues=[issue(), issue(url="http://app/orders/3", error="boom 500")])]
    )
    annotate(run, [KnownIssue(operation="POST /carts/{id}/checkout", reason="BUG-1")])
    assert [i.status for i in run.issues] == ["known", "new"]
    assert run.issues[0].suggestion.startswith("Known issue: BUG-1.")
    assert failed(run, "new") and failed(run, "any")
    annotate(
        run, [KnownIssue(operation="POST /carts/{id}/checkout"), KnownIssue(contains="boom", status="flaky")]
    )
    assert [i.status for i in run.issues] == ["known", "flaky"]
    assert not failed(run, "new") and failed(run, "any")


def test_a_rule_without_conditions_matches_nothing_and_unknown_fields_are_refused():
    assert not KnownIssue(reason="empty").matches(issue())
    with pytest.raises(ValueError, match="unknown field 'opration'"):
        KnownIssue.from_config({"opration": "GET /x"})


def test_a_rule_with_an_unknown_kind_or_status_is_refused():
    with pytest.raises(ValueError, match="status 'knwon' is none of new, known, flaky, fixed"):
        KnownIssue.from_config({"contains": "boom", "status": "knwon"})
    with pytest.raises(ValueError, match="kind 'regresion' is none of step, check"):
        KnownIssue.from_config({"kind": "regresion"})
    assert KnownIssue.from_config({"kind": "invariant"}).matches(issue(kind="invariant"))


def test_a_server_error_is_one_finding_whoever_saw_it():
    from replayqa.knowledge import fingerprint
    from replayqa.model import HttpRequest, HttpResponse, Issue

    def seen(journey, url, error, kind, body='{"error": "db locked"}'):
        return Issue(
            journey,
            "main",
            "s",
            error,
            kind=kind,
            request=HttpRequest("POST", url),
            response=HttpResponse(500, {}, body),
        )

    by_step = seen("a", "http://h:1/carts/3/checkout", "expected status 201, got 500", "step")
    by_invariant = seen(
        "b", "http://h:1/carts/9/checkout", "invariant 'no server errors': answered 500", "invariant"
    )
    other = seen(
        "a", "http://h:1/carts/3/checkout", "expected status 201, got 500", "step", '{"error": "KeyError"}'
    )
    assert fingerprint(by_step) == fingerprint(by_invariant)
    assert fingerprint(by_step) != fingerprint(other)
