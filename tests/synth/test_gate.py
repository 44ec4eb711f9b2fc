"""The quality gate on a real upstream: what it keeps and what it sets aside."""

from __future__ import annotations

from replayqa import Check, Journey, RequestAction, Step
from replayqa.config import Settings
from replayqa.synth.gate import gate


def test_a_server_error_in_one_run_of_three_is_kept_not_set_aside_as_flaky(content_app, tmp_path):
    """/alternate answers 503 on odd calls: the verdict wavers, but a 5xx is a finding, not noise."""
    settings = Settings(
        base_url=content_app.base_url, store=str(tmp_path / "runs.db"), report_dir=str(tmp_path / "reports")
    )
    wavering = Journey(
        "alternate", [Step("read", RequestAction("GET", "/alternate"), checks=[Check("status", value=200)])]
    )
    steady = Journey(
        "steady", [Step("read", RequestAction("GET", "/gzip"), checks=[Check("status", value=200)])]
    )
    verdict = gate([wavering, steady], settings, runs=3)
    assert verdict.flaky == {}
    assert [j.name for j in verdict.kept] == ["alternate", "steady"]
    assert {i.response.status for i in verdict.failing["alternate"]} == {503}
