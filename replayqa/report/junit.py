"""JUnit XML: one testsuite per journey, one testcase per path through it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from replayqa.model import RunResult
from replayqa.report.markdown import issue_text


def write_junit(run: RunResult, path: Path) -> Path:
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
            failures=str(sum(not p.passed for p in journey.paths)),
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
            if not result.passed:
                failed += 1
                first = result.issues[0] if result.issues else None
                failure = ET.SubElement(
                    case, "failure", message=f"{first.step}: {first.error}" if first else "failed"
                )
                failure.text = "\n\n".join(issue_text(i) for i in result.issues)
    suites.set("tests", str(total))
    suites.set("failures", str(failed))
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
    return path
