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


def test_a_path_whose_values_synth_could_not_make_is_left_out_not_reported(content_app, tmp_path):
    """A ``make_*`` step is synth's own call for a value; when it fails short of a 5xx, the
    fault is synth's: the path goes, the rest of the journey stays, and nothing is reported."""
    from replayqa import Branch, Checkpoint, Path

    settings = Settings(
        base_url=content_app.base_url, store=str(tmp_path / "runs.db"), report_dir=str(tmp_path / "reports")
    )
    ok = [Check("status", value=200)]
    good = Path("good", [Step("read", RequestAction("GET", "/gzip"), checks=ok)])
    broken = Path(
        "broken",
        [
            Step("make_thing_1", RequestAction("GET", "/things"), checks=ok, save={"thing": "id"}),
            Step("read_thing", RequestAction("GET", "/things/{{ thing }}"), checks=ok),
        ],
    )
    journey = Journey("every_operation", [Checkpoint("start"), Branch("start", [good, broken])])
    verdict = gate([journey], settings, runs=2)
    assert verdict.failing == {} and verdict.passing == ["every_operation"]
    assert verdict.set_aside == {"every_operation": ["broken"]}
    assert [p.name for p in journey.steps[1].paths] == ["good"]
    assert any("could not make" in line for line in verdict.lines())


def test_a_journey_whose_listing_had_nothing_to_act_on_is_set_aside_not_reported(content_app, tmp_path):
    """Synth looks up an id as a listing's first entry; an empty listing is no fault of the app's."""
    settings = Settings(
        base_url=content_app.base_url, store=str(tmp_path / "runs.db"), report_dir=str(tmp_path / "reports")
    )
    ok = [Check("status", value=200)]
    lookup = Journey(
        "schedule_lifecycle",
        [
            Step("list_schedules", RequestAction("GET", "/empty"), checks=ok, save={"schedule": "[0].id"}),
            Step("read_schedule", RequestAction("GET", "/schedules/{{ schedule }}"), checks=ok),
        ],
    )
    created = [Check("status", value=201)]
    refused = Journey(  # a status the step did not expect is a finding, empty listing or not
        "refused", [Step("list", RequestAction("GET", "/empty"), checks=created, save={"x": "[0].id"})]
    )
    verdict = gate([lookup, refused], settings, runs=2)
    assert "schedule_lifecycle" not in verdict.failing and "schedule_lifecycle" not in verdict.passing
    assert [j.name for j in verdict.kept] == ["refused"]
    assert verdict.unmade["schedule_lifecycle"].startswith("list_schedules: cannot save 'schedule'")
    assert any("schedule_lifecycle: synth could not make" in line for line in verdict.lines())


def test_synth_branches_whose_effects_outlive_the_restore_are_left_out(content_app, tmp_path):
    """``PUT /once/KEY`` keeps what it made in memory, as an app keeps files on disk: no restore
    undoes the generated branch's PUT, so the user's own PUT after it would get 409. Without the
    branch it passes; the branch goes, and nothing false is reported."""
    from replayqa import Branch, Checkpoint, Path

    settings = Settings(
        base_url=content_app.base_url, store=str(tmp_path / "runs.db"), report_dir=str(tmp_path / "reports")
    )
    put = RequestAction("PUT", "/once/{{ run_id }}")
    twice = Path(
        "twice",
        [
            Step("put_first", put, checks=[Check("status", value=201)]),
            Step("put_again", put, checks=[Check("status", value=["2xx", "4xx"])]),
        ],
        generated=True,
    )
    made = Step("put_once", put, checks=[Check("status", value=201)])
    journey = Journey("recorded", [Checkpoint("before_put"), Branch("before_put", [twice]), made])
    verdict = gate([journey], settings, runs=2)
    assert verdict.failing == {} and verdict.passing == ["recorded"]
    assert verdict.outlived == {"recorded": ["twice"]} and verdict.set_aside == {}
    assert any("outlived the restore" in line for line in verdict.lines())
    assert [type(n).__name__ for n in journey.steps] == ["Checkpoint", "Step"]


def test_a_journey_whose_branches_outlived_the_restore_is_judged_by_its_runs_without_them(
    content_app, tmp_path
):
    """What the leaked branches left behind differs from run to run, so the user's steps waver
    with them. Without them the journey passes every time: that, not "flaky", is its verdict."""
    from replayqa import Branch, Checkpoint, Path

    settings = Settings(
        base_url=content_app.base_url, store=str(tmp_path / "runs.db"), report_dir=str(tmp_path / "reports")
    )
    made, either = [Check("status", value=201)], [Check("status", value=["2xx", "4xx"])]
    first_run_only = Path(  # its first step makes a fixed key: 201 in the first run, 409 after
        "first_run_only",
        [
            Step("make_fixed", RequestAction("PUT", f"/once/fixed-{tmp_path.name}"), checks=made),
            Step("make_z", RequestAction("PUT", "/once/{{ run_id }}-z"), checks=made),
        ],
        generated=True,
    )
    every_run = Path(
        "every_run",
        [Step("make_x", RequestAction("PUT", "/once/{{ run_id }}-x"), checks=either)],
        generated=True,
    )
    users_path = Path(
        "users_path", [Step("put_z", RequestAction("PUT", "/once/{{ run_id }}-z"), checks=made)]
    )
    journey = Journey(
        "recorded",
        [
            Checkpoint("start"),
            Branch("start", [first_run_only, every_run, users_path]),  # put_z fails in the first run only
            Step("put_x", RequestAction("PUT", "/once/{{ run_id }}-x"), checks=made),  # fails in every run
        ],
    )
    verdict = gate([journey], settings, runs=2)
    assert verdict.flaky == {}
    assert verdict.passing == ["recorded"] and verdict.failing == {}
    assert verdict.outlived == {"recorded": ["every_run", "first_run_only"]}


def test_when_the_deadline_allows_one_run_what_failed_is_run_again_before_it_is_reported(
    content_app, tmp_path
):
    """A failure seen once is not yet a finding: the failing journeys alone run a second time."""
    import time

    settings = Settings(
        base_url=content_app.base_url, store=str(tmp_path / "runs.db"), report_dir=str(tmp_path / "reports")
    )
    # 201 the first time, 409 after: the check fails in the first run only
    once = Journey(
        "once", [Step("put", RequestAction("PUT", "/once/gate-key"), checks=[Check("status", value=409)])]
    )
    steady = Journey(
        "steady", [Step("read", RequestAction("GET", "/gzip"), checks=[Check("status", value=200)])]
    )
    verdict = gate([once, steady], settings, runs=3, deadline=time.monotonic() - 1)
    assert verdict.runs == 1 and verdict.rechecked == 1
    assert verdict.failing == {} and "once" in verdict.flaky
    assert verdict.passing == ["steady"]
    assert "1 failing journey run again" in verdict.lines()[0]
