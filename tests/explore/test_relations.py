"""Relations learned while exploring: checked against each new object of the same kind, then learned from."""

from __future__ import annotations

from replayqa.explore.relations import RelationLearner, relation_invariant


def order(amount, refunded, status="open"):
    return {"id": amount, "amount": amount, "refunded": refunded, "status": status}


def test_a_relation_that_held_in_every_earlier_state_is_checked_in_the_next():
    learner = RelationLearner()
    for amount, refunded in ((100, 0), (50, 20), (80, 80)):
        assert learner.check(200, order(amount, refunded)) == []
    assert "refunded <= amount" in learner.relations
    broken = learner.check(200, order(100, 200))
    assert [expression for expression, _ in broken] == ["refunded <= amount"]
    assert "held in all 3" in broken[0][1]
    assert learner.check(404, order(100, 300)) == []  # only accepted answers are evidence or subjects


def test_objects_in_another_state_keep_their_own_relations():
    learner = RelationLearner()
    for total in (100, 250, 40):
        learner.check(200, {"id": total, "status": "paid", "total": total, "charged": total})
    # a failed payment charged nothing: paid orders' total == charged says nothing of it
    assert learner.check(200, {"id": 1, "status": "payment_failed", "total": 70, "charged": 0}) == []


def test_of_two_rival_guesses_for_one_field_the_one_still_holding_wins():
    learner = RelationLearner()
    for price in (100, 250, 40):
        line = {"unit": price, "line_total": price}
        learner.check(200, {"id": price, "total": price, "lines": [line]})
    two = {"id": 9, "total": 200, "lines": [{"unit": 100, "line_total": 200}]}
    assert learner.check(200, two) == []  # total == sum(unit) was a coincidence; sum(line_total) holds


def test_a_learned_relation_is_the_journeys_relation_invariant():
    invariant = relation_invariant("refunded <= amount", "held in all 3")
    assert invariant.spec == {
        "kind": "relation",
        "name": "learned: refunded <= amount",
        "expression": "refunded <= amount",
        "severity": "medium",
        "evidence": "learned while exploring: held in all 3",
    }
