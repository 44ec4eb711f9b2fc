from replayqa import Branch, Checkpoint, Path, Step
from replayqa.model import count_paths, count_steps, path_label


def step(name):
    return Step(name, lambda c, ctx: None)


def test_counting_paths_and_steps_in_a_tree():
    tree = [
        step("a"),
        Checkpoint("c"),
        Branch(
            "c",
            [
                Path("x", [step("b"), Checkpoint("d"), Branch("d", [Path("p", []), Path("q", [step("e")])])]),
                Path("y", [step("f")]),
            ],
        ),
    ]
    assert count_paths(tree) == 3
    assert count_steps(tree) == 4
    assert count_paths([step("a")]) == 1


def test_path_labels():
    assert path_label(()) == "main"
    assert path_label(("payment", "declined")) == "payment/declined"


def test_issue_kinds_and_statuses_are_enums_that_read_as_their_strings():
    import json

    import pytest

    from replayqa.model import Issue, IssueKind, IssueStatus

    # Written before the enums, or read back from a report: plain strings become members.
    issue = Issue("j", "main", "pay", "boom", kind="db-regression", status="known")
    assert issue.kind is IssueKind.DB_REGRESSION and issue.status is IssueStatus.KNOWN
    assert json.dumps([issue.kind, issue.status]) == '["db-regression", "known"]'
    assert f"{issue.kind} {issue.status}" == "db-regression known"
    assert Issue("j", "main", "pay", "boom").kind == "step"
    with pytest.raises(ValueError):
        Issue("j", "main", "pay", "boom", kind="typo")
