"""replayqa: stateful QA for HTTP applications.

Journeys of steps, with checkpoints of the app's real database and branches
that run each path from the same state.
"""

from replayqa.actions import RequestAction
from replayqa.client import Client
from replayqa.context import ExecutionContext
from replayqa.errors import (
    AppUnreachableError,
    ConfigError,
    JourneyError,
    ReplayqaError,
    RestoreBlockedError,
    StateError,
    TemplateError,
    UnsafeDatabaseError,
)
from replayqa.model import (
    Branch,
    Check,
    Checkpoint,
    Exchange,
    HttpRequest,
    HttpResponse,
    Invariant,
    Issue,
    Journey,
    JourneyResult,
    Path,
    PathResult,
    RunResult,
    Severity,
    Step,
    StepResult,
)
from replayqa.runner import JourneyRunner
from replayqa.state import open_state

__version__ = "0.1.0"

__all__ = [
    "AppUnreachableError",
    "Branch",
    "Check",
    "Checkpoint",
    "Client",
    "ConfigError",
    "Exchange",
    "ExecutionContext",
    "HttpRequest",
    "HttpResponse",
    "Invariant",
    "Issue",
    "Journey",
    "JourneyError",
    "JourneyResult",
    "JourneyRunner",
    "Path",
    "PathResult",
    "ReplayqaError",
    "RequestAction",
    "RestoreBlockedError",
    "RunResult",
    "Severity",
    "StateError",
    "Step",
    "StepResult",
    "TemplateError",
    "UnsafeDatabaseError",
    "open_state",
]
