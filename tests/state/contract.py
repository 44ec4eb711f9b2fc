"""What every state backend promises, written once and checked against each real database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from replayqa.state.base import StateBackend


def assert_nested_rollbacks(
    backend: StateBackend,
    snapshot: Callable[[], Any],
    between: Callable[[], object],
    after: Callable[[], object],
) -> None:
    """Rolling back to any live checkpoint, in any order, gives back its exact contents.

    ``between`` writes after the outer checkpoint, ``after`` after the inner one.
    """
    backend.checkpoint("outer")
    at_outer = snapshot()
    between()
    backend.checkpoint("inner")
    at_inner = snapshot()
    after()
    backend.rollback("outer")
    assert snapshot() == at_outer
    backend.rollback("inner")
    assert snapshot() == at_inner
    backend.rollback("outer")
    assert snapshot() == at_outer
