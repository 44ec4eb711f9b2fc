"""Exploring a running app from settings: the one library call behind ``replayqa explore``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from replayqa.config import Settings
from replayqa.events import Listener
from replayqa.explore.graph import ExploreResult, StateGraph, Violation
from replayqa.loader import dump_journey

HEADER = "# Found by replayqa explore: run it with `replayqa run` to see the violation again.\n"


def explore_app(
    graph: StateGraph,
    settings: Settings,
    *,
    strategy: str = "bfs",
    max_depth: int = 4,
    max_steps: int | None = None,
    max_time: float | None = None,
    listeners: Iterable[Listener] = (),
) -> ExploreResult:
    """The graph explored against ``settings.base_url``, restoring ``settings.db`` when given."""
    from replayqa.execute import open_runner

    with open_runner(settings) as (runner, state):
        return graph.explore(
            runner.client,
            state,
            strategy,
            max_depth,
            max_steps,
            max_time=max_time,
            listeners=listeners,
        )


def write_violations(violations: Iterable[Violation], folder: Path) -> list[Path]:
    """One journey file per violation; only templates are written, never a ``--var`` value."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for violation in violations:
        path = folder / f"{violation.journey.name}.yaml"
        path.write_text(HEADER + dump_journey(violation.journey), encoding="utf-8")
        written.append(path)
    return written
