import pytest

from replayqa import Branch, Checkpoint, Journey, Path, RequestAction, Step
from replayqa.errors import JourneyError, TemplateError
from replayqa.validate import validate_journey


def get(name, path="/"):
    return Step(name, RequestAction("GET", path))


def test_a_checkpoint_taken_in_a_sibling_path_is_not_in_scope():
    journey = Journey(
        "j",
        [
            Checkpoint("top"),
            Branch("top", [Path("a", [Checkpoint("inner")]), Path("b", [Branch("inner", [Path("x", [])])])]),
        ],
    )
    with pytest.raises(JourneyError, match=r"path 'b'.*'inner'.*taken: top"):
        validate_journey(journey)


def test_references_to_later_steps_are_rejected():
    journey = Journey("j", [get("use", "/items/{{ steps.create.body.id }}"), get("create")])
    with pytest.raises(TemplateError, match=r"no earlier step 'create' \(earlier steps: none yet\)"):
        validate_journey(journey)


def test_values_come_from_vars_save_and_runner_variables():
    journey = Journey(
        "j",
        [
            Step("login", RequestAction("POST", "/login"), save={"token": "token"}),
            get("me", "/users/{{ user }}?t={{ token }}&base={{ tenant }}"),
        ],
        variables={"user": "ada"},
    )
    validate_journey(journey, variables={"tenant"})
    with pytest.raises(TemplateError, match=r"no value 'tenant'"):
        validate_journey(journey)


def test_after_a_python_step_context_names_cannot_be_known():
    journey = Journey("j", [Step("py", lambda c, ctx: None), get("use", "/{{ set_by_python }}")])
    validate_journey(journey)


def test_duplicate_path_names():
    journey = Journey("j", [Checkpoint("c"), Branch("c", [Path("a", []), Path("a", [])])])
    with pytest.raises(JourneyError, match="two paths named 'a'"):
        validate_journey(journey)
