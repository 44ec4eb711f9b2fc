"""replayqa: stateful QA for HTTP applications.

Journeys of steps, with checkpoints of the app's real database and branches
that run each path from the same state.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
        IssueKind,
        IssueStatus,
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

#: Loaded on first use: ``import replayqa.record.sink`` (the recorder's writer
#: process) and the CLI should not pay for the runner and the OpenAPI stack.
_EXPORTS = {
    "AppUnreachableError": "replayqa.errors",
    "Branch": "replayqa.model",
    "Check": "replayqa.model",
    "Checkpoint": "replayqa.model",
    "Client": "replayqa.client",
    "ConfigError": "replayqa.errors",
    "Exchange": "replayqa.model",
    "ExecutionContext": "replayqa.context",
    "HttpRequest": "replayqa.model",
    "HttpResponse": "replayqa.model",
    "Invariant": "replayqa.model",
    "Issue": "replayqa.model",
    "IssueKind": "replayqa.model",
    "IssueStatus": "replayqa.model",
    "Journey": "replayqa.model",
    "JourneyError": "replayqa.errors",
    "JourneyResult": "replayqa.model",
    "JourneyRunner": "replayqa.runner",
    "Path": "replayqa.model",
    "PathResult": "replayqa.model",
    "ReplayqaError": "replayqa.errors",
    "RequestAction": "replayqa.actions",
    "RestoreBlockedError": "replayqa.errors",
    "RunResult": "replayqa.model",
    "Severity": "replayqa.model",
    "StateError": "replayqa.errors",
    "Step": "replayqa.model",
    "StepResult": "replayqa.model",
    "TemplateError": "replayqa.errors",
    "UnsafeDatabaseError": "replayqa.errors",
    "open_state": "replayqa.state",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'replayqa' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


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
    "IssueKind",
    "IssueStatus",
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
