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
