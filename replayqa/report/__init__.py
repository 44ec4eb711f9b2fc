"""Report writers. Each takes a finished run and writes one file; all redact secrets."""

from __future__ import annotations

from pathlib import Path

from replayqa.model import RunResult
from replayqa.redact import Redactor
from replayqa.report.html import write_html
from replayqa.report.jsonreport import write_json
from replayqa.report.junit import write_junit
from replayqa.report.markdown import write_markdown

__all__ = ["write_html", "write_json", "write_junit", "write_markdown", "write_reports"]


def write_reports(
    run: RunResult, folder: Path, redactor: Redactor, junit: Path | None = None, fail_on: str = "any"
) -> dict[str, Path]:
    """The Markdown, HTML, JSON and JUnit reports of a run; returns their paths by kind.

    ``redactor`` is the project's (``Settings.redactor()``): every report redacts through it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "markdown": write_markdown(run, folder / "report.md", redactor),
        "html": write_html(run, folder / "report.html", redactor),
        "json": write_json(run, folder / "report.json", redactor),
        "junit": write_junit(run, junit or folder / "junit.xml", redactor, fail_on),
    }
