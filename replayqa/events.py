"""What the runner tells its listeners. The engine never prints; these do the talking.

The CLI's progress display, the run store, the reports and the TUI all
consume this one stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from replayqa.model import Issue, JourneyResult, PathResult, RunResult, StepResult


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    journeys: tuple[str, ...]
    base_url: str


@dataclass(frozen=True)
class JourneyStarted:
    journey: str


@dataclass(frozen=True)
class StepStarted:
    journey: str
    path: str
    step: str


@dataclass(frozen=True)
class StepFinished:
    result: StepResult


@dataclass(frozen=True)
class CheckpointTaken:
    journey: str
    checkpoint: str


@dataclass(frozen=True)
class StateRestored:
    journey: str
    checkpoint: str
    path: str


@dataclass(frozen=True)
class IssueFound:
    issue: Issue


@dataclass(frozen=True)
class Note:
    """Something a reader of the run should know that is no issue: what a replay learned or left out."""

    journey: str
    text: str


@dataclass(frozen=True)
class StateExplored:
    """The explorer reached a state it had not seen: for progress displays."""

    states: int
    actions: int
    depth: int


@dataclass(frozen=True)
class ViolationFound:
    """An explored action sequence broke an invariant; ``actions`` is the sequence as found."""

    issue: Issue
    actions: tuple[str, ...]


@dataclass(frozen=True)
class PathFinished:
    result: PathResult


@dataclass(frozen=True)
class JourneyFinished:
    result: JourneyResult


@dataclass(frozen=True)
class RunFinished:
    result: RunResult


Event = (
    RunStarted
    | JourneyStarted
    | StepStarted
    | StepFinished
    | CheckpointTaken
    | StateRestored
    | IssueFound
    | Note
    | StateExplored
    | ViolationFound
    | PathFinished
    | JourneyFinished
    | RunFinished
)
Listener = Callable[[Event], None]
