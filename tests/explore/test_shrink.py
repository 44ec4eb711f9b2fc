"""Delta debugging keeps the part of a failing sequence the failure needs, in order."""

from __future__ import annotations

from replayqa.explore.shrink import ddmin


def test_only_the_actions_the_failure_needs_are_kept_in_their_order():
    calls = []

    def fails(candidate):
        calls.append(list(candidate))
        return "create" in candidate and candidate.count("refund") >= 2

    found = ["list", "create", "get", "refund", "list", "refund"]
    assert ddmin(found, fails) == ["create", "refund", "refund"]
    assert all(len(c) < len(found) for c in calls)  # the full sequence is not run again


def test_the_same_action_twice_is_two_items():
    assert ddmin(["pay", "pay", "pay"], lambda c: len(c) >= 2) == ["pay", "pay"]


def test_a_sequence_that_no_part_of_reproduces_is_kept_whole():
    assert ddmin(["a", "b", "c"], lambda c: len(c) == 3) == ["a", "b", "c"]
