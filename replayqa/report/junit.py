"""JUnit XML: one testsuite per journey, one testcase per path through it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from replayqa.knowledge import counts_as_failure
from replayqa.model import Issue, RunResult
from replayqa.redact import Redactor
from replayqa.report.markdown import issue_text


def _fails(issues: list[Issue], fail_on: str) -> bool:
    return any(counts_as_failure(i, fail_on) for i in issues)


def write_junit(run: RunResult, path: Path, redactor: Redactor, fail_on: str = "any") -> Path:
    """With ``fail_on="new"``, a path whose issues are all known passes (they are listed in its output)."""
    suites = ET.Element(
        "testsuites", name="replayqa", tests="0", failures="0", time=f"{run.duration_ms / 1000:.3f}"
    )
    total = failed = 0
    for journey in run.journeys:
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=journey.journey,
            tests=str(len(journey.paths)),
            failures=str(sum(_fails(p.issues, fail_on) for p in journey.paths)),
            time=f"{journey.duration_ms / 1000:.3f}",
        )
        for result in journey.paths:
            total += 1
            case = ET.SubElement(
                suite,
                "testcase",
                classname=journey.journey,
                name=result.path,
                time=f"{sum(s.duration_ms for s in result.steps) / 1000:.3f}",
            )
            if _fails(result.issues, fail_on):
                failed += 1
                first = next(i for i in result.issues if counts_as_failure(i, fail_on))
                failure = ET.SubElement(
                    case, "failure", message=f"{first.step}: {redactor.text(first.error)}"
                )
                failure.text = "\n\n".join(issue_text(i, redactor) for i in result.issues)
            elif result.issues:
                known = ET.SubElement(case, "system-out")
                known.text = "known issues:\n\n" + "\n\n".join(issue_text(i, redactor) for i in result.issues)
    suites.set("tests", str(total))
    suites.set("failures", str(failed))
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
    return path
