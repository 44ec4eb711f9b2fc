"""Terminal output: a listener that turns runner events into progress lines.

Written for 80 columns: one line per finished path, long errors cut with an
ellipsis (the reports hold them in full).
"""

from __future__ import annotations

from rich.console import Console
from rich.status import Status
from rich.text import Text

from replayqa import events as ev
from replayqa.knowledge import failed
from replayqa.model import IssueStatus, PathResult, RunResult, plural


class ConsoleProgress:
    def __init__(self, console: Console) -> None:
        self.console = console
        self._status: Status | None = None

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            self.console.print(
                f"Running {plural(len(event.journeys), 'journey')} against {event.base_url}", highlight=False
            )
            self._status = self.console.status("starting", spinner="dots")
            self._status.start()
        elif isinstance(event, ev.StepStarted) and self._status is not None:
            self._status.update(f"{event.journey} › {event.path} › {event.step}")
        elif isinstance(event, ev.PathFinished):
            self.console.print(path_line(event.result), no_wrap=True, overflow="ellipsis")
        elif isinstance(event, ev.Note):
            line = Text(f"  ~ {event.journey}: {event.text}", style="dim")
            self.console.print(line, no_wrap=True, overflow="ellipsis")
        elif isinstance(event, ev.RunFinished) and self._status is not None:
            self._status.stop()
            self._status = None


class StepSpinner:
    """Only a spinner naming the step that runs: for runs whose paths are not news (the quality gate)."""

    def __init__(self, console: Console, label: str = "") -> None:
        self.console = console
        self.label = label
        self._status: Status | None = None

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            self._status = self.console.status(self.label, spinner="dots")
            self._status.start()
        elif isinstance(event, ev.StepStarted) and self._status is not None:
            self._status.update(f"{self.label}{event.journey} › {event.path} › {event.step}")
        elif isinstance(event, ev.RunFinished) and self._status is not None:
            self._status.stop()
            self._status = None


def path_line(result: PathResult) -> Text:
    line = Text("  ")
    if result.passed:
        line.append("✓ ", style="green")
        line.append(f"{result.journey} › {result.path}")
        line.append(f"  ({plural(len(result.steps), 'step')})", style="dim")
        return line
    line.append("✗ ", style="bold red")
    line.append(f"{result.journey} › {result.path}")
    if result.issues:
        first = result.issues[0]
        line.append(f"  {first.step}: {first.error}", style="red")
    return line


def summary_line(run: RunResult, fail_on: str = "any") -> Text:
    paths = [p for j in run.journeys for p in j.paths]
    passed = sum(p.passed for p in paths)
    ok = not failed(run, fail_on)
    text = Text("PASSED" if ok else "FAILED", style="bold green" if ok else "bold red")
    known = sum(i.status != IssueStatus.NEW for i in run.issues)
    issues = plural(len(run.issues), "issue") + (f" ({known} known)" if known else "")
    text.append(
        f"  {passed}/{len(paths)} paths passed, {issues}, {plural(run.steps_executed, 'step')}, "
        f"{run.duration_ms / 1000:.1f}s"
    )
    return text
