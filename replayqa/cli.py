"""The ``replayqa`` command. Each command is a few lines around one library call.

Library errors (ReplayqaError) become one line on stderr and exit code 2;
exit 1 means the run found issues; 0 means all passed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from replayqa import __version__
from replayqa.config import Settings, load_settings, name_values
from replayqa.console import ConsoleProgress, StepSpinner, summary_line
from replayqa.errors import ConfigError, ReplayqaError
from replayqa.knowledge import failed
from replayqa.model import IssueStatus, count_paths, count_steps
from replayqa.redact import RedactionRules, Redactor

if TYPE_CHECKING:
    from replayqa.execute import RunOutcome

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
            problem = _input_problem(exc)
            if problem is not None:
                _fail(problem)
            if os.environ.get("REPLAYQA_DEBUG"):
                raise
            _fail(f"internal error: {type(exc).__name__}: {exc} (set REPLAYQA_DEBUG=1 for details)")


def _input_problem(exc: Exception) -> str | None:
    """Bad input that reached a library below the checks: still the user's to fix, in one line."""
    if type(exc) is sqlite3.DatabaseError:  # damage; its subclasses are replayqa's own SQL going wrong
        return f"a SQLite file is damaged or not a database ({exc}): restore it from a copy, or make it again"
    if isinstance(exc, RecursionError):
        return (
            "the input nests too deeply or refers to itself (a YAML anchor or $ref cycle): "
            "write it out without the cycle"
        )
    if isinstance(exc, UnicodeDecodeError):
        return f"a file is not UTF-8 text (byte {exc.start}: {exc.reason}): save it as UTF-8"
    if isinstance(exc, OSError) and exc.filename and exc.strerror:  # an output path that cannot be
        return f"{exc.filename}: {exc.strerror}: check the path, or choose another"
    return None


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


def _project_settings(**flags: Any) -> Settings:
    """The project's settings with the flags given."""
    return load_settings().override(**flags)


