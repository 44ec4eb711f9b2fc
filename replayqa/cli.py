"""The ``replayqa`` command. Each command is a few lines around one library call.

Library errors (ReplayqaError) become one line on stderr and exit code 2;
exit 1 means the run found issues; 0 means all passed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from replayqa import __version__
from replayqa.config import Settings, load_settings
from replayqa.console import ConsoleProgress, summary_line
from replayqa.errors import ReplayqaError
from replayqa.execute import RunOutcome, run_journeys
from replayqa.loader import load_files
from replayqa.model import count_paths, count_steps
from replayqa.redact import redact_request, redact_response

EXIT_OK, EXIT_ISSUES, EXIT_ERROR = 0, 1, 2


class _Group(click.Group):
    """Turns library errors into one line and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ReplayqaError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            click.echo("replayqa: interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("REPLAYQA_DEBUG"):
                raise
            _fail(f"internal error: {type(exc).__name__}: {exc} (set REPLAYQA_DEBUG=1 for details)")


def _fail(message: str) -> None:
    click.echo(f"replayqa: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _console() -> Console:
    return Console(highlight=False, width=None if sys.stdout.isatty() else 80)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="replayqa")
def main() -> None:
    """Stateful QA for HTTP apps: journeys with real database checkpoints.

    \b
    Examples:
      replayqa demo
      replayqa run journeys/ --base-url http://127.0.0.1:8000 --db sqlite:///app-test.db
    """


@main.command()
@click.argument("journey_files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--base-url", help="Where the app under test listens.")
@click.option("--db", help="The app's database: sqlite:///path.db, postgresql://..., or none.")
@click.option(
    "--allow-restore",
    is_flag=True,
    default=None,
    help="Allow restores of a database whose name has no test/qa/replayqa.",
)
@click.option("--report-dir", help="Folder for the reports (a subfolder per run).")
@click.option("--junit", help="Also write JUnit XML here.")
@click.option("--spec", help="OpenAPI spec (file or URL) for `schema: true` checks.")
@click.option("--log-file", help="The app's log file; its last lines go into every issue.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of progress.")
def run(journey_files: tuple[Path, ...], as_json: bool, **flags: Any) -> None:
    """Run journey files (.yaml or .py) against a running app.

    With no files, runs the folders named by the `journeys` setting.
    Exit 0 if all passed, 1 if issues were found, 2 for errors.

    \b
    Example:
      replayqa run journeys/checkout.yaml --base-url http://127.0.0.1:8000 \\
          --db postgresql://qa@localhost/shop_test --junit junit.xml
    """
    settings = load_settings().override(**flags)
    files = load_files(journey_files or settings.journeys)
    journeys = [j for f in files for j in f.journeys]
    invariants = [i for f in files for i in f.invariants]
    console = _console()
    listeners = [] if as_json else [ConsoleProgress(console)]
    outcome = run_journeys(journeys, settings, invariants, listeners)
    if as_json:
        from replayqa.report.serialize import run_dict

        click.echo(
            json.dumps(
                {**run_dict(outcome.result), "reports": {k: str(v) for k, v in outcome.reports.items()}},
                indent=2,
            )
        )
    else:
        _print_outcome(console, outcome)
    sys.exit(EXIT_OK if outcome.result.passed else EXIT_ISSUES)


@main.command("list")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def list_journeys(paths: tuple[Path, ...]) -> None:
    """List the journeys in files or folders (default: the `journeys` setting).

    \b
    Example:
      replayqa list journeys/
    """
    settings = load_settings()
    files = load_files(paths or settings.journeys)
    table = Table(box=None, pad_edge=False)
    for column in ("journey", "paths", "steps", "file"):
        table.add_column(column)
    for loaded in files:
        for journey in loaded.journeys:
            table.add_row(
                journey.name,
                str(count_paths(journey.steps)),
                str(count_steps(journey.steps)),
                str(loaded.path),
            )
    console = _console()
    if table.row_count:
        console.print(table)
    else:
        console.print("no journeys found")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@click.option("--report-dir", default=None, help="Folder for the reports.")
def demo(as_json: bool, report_dir: str | None) -> None:
    """Start the demo shop, run its journeys with DB restores, report the bugs.

    The shop has four planted bugs; set REPLAYQA_DEMO_FIX_ALL=1 (or one
    REPLAYQA_DEMO_FIX_<BUG>=1) to switch them off. Exit 0 when the demo
    found exactly the bugs that are on.

    \b
    Example:
      replayqa demo
      REPLAYQA_DEMO_FIX_ALL=1 replayqa demo --json
    """
    from replayqa.demo.bugs import BUGS
    from replayqa.demo.run import run_demo

    console = _console()
    settings = Settings().override(report_dir=report_dir)
    result = run_demo(settings, [] if as_json else [ConsoleProgress(console)])
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        _print_outcome(console, result.outcome)
        console.print()
        for bug in BUGS:
            _print_bug(console, bug, result)
        verdict = "as intended" if result.as_intended else "NOT as intended"
        console.print(
            f"\nDemo ran {verdict}: {len(result.found)} of {len(result.active)} active planted bugs found."
        )
    sys.exit(EXIT_OK if result.as_intended else EXIT_ISSUES)


def _print_bug(console: Console, bug: Any, result: Any) -> None:
    if bug.key not in result.active:
        console.print(f"[dim]fixed[/]  {bug.title} (switched off)")
        return
    if bug.key not in result.found:
        console.print(f"[red]missed[/] {bug.title}")
        return
    issue = result.found[bug.key][0]
    request = redact_request(issue.request)
    response = redact_response(issue.response)
    rows = [("where", f"{bug.journey} › {bug.path} › {bug.step}")]
    if request:
        rows.append(("request", f"{request.method} {_path_of(request.url)} {request.body or ''}"))
    rows.append(("response", f"{response.status} {response.body}" if response else issue.error))
    rows.append(("why", issue.error))
    console.print(f"[green]found[/]  {bug.title}")
    for label, text in rows:
        console.print(
            f"       {label:<9}{' '.join(text.split())}",
            style="dim",
            no_wrap=True,
            overflow="ellipsis",
            markup=False,
        )


def _print_outcome(console: Console, outcome: RunOutcome) -> None:
    console.print()
    console.print(summary_line(outcome.result))
    for kind, path in outcome.reports.items():
        console.print(f"  {kind:<9} {path}", highlight=False)


def _path_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
