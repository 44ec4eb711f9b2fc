"""Keeping a run's results: fingerprints, known issues from config and store, resolutions, flaky steps."""

from __future__ import annotations

import httpx
import pytest

from replayqa.client import Client
from replayqa.config import Settings
from replayqa.errors import ConfigError
from replayqa.execute import _repeated, keep_results
from replayqa.model import MAIN_PATH, Journey, Step
from replayqa.runner import JourneyRunner
from replayqa.store import RunStore
from tests.test_runner import DictBackend, Shop, inc, read
from tests.tui.test_app import fixed_run


def settings(tmp_path, **values) -> Settings:
    return Settings(store=str(tmp_path / "runs.db"), **values)


def test_issues_get_fingerprints_and_known_issue_rules_from_config(tmp_path):
    run = fixed_run()
    keep_results(run, settings(tmp_path, known_issues=[{"contains": "expected 2400", "reason": "BUG-7"}]))
    (issue,) = run.issues
    assert issue.status == "known" and len(issue.fingerprint) == 12
    assert issue.suggestion.startswith("Known issue: BUG-7.")
    with pytest.raises(ConfigError, match="unknown field 'contain'"):
        keep_results(fixed_run(), settings(tmp_path, known_issues=[{"contain": "x"}]))


def test_a_fixed_issue_that_comes_back_is_new_and_quotes_how_it_was_fixed(tmp_path):
    first = fixed_run()
    keep_results(first, settings(tmp_path))
    RunStore(tmp_path / "runs.db").mark(first.issues[0].fingerprint, "fixed", "cart kept on decline, PR 42")
    again = fixed_run()
    keep_results(again, settings(tmp_path))
    assert again.issues[0].status == "new"
    assert "fixed on" in again.issues[0].suggestion and "PR 42" in again.issues[0].suggestion


def test_flaky_steps_are_marked(tmp_path):
    run = fixed_run()
    run.flaky = {("checkout", "declined", "cart_kept")}
    keep_results(run, settings(tmp_path))
    assert run.issues[0].status == "flaky" and run.issues[0].suggestion.startswith("Flaky:")


def test_a_step_that_passed_in_another_run_of_the_same_build_is_flaky(tmp_path):
    good = fixed_run()
    good.run_id = "good"
    journey = good.journeys[0]
    journey.steps[1].passed = True
    journey.issues.clear()
    journey.paths[1].issues.clear()
    keep_results(good, settings(tmp_path, build="abc123"))

    bad = fixed_run()
    bad.run_id = "bad"
    keep_results(bad, settings(tmp_path, build="abc123"))
    assert bad.issues[0].status == "flaky"

    other_build = fixed_run()
    other_build.run_id = "other"
    keep_results(other_build, settings(tmp_path, build="def456"))
    assert other_build.issues[0].status == "new"


def test_secret_variables_name_fields_and_dashed_headers():
    from replayqa.execute import secrets_from_environment

    found = secrets_from_environment(
        {"REPLAYQA_SECRET_X_API_KEY": "k1", "REPLAYQA_SECRET_": "x", "HOME": "/"}
    )
    assert found == {"x_api_key": "k1", "x-api-key": "k1"}


def test_repetitions_start_from_one_state_and_a_step_that_wavers_is_flaky():
    """``run --repeat``: each repetition from the start state; the first is reported."""
    shop = Shop()
    client = Client("http://shop", transport=httpx.MockTransport(shop.handle))
    calls = []

    def wavers(client, context):
        calls.append(1)
        assert len(calls) != 2, "unlucky the second time"

    journey = Journey("j", [inc(), read("sees_one", 1), Step("wavers", wavers)])
    backend = DictBackend(shop)
    backend.connect()
    result = _repeated(JourneyRunner(client, backend), backend, [journey], 3)
    assert result.passed
    assert result.flaky == {("j", MAIN_PATH, "wavers")}
    start = "__replayqa_repeat_start__"
    assert backend.calls == [
        ("checkpoint", start),
        ("rollback", start),
        ("rollback", start),
        ("release", start),
    ]
