from pathlib import Path

import pytest

from replayqa.actions import RequestAction
from replayqa.demo.run import journeys_dir
from replayqa.errors import JourneyError
from replayqa.loader import dump_journey, load_file, load_yaml
from replayqa.model import Branch, Check, Checkpoint


def test_the_demo_yaml_loads_into_the_model():
    journey = load_file(journeys_dir() / "checkout_payment.yaml").journeys[0]
    assert journey.name == "checkout_payment" and journey.variables["card_ok"] == "4242424242424242"
    kinds = [type(n).__name__ for n in journey.steps]
    assert kinds == ["Step", "Step", "Step", "Checkpoint", "Branch"]
    add = journey.steps[2]
    assert isinstance(add.action, RequestAction)
    assert add.action.headers == {"Authorization": "Bearer {{ token }}"}  # from a YAML anchor
    assert add.checks == (Check("status", value=201), Check("equals", "total_cents", 2400))
    assert add.save == {"cart_id": "id"}
    branch = journey.steps[4]
    assert isinstance(branch, Branch) and [p.name for p in branch.paths] == [
        "approved",
        "declined",
        "double_submit",
    ]


def test_dump_then_load_is_the_same_journey_and_dumping_is_stable():
    journey = load_file(journeys_dir() / "checkout_payment.yaml").journeys[0]
    text = dump_journey(journey)
    again = load_yaml(text, "dumped")
    assert dump_journey(again) == text
    assert again.steps[3] == Checkpoint("before_payment")
    assert text.index("name:") < text.index("request:") < text.index("expect:") < text.index("save:")


def test_python_journey_files_give_journeys_and_invariants():
    loaded = load_file(journeys_dir() / "shop.py")
    assert [j.name for j in loaded.journeys] == ["quantity_update", "item_removal"]
    assert [i.name for i in loaded.invariants] == [
        "never charged beyond the order total",
        "one paid order per cart",
    ]
    assert loaded.journeys[0].source.endswith("shop.py")


def test_malformed_yaml_names_the_line():
    with pytest.raises(JourneyError, match=r"bad\.yaml:4:1: malformed YAML: .*flow sequence at line 3\)"):
        load_yaml("name: j\nsteps:\n  - name: [oops\n", "bad.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just a list", "a journey file is a mapping"),
        ("name: j", "needs 'name' and a list of 'steps'"),
        ("name: j\nsteps: [{name: s}]", "a step needs 'name' and 'request'"),
        ("name: j\nsteps: [{name: s, request: {path: /}}]", "'request' needs 'method' and 'path'"),
        (
            "name: j\nsteps: [{name: s, request: {method: GET, path: /}, expect: {body: [{path: a}]}}]",
            "expect.body",
        ),
        ("name: j\nsteps: [{branch: {checkpoint: c}}]", "a branch needs 'checkpoint' and a list of 'paths'"),
        (
            "name: j\nsteps: [{name: s, request: {method: GET, path: /}, expect: {schema: maybe}}]",
            "or report",
        ),
    ],
)
def test_structural_errors_say_what_is_expected(text, message):
    with pytest.raises(JourneyError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_yaml(text, "j.yaml")


def test_yaml_is_never_evaluated(tmp_path: Path):
    with pytest.raises(JourneyError):
        load_yaml("!!python/object/apply:os.system ['echo pwned']", "evil.yaml")


def test_schema_report_is_a_check_that_reports_without_failing_the_step_and_round_trips():
    text = (
        "name: j\nsteps:\n- name: s\n  request: {method: POST, path: /things}\n"
        "  expect: {status: 2xx, schema: report}\n"
    )
    journey = load_yaml(text, "j.yaml")
    (step,) = journey.steps
    assert step.checks == (Check("status", value="2xx"), Check("schema", blocking=False))
    assert "schema: report" in dump_journey(journey)