def _redaction_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """What recording commands share: more headers and fields to redact than the built-in ones."""
    options = [
        click.option(
            "--redact-header",
            "redact_headers",
            multiple=True,
            help="Also redact this header (repeatable; adds to redact_headers in config).",
        ),
        click.option(
            "--redact-field",
            "redact_fields",
            multiple=True,
            help="Also redact JSON, form and query fields with this whole name (repeatable).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _recording_rules(headers: tuple[str, ...], fields: tuple[str, ...]) -> RedactionRules:
    from replayqa.record.settings import RECORDING_RULES

    settings = load_settings()
    return RECORDING_RULES.extended([*settings.redact_headers, *headers], [*settings.redact_fields, *fields])


def _given(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[str] | None:
    """A repeatable option given no times is None, so the config's list stands."""
    return list(value) or None


def _store_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--store URL`` (repeatable): a Redis database the app keeps state in, beside ``--db``."""
    return click.option(
        "--store",
        "stores",
        multiple=True,
        metavar="URL",
        callback=_given,
        help=f"A Redis store the app keeps sessions, carts or counters in, {what} (repeatable), "
        "e.g. redis://127.0.0.1:6379/0?name=cache_test; restores need test/qa in its name.",
    )


def _app_options(
    db_help: str, spec_help: str, store_help: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options every command that talks to the app under test shares (run, replay)."""
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        click.option("--base-url", help="Where the app under test listens."),
        click.option("--db", help=db_help),
        _store_option(store_help),
        click.option(
            "--allow-restore",
            is_flag=True,
            default=None,
            help="Allow restores of a database whose name has no test/qa/replayqa.",
        ),
        click.option("--spec", help=spec_help),
        click.option("--log-file", help="The app's log file; its last lines go into every issue."),
        click.option("--report-dir", help="Folder for the reports (a subfolder per run)."),
        click.option("--junit", help="Also write JUnit XML here."),
        click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of progress."),
        click.option(
            "--build",
            help="A label for the build under test: a step that passed in another run of the same build "
            "and fails now is flaky.",
        ),
        click.option(
            "--fail-on",
            type=click.Choice(["any", "new"]),
            default=None,
            help="Exit 1 on any issue (default), or only on issues no known-issue rule covers.",
        ),
    ]

    def apply(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


@main.command()
@click.argument("journey_files", nargs=-1, type=click.Path(path_type=Path))
@_app_options(
    "The app's database: sqlite:///path.db, postgresql://..., mysql://..., or none.",
    "OpenAPI spec (file or URL) for `schema: true` checks.",
    "checkpointed and restored with --db",
)
@click.option(
    "--repeat",
    type=int,
    default=None,
    help="Run N times from the same state; mark flaky steps.",
)
@click.option(
    "--var",
    "var_pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A value for {{ NAME }} in the journeys, e.g. a password (repeatable).",
)
def run(journey_files: tuple[Path, ...], as_json: bool, var_pairs: tuple[str, ...], **flags: Any) -> None:
    """Run journey files (.yaml or .py) against a running app.

    With no files, runs the folders named by the `journeys` setting.
    Exit 0 if all passed, 1 if issues were found, 2 for errors.

    \b
    Example:
      replayqa run journeys/checkout.yaml --base-url http://127.0.0.1:8000 \\
          --db postgresql://qa@localhost/shop_test --junit junit.xml
    """
    settings = _project_settings(**flags)
    from replayqa.execute import run_journeys
    from replayqa.loader import load_files

    settings = replace(settings, vars={**settings.vars, **name_values(var_pairs, "--var", "password=s3cret")})
    files = load_files(journey_files or settings.journeys)
    journeys = [j for f in files for j in f.journeys]
    invariants = [i for f in files for i in f.invariants]
    console = _console()
    listeners: list[Any] = [] if as_json else [ConsoleProgress(console)]
    from replayqa.validate import validate_journey

    for journey in journeys:  # a journey that cannot run is the one thing to say
        validate_journey(journey, settings.vars)
    if not settings.db and _needs_database(journeys):
        listeners.append(
            _warn_on_start(
                "warning: no --db: branches and journeys will not start from the same database state, "
                "and db: checks see nothing (give --db URL of the app's test database)"
            )
        )
    outcome = run_journeys(journeys, settings, invariants, listeners)
    if as_json:
        from replayqa.report.serialize import run_dict

        click.echo(
            json.dumps(
                {
                    **run_dict(outcome.result, outcome.redactor),
                    "reports": {k: str(v) for k, v in outcome.reports.items()},
                },
                indent=2,
            )
        )
    else:
        _print_outcome(console, outcome, settings.fail_on)
    sys.exit(EXIT_ISSUES if failed(outcome.result, settings.fail_on) else EXIT_OK)


@main.command("list")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def list_journeys(paths: tuple[Path, ...]) -> None:
    """List the journeys in files or folders (default: the `journeys` setting).

    \b
    Example:
      replayqa list journeys/
    """
    from replayqa.loader import load_files

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
        if result.active:
            console.print(
                "  (the journeys fail where the planted bugs are: that is what the demo shows)",
                style="dim",
                highlight=False,
            )
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
    request = result.outcome.redactor.request(issue.request)
    response = result.outcome.redactor.response(issue.response)
    rows = [("where", f"{bug.journey} › {bug.path} › {bug.step}")]
    if request:
        rows.append(("request", f"{request.method} {_path_of(request.url)} {request.body or ''}"))
    why = result.outcome.redactor.text(issue.error)
    rows.append(("response", f"{response.status} {response.body}" if response else why))
    rows.append(("why", why))
    console.print(f"[green]found[/]  {bug.title}")
    for label, text in rows:
        console.print(
            f"       {label:<9}{' '.join(text.split())}",
            style="dim",
            no_wrap=True,
            overflow="ellipsis",
            markup=False,
        )


def _print_outcome(console: Console, outcome: RunOutcome, fail_on: str = "any") -> None:
    console.print()
    console.print(summary_line(outcome.result, fail_on))
    for kind, path in outcome.reports.items():
        console.print(f"  {kind:<9} {path}", highlight=False)


def _path_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@main.command("record")
@click.option("--upstream", help="The app's URL: run a reverse proxy in front of it.")
@click.option(
    "--mode",
    type=click.Choice(["reverse", "regular"]),
    default=None,
    help="reverse (with --upstream) or regular: a forward proxy for browsers and devices.",
)
@click.option(
    "--listen",
    default=None,
    help="HOST:PORT to listen on (default 127.0.0.1:8888, or :8080 regular); "
    "a LAN address is an open proxy unless --allow-client limits it.",
)
@click.option("--out", type=click.Path(path_type=Path), help="Recording file (default recordings/NAME.db).")
@click.option("--name", default="", help="A name for the recording.")
@click.option("--db", help="The app's database, captured when sessions start and end.")
@_store_option("captured with --db when sessions start and end")
@click.option("--spec", help="OpenAPI spec: tag each exchange with its operation.")
@click.option("--include", multiple=True, help="Keep only HOST, HOST/PATH or /PATH matches (repeatable).")
@click.option("--exclude", multiple=True, help="Drop HOST, HOST/PATH or /PATH matches (repeatable).")
@_redaction_options
@click.option(
    "--include-static", is_flag=True, help="Also keep static assets and browser background traffic."
)
@click.option(
    "--idle-gap", type=float, default=300.0, show_default=True, help="Seconds of silence that end a session."
)
@click.option(
    "--upstream-ca",
    metavar="FILE",
    help="PEM file of the CA (or self-signed certificate) an HTTPS upstream uses, e.g. staging's.",
)
@click.option(
    "--upstream-insecure",
    is_flag=True,
    default=None,
    help="Do not verify upstream certificates at all (prints a warning).",
)
@click.option(
    "--client-cert",
    metavar="FILE",
    help="PEM file with a client certificate and its key, for upstreams that demand mutual TLS.",
)
@click.option(
    "--allow-client",
    "allow_client",
    multiple=True,
    metavar="CIDR",
    callback=_given,
    help="With --listen on a LAN address: serve only these clients (repeatable), e.g. 192.168.1.0/24.",
)
def record_command(
    upstream: str | None, mode: str | None, listen: str | None, out: Path | None, **flags: Any
) -> None:
    """Record traffic through a proxy, with database captures around each session.

    Stop with Ctrl+C (or SIGTERM): every session is closed, its end state
    captured, and a summary printed. Phones and tablets: listen on a LAN
    address, allow their addresses, and open http://replayqa.test/ on them
    to mark sessions and get the CA certificate.

    \b
    Examples:
      replayqa record --upstream http://127.0.0.1:8000 --db sqlite:///app_test.db
      replayqa record --mode regular --listen 127.0.0.1:8080 \\
          --out recordings/browser.db
      replayqa record --mode regular --listen 192.168.1.10:8080 \\
          --allow-client 192.168.1.0/24 --upstream-ca staging-ca.pem
    """
    from replayqa.record.lan import ClientRanges, exposure_warning, parse_client_ranges
    from replayqa.record.proxy import ProxyConfig, parse_listen, record
    from replayqa.record.settings import RecorderSettings
    from replayqa.record.upstream_tls import INSECURE_WARNING, UpstreamTLS

    mode = mode or ("reverse" if upstream else None)
    if mode is None:
        raise click.UsageError(
            "give --upstream URL for a reverse proxy, or --mode regular for a forward proxy"
        )
    if mode == "reverse" and not upstream:
        raise click.UsageError("--mode reverse needs --upstream URL")
    host, port = parse_listen(listen or "", 8888 if mode == "reverse" else 8080)
    name = flags.pop("name") or time.strftime("recording-%Y%m%d-%H%M%S")
    out = out or Path("recordings") / f"{name}.db"
    settings = RecorderSettings(
        out=out,
        name=name,
        db=flags["db"],
        stores=tuple(flags["stores"] or ()),
        spec=flags["spec"],
        include=tuple(flags["include"]),
        exclude=tuple(flags["exclude"]),
        include_static=flags["include_static"],
        idle_gap=flags["idle_gap"],
        rules=_recording_rules(flags["redact_headers"], flags["redact_fields"]),
        mode=mode,
        upstream=upstream,
    )
    proxy_mode = f"reverse:{upstream}" if mode == "reverse" else "regular"
    config = load_settings().override(
        upstream_ca=flags["upstream_ca"],
        upstream_insecure=flags["upstream_insecure"],
        client_cert=flags["client_cert"],
        allow_client=flags["allow_client"],
    )
    tls = UpstreamTLS(
        ca=_setting(config, "upstream_ca", str),
        insecure=bool(_setting(config, "upstream_insecure", bool)),
        client_cert=_setting(config, "client_cert", str),
    )
    tls.check()  # before any warning: a contradiction is an error, not a warning
    clients = ClientRanges(parse_client_ranges(_setting(config, "allow_client", list) or []))
    console = _console()
    errors = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 80)
    warnings = [
        w for w in (exposure_warning(host, port, clients), INSECURE_WARNING if tls.insecure else None) if w
    ]

    def ready(addresses: list[tuple[str, int]]) -> None:
        for warning in warnings:  # once it listens: a proxy that failed to start exposes nothing
            errors.print(warning, style="yellow", soft_wrap=True)
        where = ", ".join(f"{h}:{p}" for h, p in addresses) or f"{host}:{port}"
        console.print(f"Recording to {out}", highlight=False)
        if mode == "reverse":
            console.print(f"  proxy  http://{where} → {upstream}", highlight=False)
            page = f"http://{host}:{port}/__replayqa/"
        else:
            console.print(f"  proxy  http://{where} (set it as the HTTP and HTTPS proxy)", highlight=False)
            console.print("  HTTPS  trust ~/.mitmproxy/mitmproxy-ca-cert.pem", highlight=False)
            page = "http://replayqa.test/ (through the proxy)"
        console.print(f"  control page: {page}", highlight=False)
        console.print(
            f"  mark sessions: replayqa session start NAME --proxy http://{host}:{port}", highlight=False
        )
        console.print("  stop with Ctrl+C", style="dim")

    status = console.status("waiting for traffic", spinner="dots") if console.is_terminal else None

    def tick(stats: dict[str, int]) -> None:
        if status is not None:
            status.update(
                f"{_count(stats['exchanges'], 'exchange')}, {stats['open_sessions']} of "
                f"{_count(stats['sessions'], 'session')} open, {_count(stats['captures'], 'capture')}"
            )
            status.start()

    try:
        summary = record(
            settings,
            ProxyConfig(proxy_mode, host, port, tls, clients),
            ready,
            tick,
            lambda line: errors.print(line, soft_wrap=True),
        )
    finally:
        if status is not None:
            status.stop()
    console.print(
        f"\nRecorded {_count(summary.get('exchanges', 0), 'exchange')} in "
        f"{_count(summary.get('sessions', 0), 'session')}, "
        f"{_count(summary.get('checkpoints', 0), 'database capture')}\n  to {summary.get('out', out)}",
        highlight=False,
    )


def _setting(settings: Settings, key: str, kind: type) -> Any:
    """A setting as the type it must be; replayqa.toml can hold anything."""
    value = getattr(settings, key)
    if value is None or isinstance(value, kind):
        return value
    where = f" in {settings.source}" if settings.source else ""
    raise ConfigError(f"setting {key}{where} must be a {kind.__name__}, not {type(value).__name__}: fix it")


@main.group()
def session() -> None:
    """Mark where a named session starts and ends in a running recording.

    \b
    Example:
      replayqa session start checkout --proxy http://127.0.0.1:8888
      replayqa session end --proxy http://127.0.0.1:8888
    """


@session.command("start")
@click.argument("name")
@click.option("--proxy", default="http://127.0.0.1:8888", show_default=True, help="The recording proxy.")
def session_start(name: str, proxy: str) -> None:
    """Start the named session for this machine's traffic.

    \b
    Example:
      replayqa session start checkout --proxy http://127.0.0.1:8888
    """
    from replayqa.record.markers import send_marker

    answer = send_marker(proxy, "start", name)
    click.echo(f"session {answer['session']!r} started")


@session.command("end")
@click.option("--proxy", default="http://127.0.0.1:8888", show_default=True, help="The recording proxy.")
def session_end(proxy: str) -> None:
    """End the session started from this machine.

    \b
    Example:
      replayqa session end --proxy http://127.0.0.1:8888
    """
    from replayqa.record.markers import send_marker

    answer = send_marker(proxy, "end")
    click.echo(f"session {answer['session']!r} ended after {answer['exchanges']} exchanges")


@main.command()
@click.argument("recording", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def show(recording: Path, as_json: bool) -> None:
    """Print a recording's sessions and exchanges.

    \b
    Example:
      replayqa show recordings/checkout.db
    """
    from replayqa.record.storage import Recording

    opened = Recording.open(recording)
    try:
        described = opened.describe()
    finally:
        opened.close()
    if as_json:
        click.echo(json.dumps(described, indent=2, default=str))
        return
    console = _console()
    meta = described["meta"]
    console.print(
        f"{meta.get('name')}  ({_count(len(described['sessions']), 'session')}, "
        f"{_count(sum(len(s['exchanges']) for s in described['sessions']), 'exchange')}, "
        f"{_count(len(described['checkpoints']), 'database capture')})",
        highlight=False,
    )
    for item in described["sessions"]:
        overlap = ", overlapped" if item["overlapped"] else ""
        console.print(
            f"\n[bold]{item['name']}[/]  {item['identity']}, {_count(item['exchange_count'], 'exchange')}, "
            f"ended: {item['end_reason'] or 'open'}{overlap}"
        )
        for exchange in item["exchanges"]:
            status = exchange["status"] if exchange["status"] is not None else "ERR"
            console.print(
                f"  {exchange['id']:>4} {exchange['method']:<6} {status!s:<4} "
                f"{_path_of(exchange['url'])}  [dim]{exchange['operation'] or ''}[/]",
                no_wrap=True,
                overflow="ellipsis",
            )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


@main.command("import")
@click.argument("har", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The recording file to write.")
@click.option("--name", default="", help="A name for the recording.")
@click.option("--spec", help="OpenAPI spec: tag each exchange with its operation.")
@click.option(
    "--idle-gap", type=float, default=300.0, show_default=True, help="Seconds of silence that end a session."
)
@_redaction_options
def import_command(
    har: Path,
    out: Path,
    name: str,
    spec: str | None,
    idle_gap: float,
    redact_headers: tuple[str, ...],
    redact_fields: tuple[str, ...],
) -> None:
    """Turn a HAR file (a browser devtools export) into a recording.

    \b
    Example:
      replayqa import checkout.har --out recordings/checkout.db
    """
    from replayqa.record.har import import_har
    from replayqa.record.settings import RecorderSettings

    settings = RecorderSettings(
        out=out,
        name=name or har.stem,
        spec=spec,
        idle_gap=idle_gap,
        mode="har",
        rules=_recording_rules(redact_headers, redact_fields),
    )
    summary = import_har(har, settings)
    exchanges, sessions = _count(summary["exchanges"], "exchange"), _count(summary["sessions"], "session")
    click.echo(f"imported {exchanges} in {sessions} to {out}")


@main.command("export")
@click.argument("targets", nargs=-1, required=True)
@click.option("--har", type=click.Path(path_type=Path), help="The HAR file to write (from a recording).")
@click.option(
    "-o", "--out", "out_dir", type=click.Path(path_type=Path), help="With pytest: the folder to write."
)
def export_command(targets: tuple[str, ...], har: Path | None, out_dir: Path | None) -> None:
    """Export a recording as HAR, or journeys as a pytest module.

    \b
    Examples:
      replayqa export recordings/checkout.db --har checkout.har
      replayqa export pytest journeys/ -o tests/journeys
    """
    if targets[0] == "pytest":
        if not out_dir or len(targets) < 2:
            raise click.UsageError("write it as: replayqa export pytest JOURNEY... -o DIR")
        from replayqa.synth.pytest_export import export_pytest

        module = export_pytest([Path(t) for t in targets[1:]], out_dir)
        click.echo(f"wrote {module}; run it with: REPLAYQA_BASE_URL=http://... pytest {out_dir}")
        return
    if len(targets) != 1 or har is None:
        raise click.UsageError("write it as: replayqa export RECORDING --har FILE (or: export pytest ...)")
    from replayqa.record.har import export_har

    click.echo(f"exported {_count(export_har(Path(targets[0]), har), 'exchange')} to {har}")


@main.command()
@click.option("--spec", required=True, help="OpenAPI spec, a file or URL.")
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--missing", is_flag=True, help="List only operations and statuses never exercised.")
def coverage(spec: str, sources: tuple[Path, ...], as_json: bool, missing: bool) -> None:
    """API coverage: operations and documented statuses the app answered, or journeys expect.

    Recordings and run stores (``.replayqa/runs.db``: journey runs, synth's
    quality gate and fuzz phase) hold what the app answered; journey files
    only what they expect, and are counted as planned.

    \b
    Examples:
      replayqa coverage --spec openapi.yaml recordings/shop.db
      replayqa coverage --spec openapi.yaml journeys/ --missing
      replayqa coverage --spec http://127.0.0.1:8000/openapi.json \\
          .replayqa/runs.db
    """
    from replayqa.loader import expand_paths, load_files
    from replayqa.store import FORMAT
    from replayqa.synth.coverage import Coverage
    from replayqa.synth.openapi import Api

    report = Coverage(Api.load(spec))
    planned = False  # journeys say what they expect; recordings and run stores what the app answered
    for source in sources:
        if source.is_file() and source.suffix == ".db":
            if _sqlite_meta(source) == FORMAT:
                report.add_store(source)
            else:
                report.add_recording(source)
        else:
            planned = True
            for loaded in load_files(expand_paths([source])):
                for journey in loaded.journeys:
                    report.add_journey_nodes(journey.steps)
    rows, total = report.rows(), report.summary()
    if as_json:
        click.echo(json.dumps({"summary": total, "operations": rows}, indent=2))
        return
    console = _console()
    table = Table(box=None, pad_edge=False)
    for column in ("operation", "seen", "never seen"):
        table.add_column(column, overflow="fold")
    for row in rows:
        if missing and row["exercised"] and not row["documented_missed"]:
            continue
        seen = ", ".join(row["statuses_seen"]) if row["exercised"] else "-"
        name = row["operation"] if row["operation"] != f"{row['method']} {row['path']}" else row["path"]
        table.add_row(f"{row['method']} {name}", seen, ", ".join(row["documented_missed"]) or "")
    console.print(table)
    operations, statuses = total["operations"], total["documented_statuses"]
    if planned:
        console.print(
            "Journeys count as the statuses they expect, not answers the app gave: for what it "
            "answered, give a run store (.replayqa/runs.db) or a recording.",
            highlight=False,
        )
    console.print(
        f"Operations {'planned' if planned else 'exercised'}: {total['exercised']}/{operations} "
        f"({_percent(total['exercised'], operations)}), with a 2xx: {total['reached_2xx']}/{operations}; "
        f"documented statuses: {total['documented_statuses_hit']}/{statuses} "
        f"({_percent(total['documented_statuses_hit'], statuses)})",
        highlight=False,
    )


def _warn_on_start(text: str) -> Callable[[Any], None]:
    """A listener saying ``text`` once the run has started: after anything that would stop it."""
    from replayqa import events as ev

    def listen(event: Any) -> None:
        if isinstance(event, ev.RunStarted):
            click.echo(text, err=True)

    return listen


def _needs_database(journeys: list[Any]) -> bool:
    """Journeys whose branches, or ``db:`` checks, only mean something with the database restored."""
    from replayqa.execute import needs_restore
    from replayqa.model import Branch, Step

    def db_checks(nodes: Any) -> bool:
        for node in nodes:
            if isinstance(node, Step) and any(c.kind == "db" for c in node.checks):
                return True
            if isinstance(node, Branch) and any(db_checks(p.steps) for p in node.paths):
                return True
        return False

    return needs_restore(journeys) or any(db_checks(j.steps) for j in journeys)


def _sqlite_meta(path: Path) -> str | None:
    """The format a replayqa SQLite file declares (run stores do), or None."""
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    except sqlite3.DatabaseError:
        return None
    return str(row[0]) if row else None


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "n/a"


@main.command("replay")
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path))
@_app_options(
    "The app's database: each session's recorded start state is restored into it.",
    "OpenAPI spec: every replayed response is validated against it.",
    "restored to each session's recorded keys and compared at its end",
)
@click.option("--session", "sessions", multiple=True, help="Replay only this session (repeatable).")
@click.option("--start", help='Start the app with this shell command first, e.g. "python -m app".')
@click.option("--health", help="With --start: wait until this URL answers (default: --base-url).")
@click.option(
    "--health-timeout", type=float, default=60.0, show_default=True, help="Seconds to wait for --health."
)
@click.option("--shard", help="K/N: replay only the K-th of N deterministic shares of the sessions.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Replay sessions in parallel; with --db each worker gets its own app (--start) and database copy.",
)
@click.option(
    "--learn-noise",
    is_flag=True,
    help="Replay each session twice from the same state; keep the values the server made anew each time "
    "as noise rules in the recording.",
)
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    metavar="NAME=VALUE",
    help="Value for a redacted field or header, e.g. password=... or authorization=user:pw (repeatable; "
    "also REPLAYQA_SECRET_PASSWORD=... in the environment).",
)
def replay_command(
    recordings: tuple[Path, ...],
    sessions: tuple[str, ...],
    secrets: tuple[str, ...],
    as_json: bool,
    learn_noise: bool,
    start: str | None,
    health: str | None,
    health_timeout: float,
    shard: str | None,
    workers: int,
    **flags: Any,
) -> None:
    """Replay recordings against the app and report what changed.

    Each session starts from the database state captured when it was
    recorded. Ids and tokens are rebound; timestamps, UUIDs and other noise
    are not reported. Exit 0 with no regressions, 1 with regressions, 2 for
    errors.

    \b
    Example:
      replayqa replay recordings/checkout.db --base-url http://127.0.0.1:8000 \\
          --db sqlite:///app_test.db --secret password=qa-password
      replayqa replay recordings/checkout.db --base-url http://127.0.0.1:8000 \\
          --learn-noise
    """
    from replayqa.execute import ReplayOptions, learn_noise_in, replay_recordings

    settings = _project_settings(**flags)
    if not settings.base_url:
        raise click.UsageError("give --base-url http://host:port (or base_url in replayqa.toml)")
    options = ReplayOptions(
        sessions,
        name_values(secrets, "--secret", "password=qa-password"),
        _shard(shard) if shard else (1, 1),
        workers,
        start,
        health,
        health_timeout,
    )
    if learn_noise and workers > 1:
        raise click.UsageError("--learn-noise replays one session at a time: leave out --workers")
    if learn_noise:
        rules = learn_noise_in(recordings, settings, options)
        for rule in rules:
            click.echo(f"  {rule.path}" + (f"  of {rule.operation}" if rule.operation else ""))
        kept = f"{_count(len(rules), 'new noise rule')} kept with the recordings"
        click.echo(f"{kept} (review them: replayqa show --json)")
        return
    console = _console()
    outcome = replay_recordings(recordings, settings, options, [] if as_json else [ConsoleProgress(console)])
    if as_json:
        from replayqa.report.serialize import run_dict

        reports = {k: str(v) for k, v in outcome.reports.items()}
        click.echo(json.dumps({**run_dict(outcome.result, outcome.redactor), "reports": reports}, indent=2))
    else:
        _print_outcome(console, outcome, settings.fail_on)
    sys.exit(EXIT_ISSUES if failed(outcome.result, settings.fail_on) else EXIT_OK)


def _shard(text: str) -> tuple[int, int]:
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise click.UsageError(f"--shard {text!r}: write it as K/N with 1 <= K <= N, e.g. 2/4")
    return int(k), int(n)


@main.command()
@click.argument("action", type=click.Choice(["up", "down", "logs"]))
@click.argument("service", required=False)
@click.option(
    "--file",
    "compose_file",
    type=click.Path(path_type=Path),
    default=Path("docker-compose.qa.yml"),
    show_default=True,
    help="The compose file.",
)
@click.option("--tail", type=int, default=100, show_default=True, help="With logs: how many lines.")
def infra(action: str, service: str | None, compose_file: Path, tail: int) -> None:
    """Start, stop or read the logs of docker-compose.qa.yml (PostgreSQL and the demo app).

    Only for machines with Docker; replayqa itself never needs it.

    \b
    Example:
      replayqa infra up
      replayqa infra logs demo --tail 50
      replayqa infra down
    """
    from replayqa.infra import compose

    sys.exit(compose(action, compose_file, service, tail))


@main.group("issues")
def issues_group() -> None:
    """What the run store remembers about failures, grouped by fingerprint.

    \b
    Example:
      replayqa issues list
      replayqa issues mark 3f2a9c1d0e4b known --reason "BUG-123, fix in 2.4"
    """


@issues_group.command("list")
@click.option(
    "--store",
    type=click.Path(path_type=Path),
    default=None,
    help="The run store (default .replayqa/runs.db).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def issues_list(store: Path | None, as_json: bool) -> None:
    """Every fingerprint seen: how often, in how many runs, first and last seen, and its status.

    \b
    Example:
      replayqa issues list --json
    """
    from replayqa.store import RunStore

    opened = RunStore.open_existing(store or load_settings().store)
    known = {rule.fingerprint: rule.status for rule in opened.known_rules()}
    known |= {fingerprint: IssueStatus.FIXED for fingerprint in opened.resolutions()}
    rows = [
        {**row, "status": known.get(row["fingerprint"], IssueStatus.NEW).value}
        for row in opened.occurrences()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    console = _console()
    if not rows:
        console.print("no issues recorded yet")
    for row in rows:
        seen = time.strftime("%Y-%m-%d %H:%M", time.localtime(row["last_seen"]))
        console.print(
            f"[bold]{row['fingerprint']}[/]  {row['status']:<6} {row['occurrences']}× in "
            f"{_count(row['runs'], 'run')}, last {seen}",
            highlight=False,
        )
        console.print(
            f"  {row['latest_where']}: {row['latest_error']}",
            style="dim",
            no_wrap=True,
            overflow="ellipsis",
            markup=False,
        )


@issues_group.command("mark")
@click.argument("fingerprint")
@click.argument("status", type=click.Choice([s.value for s in IssueStatus]))
@click.option("--reason", default="", help="Why: a ticket, a note for whoever sees it next.")
@click.option(
    "--store",
    type=click.Path(path_type=Path),
    default=None,
    help="The run store (default .replayqa/runs.db).",
)
def issues_mark(fingerprint: str, status: str, reason: str, store: Path | None) -> None:
    """Mark a fingerprint known, flaky, fixed (with how), or new again.

    --fail-on new lets known and flaky issues pass; a fixed one that comes
    back is new, and its suggestion quotes the note.

    \b
    Example:
      replayqa issues mark 3f2a9c1d0e4b known --reason "BUG-123"
    """
    from replayqa.store import RunStore

    RunStore.open_existing(store or load_settings().store).mark(fingerprint, status, reason)
    click.echo(f"{fingerprint} is now {status}")


@main.command()
@click.option(
    "--spec",
    help="OpenAPI 3.0/3.1 or Swagger 2.0 spec, a file or URL, JSON or YAML. Optional with recordings: "
    "without it, each step checks the status it was recorded with.",
)
@click.argument("recordings", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("journeys"),
    show_default=True,
    help="Folder for the journey files (one YAML file per journey).",
)
@click.option(
    "--var",
    "var_pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A run-time value journeys may use, e.g. the login's email and password (repeatable). "
    "Only the name is written to the journeys.",
)
@click.option(
    "--no-negative", is_flag=True, help="Leave out the generated branches (invalid body, auth, ...)."
)
@click.option(
    "--auth",
    metavar="SCHEME",
    help="How the API authenticates when its spec does not say: basic (--var basic_auth=BASE64), "
    "bearer (--var token=...), header:NAME (--var api_key=...) or form:/login (a login form posting "
    "--var username=... --var password=...; the session cookie does the rest).",
)
@click.option("--base-url", help="Quality gate: keep a journey only if it passes 3 runs against this app.")
@click.option("--db", help="With --base-url: the app's database, restored between runs and paths.")
@_store_option("with --base-url: restored with --db")
@click.option(
    "--allow-restore", is_flag=True, default=None, help="Allow restores of a non-test-named database."
)
@click.option(
    "--runs",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="With --base-url: consecutive runs.",
)
@click.option(
    "--max-time",
    type=click.FloatRange(min=1),
    metavar="SECONDS",
    help="With --base-url: the whole budget. What the quality gate leaves is spent fuzzing: real "
    "values first, then boundary and malformed ones, for server errors. [default: 30 s of fuzzing]",
)
@click.option("--no-fuzz", is_flag=True, help="With --base-url: run the quality gate only, no fuzz phase.")
@click.option(
    "--spec-timeout",
    type=click.FloatRange(min=1),
    metavar="SECONDS",
    help="How long to wait for a spec given as a URL (default 60; a cold app may build it slowly).",
)
def synth(
    spec: str | None,
    recordings: tuple[Path, ...],
    out: Path,
    var_pairs: tuple[str, ...],
    no_negative: bool,
    auth: str | None,
    base_url: str | None,
    db: str | None,
    stores: list[str] | None,
    allow_restore: bool | None,
    runs: int,
    max_time: float | None,
    no_fuzz: bool,
    spec_timeout: float | None,
) -> None:
    """Turn an OpenAPI spec, and recordings, into branching journeys.

    From recordings: sessions that start alike share a trunk and branch at a
    checkpoint. From the spec alone: each resource's life, and the branches a
    careful tester tries (invalid body, no auth, unknown id, twice, another
    user). With --base-url, journeys are run 3 times: passing ones are kept,
    failing ones are kept and reported as found issues (exit 1), flaky ones
    set aside. Then a fuzz phase spends the rest of --max-time: every
    operation with values the app handed out, then boundary and malformed
    values; each server error it can reproduce is kept as a journey.

    \b
    Examples:
      replayqa synth --spec openapi.yaml recordings/shop.db --out journeys/
      replayqa synth recordings/shop.db --out journeys/
      replayqa synth --spec http://127.0.0.1:8000/openapi.json --out journeys/ \\
          --var email=admin@shop.test --var password=admin-pass \\
          --base-url http://127.0.0.1:8000 --db sqlite:///shop-test.db
      replayqa synth --spec spec.yaml --auth header:Authorization \\
          --var "api_key=token s3cret"
      replayqa synth --spec http://127.0.0.1:8000/openapi.json \\
          --base-url http://127.0.0.1:8000 --db sqlite:///app-test.db \\
          --max-time 300
    """
    from replayqa.synth import synthesize, write_journeys
    from replayqa.validate import free_names

    values = name_values(var_pairs, "--var", "password=s3cret")
    console = _console()
    started = time.time()
    if spec_timeout:
        os.environ["REPLAYQA_SPEC_TIMEOUT"] = str(spec_timeout)
    with console.status("Reading the spec and synthesizing journeys..."):
        result = synthesize(spec, recordings, values, negative=not no_negative, auth=auth)
    journeys = result.journeys
    found = False
    needed = sorted(set().union(*(free_names(j) for j in journeys)) - set(values)) if journeys else []
    if base_url and needed:
        asked = " ".join(f"--var {name}=..." for name in needed)
        raise ConfigError(f"the journeys need values synth was not given: pass {asked}")
    if base_url:
        from replayqa.synth.gate import gate

        settings = _project_settings(
            base_url=base_url, db=db, stores=stores, allow_restore=allow_restore, spec=spec
        )
        settings = replace(settings, vars={**settings.vars, **values})
        budget = max_time or 0.0
        session = None
        if not no_fuzz and result.spec_synth is not None:
            from replayqa.synth.fuzz import FuzzSession

            session = FuzzSession(result.spec_synth, settings)
            probe_until = time.monotonic() + max(10.0, budget * 0.2)
            with _fuzz_progress(console, "Probing", probe_until) as show:
                session.fuzzer.progress = show
                stats = session.probe(probe_until)
            console.print(
                f"Probe: {stats.requests} requests, {len(stats.reached)} of {stats.total_ops} "
                "operations answered 2xx; journeys use the values the app handed out.",
                highlight=False,
            )
            journeys = result.spec_synth.rebuild(session.fuzzer.proven_path, session.fuzzer.minimal_bodies())
        # With a budget, the gate leaves the fuzz phase at least a third of it.
        gate_until = time.monotonic() + budget * 0.65 - (time.time() - started) if budget else None
        spinner = StepSpinner(console)

        def on_run(attempt: int, runs: int) -> None:
            console.print(f"Quality gate: run {attempt} of {runs}...", highlight=False)
            spinner.label = f"run {attempt}/{runs}: "

        verdict = gate(journeys, settings, runs, [spinner], gate_until, on_run)
        journeys = verdict.kept
        found = bool(verdict.failing)
        for line in verdict.lines():
            console.print(line, highlight=False)
        if found and verdict.reports:
            console.print(f"Triage them: replayqa tui (report: {next(iter(verdict.reports.values()))})")
        if session is not None:
            left = budget - (time.time() - started) if budget else 30.0
            fuzz_until = time.monotonic() + max(5.0, left)
            with _fuzz_progress(console, "Fuzzing", fuzz_until) as show:
                session.fuzzer.progress = show
                outcome = session.fuzz(fuzz_until)
            for line in outcome.lines():
                console.print(line, highlight=False)
            from replayqa.store import RunStore

            RunStore(settings.store).add_answers(f"synth-fuzz-{int(time.time())}", session.fuzzer.answers)
            if outcome.reproducer is not None:
                journeys = [*journeys, outcome.reproducer]
                found = True
    written, removed = write_journeys(journeys, out)
    paths = sum(count_paths(j.steps) for j in journeys)
    steps = sum(count_steps(j.steps) for j in journeys)
    console.print(
        f"Wrote {_count(len(written), 'journey')} ({_count(steps, 'step')}, {_count(paths, 'path')}) "
        f"to {out}/ in {time.time() - started:.1f}s"
        + (f"; removed {_count(len(removed), 'stale file')}" if removed else ""),
        highlight=False,
    )
    names = "".join(f" --var {n}=..." for n in sorted({*values, *needed}))
    where = f" --base-url {base_url}" if base_url else " --base-url URL"
    where += f" --db {db}" if db else " --db URL-of-its-test-database"
    checked = f" --spec {spec}" if spec else ""
    console.print(f"Run them with: replayqa run {out}{where}{checked}{names}", highlight=False)
    sys.exit(EXIT_ISSUES if found else EXIT_OK)


@main.command()
@click.argument("graph_file", required=False, type=click.Path(path_type=Path))
@click.option("--spec", help="OpenAPI 3.0/3.1 spec, a file or URL: its operations are the actions.")
@click.option("--base-url", help="Where the app under test listens.")
@click.option(
    "--db",
    help="The app's test database: states are restored from its checkpoints, out of order, and its "
    "row counts are part of each state. Without it, a path is executed again on fresh resources.",
)
@_store_option("checkpointed and restored with --db")
@click.option(
    "--allow-restore", is_flag=True, default=None, help="Allow restores of a non-test-named database."
)
@click.option(
    "--var",
    "var_pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A run-time value, e.g. the login's email and password (repeatable). Only the name is "
    "written to the journeys.",
)
@click.option("--auth", metavar="SCHEME", help="As for synth: basic, bearer, header:NAME or form:/login.")
@click.option(
    "--invariants",
    "invariant_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Your own invariants: a YAML file with an 'invariants:' list (the journeys' kinds) or a "
    "Python file defining `invariants` (repeatable).",
)
@click.option(
    "--strategy",
    type=click.Choice(["bfs", "dfs", "random"]),
    default="bfs",
    show_default=True,
    help="Breadth first finds the shortest sequences.",
)
@click.option(
    "--max-depth", type=click.IntRange(min=1), default=4, show_default=True, help="Actions per path."
)
@click.option("--max-steps", type=click.IntRange(min=1), help="Stop after this many actions.")
@click.option(
    "--max-time",
    type=click.FloatRange(min=1),
    default=120.0,
    show_default=True,
    metavar="SECONDS",
    help="Stop exploring after this long (shrinking comes after).",
)
@click.option("--report-dir", help="Folder for the violations' journeys and explore.json.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of text.")
def explore(
    graph_file: Path | None,
    spec: str | None,
    var_pairs: tuple[str, ...],
    auth: str | None,
    invariant_files: tuple[Path, ...],
    strategy: str,
    max_depth: int,
    max_steps: int | None,
    max_time: float,
    as_json: bool,
    **flags: Any,
) -> None:
    """Walk the app's states, check invariants after every action, shrink what breaks.

    The actions are the spec's operations with synth's values (or a YAML
    state graph's edges). Equal states are explored once. Each violation is
    kept as the shortest action sequence found, shrunk further, and written
    as a journey that `replayqa run` reproduces. Exit 1 if any was found.

    \b
    Examples:
      replayqa explore --spec openapi.yaml --base-url http://127.0.0.1:8000 \\
          --db sqlite:///shop-test.db --var email=qa@shop.test --var password=...
      replayqa explore graph.yaml --base-url http://127.0.0.1:8000 --max-depth 5
    """
    from replayqa.explore.document import load_graph, load_invariants
    from replayqa.explore.fromspec import graph_from_spec
    from replayqa.explore.session import explore_app, write_violations

    if (graph_file is None) == (spec is None):
        raise ConfigError("give either --spec SPEC or a state graph file (GRAPH.yaml), not both or none")
    settings = _project_settings(**flags)
    values = {**settings.vars, **name_values(var_pairs, "--var", "password=s3cret")}
    if not settings.base_url:
        raise ConfigError("no base URL: pass --base-url http://host:port or set base_url in replayqa.toml")
    invariants = [i for f in invariant_files for i in load_invariants(f)]
    if spec is not None:
        graph = graph_from_spec(spec, values, auth=auth, invariants=invariants)
    else:
        assert graph_file is not None
        graph = load_graph(graph_file, values)
        for invariant in invariants:
            graph.add_invariant(invariant)
    settings = replace(settings, vars={})  # the graph carries the values
    console = _console()
    folder = Path(settings.report_dir) / f"explore-{time.strftime('%Y%m%d-%H%M%S')}"
    with _explore_progress(console, as_json) as listen:
        result = explore_app(
            graph,
            settings,
            strategy=strategy,
            max_depth=max_depth,
            max_steps=max_steps,
            max_time=max_time,
            listeners=[listen],
        )
    written = write_violations(result.violations, folder) if result.violations else []
    if as_json:
        click.echo(json.dumps(_explore_dict(result, written, settings.redactor()), indent=2))
    else:
        _print_exploration(console, result, written, graph.variables, settings.base_url)
    if written:
        explored = _explore_dict(result, written, settings.redactor())
        (folder / "explore.json").write_text(json.dumps(explored, indent=2))
    sys.exit(EXIT_ISSUES if result.violations else EXIT_OK)


@contextmanager
def _explore_progress(console: Console, quiet: bool) -> Iterator[Callable[[Any], None]]:
    """A status line fed by the explorer's events."""
    from replayqa import events as ev

    if quiet:
        yield lambda event: None
        return
    with console.status("Exploring...") as status:

        def listen(event: Any) -> None:
            if isinstance(event, ev.StateExplored):
                status.update(
                    f"Exploring: {event.states} states, {event.actions} actions, depth {event.depth}"
                )
            elif isinstance(event, ev.ViolationFound):
                console.print(f"found: {event.issue.error}"[:240], markup=False, highlight=False)

        yield listen


def _explore_dict(result: Any, written: list[Path], redactor: Redactor) -> dict[str, Any]:
    from replayqa.report.serialize import issue_dict

    return {
        **result.counts(),
        "learned_relations": result.relations,
        "violations": [
            {**issue_dict(v.issue, redactor), "found": v.found, "actions": v.actions, "journey": str(path)}
            for v, path in zip(result.violations, written, strict=True)
        ],
    }


def _print_exploration(
    console: Console, result: Any, written: list[Path], variables: dict[str, Any], base_url: str | None
) -> None:
    way = f"{result.restores} restores" if result.restores else f"{result.reexecutions} re-executions"
    console.print(
        f"Explored {_count(result.states, 'state')} with {_count(result.actions, 'action')} "
        f"({way}) in {result.seconds:.1f}s, depth {result.depth}: {result.stopped}.",
        highlight=False,
    )
    if not written:
        console.print("No invariant was violated.", highlight=False)
        return
    console.print(f"{_count(len(written), 'violation')}:", highlight=False)
    for violation, path in zip(result.violations, written, strict=True):
        console.print(f"- [{violation.issue.severity.value}] {violation.issue.error}", markup=False)
        console.print(f"  shortest: {' -> '.join(violation.actions)}", highlight=False)
        console.print(f"  journey: {path}", highlight=False)
    names = "".join(f" --var {n}=..." for n in sorted(variables))
    console.print(
        f"Reproduce: replayqa run {written[0].parent} --base-url {base_url}{names}", highlight=False
    )


@contextmanager
def _fuzz_progress(console: Console, title: str, deadline: float) -> Iterator[Callable[[Any], None]]:
    """A progress bar over a fuzz budget; yields the callback the fuzz phase reports to."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    total = max(1.0, deadline - time.monotonic())
    with Progress(
        TextColumn(title),
        BarColumn(bar_width=16),
        TextColumn("{task.fields[line]}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(title, total=total, line="")

        def show(stats: Any) -> None:
            reached = f"{len(stats.reached)}/{stats.total_ops}"
            line = f"{stats.requests} requests, {reached} ops 2xx, {stats.server_errors} 5xx"
            progress.update(task, completed=total - max(0.0, deadline - time.monotonic()), line=line)

        yield show


@main.command()
@click.argument("target", required=False, type=click.Path(path_type=Path))
def tui(target: Path | None) -> None:
    """Triage runs, issues and recordings in the terminal.

    A run store (with no argument, .replayqa/runs.db) opens on the first
    failure of its latest run, if it has one; esc shows the list of runs.

    \b
    Example:
      replayqa tui
      replayqa tui recordings/demo-shop.db
    """
    from replayqa.tui import TriageApp, open_target

    settings = load_settings()
    TriageApp(open_target(target or Path(settings.store)), settings).run()
