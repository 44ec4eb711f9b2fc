"""The pytest plugin's pure parts: which files are journeys, path names, pruning, failure text.

Its run against a real app, through a real pytest, is tests/e2e/test_pytest_plugin.py.
"""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

from replayqa.actions import RequestAction
from replayqa.demo.run import journeys_dir
from replayqa.loader import load_file
from replayqa.model import Branch, Checkpoint, HttpRequest, HttpResponse, Issue, Step
from replayqa.model import Path as JPath
from replayqa.pytest_plugin import failure_text, is_journey_file, parse_vars, path_labels, pruned
from replayqa.redact import Redactor

ROOT = Path(__file__).parents[1]


def step(name: str) -> Step:
    return Step(name, RequestAction("GET", "/"))


def branch(*paths: JPath) -> Branch:
    return Branch("start", list(paths))


def test_the_entry_point_names_this_module():
    entry_points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    module = importlib.import_module(entry_points["pytest11"]["replayqa"])
    assert module.pytest_collect_file and module.pytest_addoption


def test_a_journey_file_has_a_top_level_steps_key(tmp_path):
    journey = tmp_path / "j.yaml"
    journey.write_text("name: j\nsteps:\n  - name: a\n")
    workflow = tmp_path / "ci.yaml"
    workflow.write_text("jobs:\n  test:\n    steps: []\n")
    assert is_journey_file(journey) and is_journey_file(journeys_dir() / "checkout_payment.yaml")
    assert not is_journey_file(workflow)
    assert not is_journey_file(ROOT / "replayqa" / "demo" / "openapi.yaml")


def test_a_journey_without_branches_is_one_path_named_main():
    assert path_labels([step("a"), step("b")]) == ["main"]


def test_a_branch_at_the_end_gives_its_paths_nested_ones_joined_with_a_slash():
    tree = [
        Checkpoint("start"),
        branch(
            JPath("a", [step("x")]), JPath("b", [Checkpoint("start"), branch(JPath("c", []), JPath("d", []))])
        ),
    ]
    assert path_labels(tree) == ["a", "b/c", "b/d"]


def test_steps_after_a_branch_are_a_path_of_their_own_as_the_runner_reports():
    tree = [Checkpoint("start"), branch(JPath("a", []), JPath("b", [])), step("after")]
    assert path_labels(tree) == ["a", "b", "main"]


def test_the_demo_journey_has_the_paths_the_runner_reports():
    (journey,) = load_file(journeys_dir() / "checkout_payment.yaml").journeys
    assert path_labels(journey.steps) == ["approved", "declined", "double_submit"]


def test_pruning_keeps_the_prefix_and_the_wanted_paths_only():
    tree = [
        step("login"),
        Checkpoint("start"),
        branch(
            JPath("a", [step("x")]), JPath("b", [Checkpoint("start"), branch(JPath("c", []), JPath("d", []))])
        ),
    ]
    kept = pruned(tree, {("b", "d")})
    assert kept[:2] == tree[:2]
    assert path_labels(kept) == ["b/d"]
    assert path_labels(tree) == ["a", "b/c", "b/d"], "the journey itself is left as it was"


def test_failure_text_shows_request_response_error_and_suggestion_in_80_columns():
    issue = Issue(
        "checkout_payment",
        "declined",
        "cart_kept_after_decline",
        "total_cents: expected 2400, got 0; " + "a long explanation " * 8,
        request=HttpRequest("GET", "http://127.0.0.1:5000/cart?full=1", {"Authorization": "Bearer s3cret"}),
        response=HttpResponse(200, body='{"id": 1, "lines": [], "note": "' + "x" * 100 + '"}'),
        suggestion="The state left by the earlier steps is not what the journey assumes.",
        fingerprint="663f7eb86709",
    )
    text = failure_text([issue], Redactor(), report=Path(".replayqa/reports/run/report.md"))
    lines = text.splitlines()
    assert lines[0] == "checkout_payment › declined › cart_kept_after_decline  [new 663f7eb86709]"
    assert lines[1] == "  request   GET /cart?full=1"
    assert lines[2].startswith('  response  200 {"id": 1, "lines": []') and lines[2].endswith("…")
    assert lines[3].startswith("  error     total_cents: expected 2400, got 0;")
    assert lines[4].startswith(" " * 12) and lines[4].strip(), "long errors wrap, indented under the label"
    assert "  suggest   The state left by the earlier steps" in text
    assert lines[-1] == "report: .replayqa/reports/run/report.md"
    assert all(len(line) <= 80 for line in lines)
    assert "s3cret" not in text


def test_vars_are_name_equals_value():
    assert parse_vars(["password=a=b", " user =me"]) == {"password": "a=b", "user": "me"}
    with pytest.raises(pytest.UsageError, match="--replayqa-var 'password': give NAME=VALUE"):
        parse_vars(["password"])
