"""Runs as plain, redacted dicts: the shape the JSON report and the run store share."""

from __future__ import annotations

import dataclasses
from typing import Any

from replayqa.model import Exchange, Issue, RunResult, StepResult
from replayqa.redact import Redactor


def exchange_dict(exchange: Exchange | None, redactor: Redactor) -> dict[str, Any] | None:
    clean = redactor.exchange(exchange)
    if clean is None or exchange is None:
        return None
    return {
        "request": _asdict(clean.request),
        "response": _asdict(clean.response),
        "error": clean.error,
        "duration_ms": round(exchange.duration_ms, 2),
    }


def issue_dict(issue: Issue, redactor: Redactor) -> dict[str, Any]:
    issue = redactor.issue(issue)
    return {
        "journey": issue.journey,
        "path": issue.path,
        "step": issue.step,
        "exchange_id": issue.exchange_id,
        "kind": issue.kind.value,
        "severity": issue.severity.value,
        "error": issue.error,
        "fingerprint": issue.fingerprint,
        "status": issue.status.value,
        "suggestion": issue.suggestion,
        "request": _asdict(issue.request),
        "response": _asdict(issue.response),
        "expected": _asdict(issue.expected),
        "diff": issue.diff,
        "logs": list(issue.logs),
    }


def step_dict(step: StepResult, redactor: Redactor) -> dict[str, Any]:
    return {
        "journey": step.journey,
        "path": step.path,
        "step": step.step,
        "exchange_id": step.exchange_id,
        "passed": step.passed,
        "expect_failure": step.expect_failure,
        "error": redactor.text(step.error) if step.error else step.error,
        "attempts": step.attempts,
        "duration_ms": round(step.duration_ms, 2),
        "exchange": exchange_dict(step.exchange, redactor),
    }


def run_dict(run: RunResult, redactor: Redactor) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "base_url": redactor.url(run.base_url),
        "started_at": run.started_at,
        "duration_ms": round(run.duration_ms, 2),
        "passed": run.passed,
        "summary": summary(run),
        "journeys": [
            {
                "name": j.journey,
                "source": j.source,
                "sessions": list(j.sessions),
                "passed": j.passed,
                "duration_ms": round(j.duration_ms, 2),
                "paths": [
                    {"path": p.path, "passed": p.passed, "steps": [s.step for s in p.steps]} for p in j.paths
                ],
                "steps": [step_dict(s, redactor) for s in j.steps],
                "issues": [issue_dict(i, redactor) for i in j.issues],
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
