"""``replayqa demo``: the shop, its journeys, and which planted bugs they caught."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from replayqa.config import Settings
from replayqa.demo.bugs import BUGS, PlantedBug, active_bugs
from replayqa.demo.server import DemoServer
from replayqa.events import Listener
from replayqa.execute import RunOutcome, run_journeys
from replayqa.loader import load_files
from replayqa.model import Issue
from replayqa.report.serialize import issue_dict


def journeys_dir() -> Path:
    return Path(str(resources.files("replayqa.demo").joinpath("journeys")))


def spec_path() -> Path:
    return Path(str(resources.files("replayqa.demo").joinpath("openapi.yaml")))


@dataclass
class DemoOutcome:
    outcome: RunOutcome
    active: set[str]
    found: dict[str, list[Issue]] = field(default_factory=dict)
    unexpected: list[Issue] = field(default_factory=list)

    @property
    def as_intended(self) -> bool:
        """Every active bug caught, nothing else reported."""
        return set(self.found) == self.active and not self.unexpected

    def bug_report(self, bug: PlantedBug) -> dict[str, Any]:
        issues = self.found.get(bug.key, [])
        return {
            "bug": bug.key,
            "title": bug.title,
            "active": bug.key in self.active,
            "found": bool(issues),
            "journey": bug.journey,
            "path": bug.path,
            "step": bug.step,
            "issues": [issue_dict(i, self.outcome.redactor) for i in issues],
        }

    def to_json(self) -> dict[str, Any]:
        run = self.outcome.result
        return {
            "as_intended": self.as_intended,
            "run_id": run.run_id,
            "passed": run.passed,
            "bugs": [self.bug_report(b) for b in BUGS],
            "unexpected_issues": [issue_dict(i, self.outcome.redactor) for i in self.unexpected],
            "reports": {k: str(v) for k, v in self.outcome.reports.items()},
        }


def run_demo(settings: Settings, listeners: Iterable[Listener] = ()) -> DemoOutcome:
    """Start the shop on a fresh database, run its journeys, match issues to planted bugs."""
    files = load_files([journeys_dir()])
    journeys = [j for f in files for j in f.journeys]
    invariants = [i for f in files for i in f.invariants]
    with DemoServer() as server:
        settings = settings.override(
            base_url=server.base_url,
            db=server.db_url,
            log_file=str(server.log_path),
            log_lines=10,
            spec=str(spec_path()),
        )
        outcome = run_journeys(journeys, settings, invariants, listeners)
    result = DemoOutcome(outcome, active_bugs())
    for issue in outcome.result.issues:
        bug = next(
            (b for b in BUGS if (b.journey, b.path, b.step) == (issue.journey, issue.path, issue.step)), None
        )
        if bug is None:
            result.unexpected.append(issue)
        else:
            result.found.setdefault(bug.key, []).append(issue)
    return result
