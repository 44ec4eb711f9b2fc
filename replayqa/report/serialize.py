"""Runs as plain, redacted dicts: the shape the JSON report and the run store share."""

from __future__ import annotations

import dataclasses
from typing import Any

from replayqa.model import Exchange, Issue, RunResult, StepResult
from replayqa.redact import redact_request, redact_response


def exchange_dict(exchange: Exchange | None) -> dict[str, Any] | None:
    if exchange is None:
        return None
    return {
        "request": _asdict(redact_request(exchange.request)),
        "response": _asdict(redact_response(exchange.response)),
        "error": exchange.error,
        "duration_ms": round(exchange.duration_ms, 2),
    }


def issue_dict(issue: Issue) -> dict[str, Any]:
    return {
        "journey": issue.journey,
        "path": issue.path,
        "step": issue.step,
        "kind": issue.kind,
        "severity": issue.severity.value,
        "error": issue.error,
        "fingerprint": issue.fingerprint,
        "status": issue.status,
        "suggestion": issue.suggestion,
        "request": _asdict(redact_request(issue.request)),
        "response": _asdict(redact_response(issue.response)),
        "expected": _asdict(redact_response(issue.expected)),
        "diff": issue.diff,
        "logs": list(issue.logs),
    }


def step_dict(step: StepResult) -> dict[str, Any]:
    return {
        "journey": step.journey,
        "path": step.path,
        "step": step.step,
        "passed": step.passed,
        "expect_failure": step.expect_failure,
        "error": step.error,
        "attempts": step.attempts,
        "duration_ms": round(step.duration_ms, 2),
        "exchange": exchange_dict(step.exchange),
    }


def run_dict(run: RunResult) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "base_url": run.base_url,
        "started_at": run.started_at,
        "duration_ms": round(run.duration_ms, 2),
        "passed": run.passed,
        "summary": summary(run),
        "journeys": [
            {
                "name": j.journey,
                "source": j.source,
                "passed": j.passed,
                "duration_ms": round(j.duration_ms, 2),
                "paths": [
                    {"path": p.path, "passed": p.passed, "steps": [s.step for s in p.steps]} for p in j.paths
                ],
                "steps": [step_dict(s) for s in j.steps],
                "issues": [issue_dict(i) for i in j.issues],
            }
            for j in run.journeys
        ],
    }


def summary(run: RunResult) -> dict[str, int]:
    paths = [p for j in run.journeys for p in j.paths]
    return {
        "journeys": len(run.journeys),
        "journeys_passed": sum(j.passed for j in run.journeys),
        "paths": len(paths),
        "paths_passed": sum(p.passed for p in paths),
        "steps": run.steps_executed,
        "issues": len(run.issues),
    }


def _asdict(value: Any) -> Any:
    return dataclasses.asdict(value) if value is not None else None
