"""One app through the whole loop: record, replay 3 times, plant faults, synth, and Schemathesis beside it.

Every phase gets a fresh copy of the app on a fresh database, so each access
log holds one tool's traffic and nothing else. replayqa is driven through its
CLI with documented options only, as a user would drive it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.field import accesslog
from bench.field.apps.base import DatabaseServer, FieldApp, Instance
from bench.field.env import FieldError, Process, Venv, free_port, venv, wait_port
from bench.field.faults_addon import FAULTS, plant, shape
from replayqa.record.storage import Recording

SCHEMATHESIS = ("schemathesis==4.32.5",)
REPLAYS = 3
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)  # new each run
ADDON = Path(__file__).with_name("faults_addon.py")


@dataclass
class Context:
    work: Path
    postgres: DatabaseServer
    budget: float
    quick: bool
    say: Any = print
    mariadb: DatabaseServer | None = None  # for the apps that run on MySQL/MariaDB

    def server_for(self, app: FieldApp) -> DatabaseServer:
        if app.database == "mariadb":
            if self.mariadb is None:
                raise FieldError(f"{app.name} runs on MariaDB, and no MariaDB server was started")
            return self.mariadb
        return self.postgres


def replayqa(*args: str, cwd: Path, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a user types it, in its own folder (its .replayqa/ lands there)."""
    return subprocess.run(
        [sys.executable, "-m", "replayqa", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "100", "NO_COLOR": "1"},
    )


def run_app(app: FieldApp, ctx: Context) -> dict[str, Any]:
    started = time.monotonic()
    ctx.say(f"[{app.name}] {' '.join(app.requirements)}: its venv (made on the first run, then cached)")
    env = venv(app.name, app.requirements)
    result: dict[str, Any] = {"version": env.version_of(app.package), "stack": app.stack}
    result["replay"] = record_and_replay(app, env, ctx)
    # an app with no spec is recorded and replayed only: neither tool has anything to generate from
    result["synth"] = _synth(app, env, ctx) if app.has_spec else None
    result["schemathesis"] = _schemathesis(app, env, ctx) if app.has_spec else None
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


# -- record, replay, faults ------------------------------------------------------------------


@contextmanager
def _fresh(app: FieldApp, env: Venv, ctx: Context, phase: str) -> Iterator[tuple[Instance, Path]]:
    """A fresh copy of the app for one phase: its access log then holds that phase's traffic alone."""
    work = ctx.work / app.name / phase
    instance = app.start(env, work / "app", ctx.server_for(app))
    try:
        app.prepare(instance)
        yield instance, work
    finally:
        instance.stop()


def record_and_replay(app: FieldApp, env: Venv, ctx: Context) -> dict[str, Any]:
    with _fresh(app, env, ctx, "replay") as (instance, work):
        ctx.say(f"[{app.name}] recording a scripted session through replayqa record")
        recording = _record(app, instance, work)
        out: dict[str, Any] = {"exchanges": len(_recorded_rows(recording)), "runs": REPLAYS, "clean": 0}
        out["sessions"] = _session_names(recording)
        ctx.say(f"[{app.name}] {out['exchanges']} exchanges; sessions: {', '.join(out['sessions'])}")
        clean_prints: set[str] = set()
        first_issues: list[dict[str, Any]] = []
        for attempt in range(REPLAYS):
            code, issues = _replay(app, instance, recording, instance.base_url, work)
            out["clean"] += code == 0 and not issues
            clean_prints |= {sig for i in issues for sig in _signatures(i)}
            if attempt == 0:
                first_issues = issues
            ctx.say(f"[{app.name}] replay {attempt + 1}/{REPLAYS}: exit {code}, {len(issues)} issue(s)")
        out["noise"] = [_describe(i) for i in first_issues]
        out.update(_faults(app, instance, recording, work, clean_prints, ctx))
        out["from_recording"] = _synth_from_recording(app, instance, recording, work, ctx)
        return out


def _synth_from_recording(
    app: FieldApp, instance: Instance, recording: Path, work: Path, ctx: Context
) -> dict[str, Any]:
    """Synth from the recorded session, its quality gate, then one run of what it kept.

    The credentials are the ones the replays were given (``--secret`` pairs),
    passed as ``--var``: a redacted value in the recording becomes a run-time
    value the user supplies.
    """
    ctx.say(f"[{app.name}] replayqa synth from the recording, then run what it kept")
    journeys = work / "from-recording"
    shutil.rmtree(journeys, ignore_errors=True)
    common = ["--base-url", instance.base_url] + (["--db", instance.db_url] if instance.db_url else [])
    variables = [a for v in app.secrets(instance) + app.synth_vars(instance) for a in ("--var", v)]
    # an app with no spec: synth from the traffic alone
    spec = ["--spec", instance.spec] if app.has_spec and instance.spec else []
    synth = replayqa(
        "synth",
        *spec,
        str(recording),
        "--out",
        str(journeys),
        *common,
        *variables,
        cwd=work,
        timeout=600,
    )
    (work / "synth-recording.out").write_text(synth.stdout + synth.stderr)
    out: dict[str, Any] = {"synth_exit": synth.returncode, "journeys": 0, "passed": 0}
    if synth.returncode == 2:
        out["error"] = (synth.stderr.strip().splitlines() or ["?"])[-1][:300]
        return out
    files = sorted(journeys.glob("*.yaml")) if journeys.is_dir() else []
    out["journeys"] = len(files)
    if not files:
        return out
    run = replayqa("run", str(journeys), *common, *variables, "--json", cwd=work, timeout=600)
    (work / "run-recording.json").write_text(run.stdout + run.stderr)
    out["run_exit"] = run.returncode
    if run.returncode in (0, 1):
        ran = json.loads(run.stdout)["journeys"]
        out["passed"] = sum(1 for j in ran if not j["issues"])
        out["issues"] = [_describe(i) for j in ran for i in j["issues"]][:20]
        # What the tester did (the recorded steps), apart from the branches synth added to it
        # (invalid body, twice, no auth...): those may rightly find what the session did not try.
        steps = [s for j in ran for s in j["steps"]]
        recorded = [s for s in steps if not _GENERATED.search(s["path"])]
        out["recorded_steps"] = len(recorded)
        out["recorded_passed"] = sum(1 for s in recorded if s["passed"])
        out["branch_findings"] = sum(1 for j in ran for i in j["issues"] if _GENERATED.search(i["path"]))
    else:
        out["error"] = (run.stderr.strip().splitlines() or ["?"])[-1][:300]
    return out


def _record(app: FieldApp, instance: Instance, work: Path) -> Path:
    port = free_port()
    recording = work / f"{app.name}.db"
    recording.unlink(missing_ok=True)
    args = ["record", "--listen", f"127.0.0.1:{port}", "--out", str(recording), "--name", app.name]
    args += ["--mode", "regular"] if app.record_mode == "regular" else ["--upstream", instance.base_url]
    if instance.db_url:
        args += ["--db", instance.db_url]
    proxy = Process([sys.executable, "-m", "replayqa", *args], work / "record.log", cwd=work).start()
    try:
        wait_port(port, proxy)
        app.session(instance, f"http://127.0.0.1:{port}")
    finally:
        code = proxy.stop(signal.SIGINT, grace=30)  # Ctrl+C, as the tester stops it
    if code != 0 or not recording.exists():
        raise RuntimeError(f"replayqa record exited {code}:\n{proxy.tail()}")
    return recording


def _replay(
    app: FieldApp, instance: Instance, recording: Path, base_url: str, work: Path
) -> tuple[int, list[dict[str, Any]]]:
    args = ["replay", str(recording), "--base-url", base_url, "--json", "--report-dir", str(work / "reports")]
    if instance.db_url:
        args += ["--db", instance.db_url]
    for secret in app.secrets(instance):
        args += ["--secret", secret]
    done = replayqa(*args, cwd=work, timeout=600)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"replayqa replay exited {done.returncode}: {done.stderr.strip()[-500:]}")
    run = json.loads(done.stdout)
    return done.returncode, [issue for journey in run["journeys"] for issue in journey["issues"]]


def _signatures(issue: dict[str, Any]) -> set[str]:
    """What an issue says: each difference it names (step, place, kind), else its fingerprint.

    By difference, not by fingerprint, so a fault planted in a step that also
    shows noise is caught when it adds a difference of its own.
    """
    if issue.get("diff"):
        return {
            _UUID.sub("<id>", f"{issue['step']}|{d['where']}|{d['path']}|{d['kind']}") for d in issue["diff"]
        }
    return {issue.get("fingerprint") or f"{issue['step']}|{issue['kind']}|{issue['error']}"}


def _describe(issue: dict[str, Any]) -> str:
    return f"{issue['step']}: {issue['kind']}: {(issue.get('error') or '').splitlines()[0][:160]}"


def _session_names(recording: Path) -> list[str]:
    """As the recorder told them apart, with no markers: by credentials, cookies and address."""
    opened = Recording.open(recording)
    try:
        return [f"{s['name']} ({s['exchange_count']})" for s in opened.sessions()]
    finally:
        opened.close()


def _recorded_rows(recording: Path) -> list[dict[str, Any]]:
    opened = Recording.open(recording)
    try:
        return list(opened.exchanges())
    finally:
        opened.close()


def _applicable(rows: list[dict[str, Any]], database: bool) -> tuple[list[str], int, set[str]]:
    """The recorded GET paths (ids as ``*``), how many to let through, and the faults with a target.

    Decided from the recording alone, so a fault the replay never reached
    (it stopped early) counts as missed, not as not applicable.
    """
    reads = [r for r in rows if r["method"] == "GET"]
    skip = len(reads) // 2
    later = reads[skip:]
    applicable = set()
    for fault in FAULTS:
        if fault == "db_write_behind_same_response":
            target = database and any(r["method"] == "POST" and r["status"] == 201 for r in rows)
        else:
            target = any(plant(fault, r["status"], _content_type(r), r["response_body"] or "") for r in later)
        if target:
            applicable.add(fault)
    return [shape(urlsplit(r["url"]).path) for r in reads], skip, applicable


def _content_type(row: dict[str, Any]) -> str:
    return next((v for k, v in row["response_headers"] if k.lower() == "content-type"), "")


def _faults(
    app: FieldApp, instance: Instance, recording: Path, work: Path, clean: set[str], ctx: Context
) -> dict[str, Any]:
    """Replay once per fault; a fault is caught when the replay reports an issue no clean replay had."""
    caught, missed, planted = [], [], {}
    reads, skip, applicable = _applicable(_recorded_rows(recording), app.writes_to_database)
    paths = work / "faults" / "recorded-reads.txt"
    paths.parent.mkdir(parents=True, exist_ok=True)
    paths.write_text("\n".join(sorted(set(reads))) + "\n")
    for fault in sorted(applicable, key=FAULTS.index):
        port = free_port()
        log = work / "faults" / f"{fault}.jsonl"
        log.unlink(missing_ok=True)
        command = [
            sys.executable,
            "-c",
            "from mitmproxy.tools.main import mitmdump; mitmdump()",
            "--mode",
            f"reverse:{instance.base_url}",
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            str(port),
            "-q",
            "-s",
            str(ADDON),
            "--set",
            f"field_fault={fault}",
            "--set",
            f"field_fault_log={log}",
            "--set",
            f"field_fault_paths={paths}",
            "--set",
            f"field_fault_skip={skip}",
        ]
        proxy = Process(command, work / "faults" / f"{fault}.proxy.log").start()
        try:
            wait_port(port, proxy)
            code, issues = _replay(app, instance, recording, f"http://127.0.0.1:{port}", work)
        finally:
            proxy.stop()
        if log.exists():
            planted[fault] = json.loads(log.read_text().splitlines()[0])
        else:
            planted[fault] = {"detail": "never planted: the replay stopped before reaching its target"}
        new = [i for i in issues if _signatures(i) - clean]
        (caught if code == 1 and new and log.exists() else missed).append(fault)
        ctx.say(f"[{app.name}] fault {fault}: {'caught' if fault in caught else 'MISSED'}")
    return {
        "faults": len(caught) + len(missed),
        "faults_caught": len(caught),
        "missed": missed,
        "not_applicable": [f for f in FAULTS if f not in applicable],
        "planted": planted,
    }


# -- synth and Schemathesis, counted from the app's log ----------------------------------------


def _spec_operations(instance: Instance, app: FieldApp) -> list[accesslog.Operation]:
    assert instance.spec
    if instance.spec.startswith("http"):
        text = httpx.get(instance.spec, headers=instance.extra.get("spec_headers"), timeout=60).text
    else:
        text = Path(instance.spec).read_text()
    return accesslog.operations(accesslog.load_spec(text))


def _count(app: FieldApp, instance: Instance, since: int, ops: list[accesslog.Operation]) -> dict[str, Any]:
    seen = accesslog.reach(ops, accesslog.hits(instance.log, app.log_pattern, since))
    return {
        "operations": seen.operations,
        "ops_2xx": len(seen.ops_2xx),
        "ops_500": len(seen.ops_500),
        "requests": seen.requests,
        "unmatched_requests": seen.unmatched,
        "ops_500_list": sorted(seen.ops_500),
    }


def _synth(app: FieldApp, env: Venv, ctx: Context) -> dict[str, Any]:
    with _fresh(app, env, ctx, "synth") as (instance, work):
        ops = _spec_operations(instance, app)
        since = instance.log_size()
        ctx.say(f"[{app.name}] replayqa synth from the spec, {ctx.budget:.0f}s budget")
        deadline = time.monotonic() + ctx.budget
        common = ["--base-url", instance.base_url]
        if instance.db_url:
            common += ["--db", instance.db_url]
        variables = [a for v in app.synth_vars(instance) for a in ("--var", v)]
        out: dict[str, Any] = {}
        journeys = work / "journeys"
        shutil.rmtree(journeys, ignore_errors=True)
        try:
            synth = replayqa(
                "synth",
                "--spec",
                instance.spec or "",
                "--out",
                str(journeys),
                *common,
                *variables,
                *(["--auth", app.synth_auth] if app.synth_auth else []),
                # The rest of the budget is for running the kept journeys once more, as a user
                # would next: a third of it, about one run of the gate's.
                "--max-time",
                str(int(ctx.budget * 0.65)),
                cwd=work,
                timeout=ctx.budget,
            )
            (work / "synth.out").write_text(synth.stdout + synth.stderr)
            out["synth_exit"] = synth.returncode
            if synth.returncode == 2:
                out["error"] = (synth.stderr.strip().splitlines() or ["?"])[-1][:300]
        except subprocess.TimeoutExpired:
            out["synth_exit"] = None
            out["error"] = f"synth did not finish within the {ctx.budget:.0f}s budget"
        issues: list[dict[str, Any]] = []
        left = deadline - time.monotonic()
        if journeys.is_dir() and any(journeys.iterdir()) and left > 1:
            try:
                run = replayqa(
                    "run",
                    str(journeys),
                    *common,
                    "--spec",
                    instance.spec or "",
                    *variables,
                    "--json",
                    cwd=work,
                    timeout=left,
                )
                (work / "run.json").write_text(run.stdout + run.stderr)
                if run.returncode in (0, 1):
                    issues = [i for j in json.loads(run.stdout)["journeys"] for i in j["issues"]]
                else:
                    out["run_error"] = (run.stderr.strip().splitlines() or ["?"])[-1][:300]
            except subprocess.TimeoutExpired:
                out["run_error"] = "the kept journeys did not finish within the budget"
        out["coverage_2xx"] = _coverage_2xx(instance, work)
        prints = {i.get("fingerprint") or _describe(i): _describe(i) for i in issues}
        out.update(_count(app, instance, since, ops))
        out["fingerprints"] = len(prints)
        out["fingerprint_list"] = prints
        return out


_GENERATED = re.compile(r"(^|/)(invalid_body|no_auth|unknown_id|twice|other_user|example_[a-z0-9_]+)(/|$)")


def _coverage_2xx(instance: Instance, work: Path) -> int | None:
    """Operations ``replayqa coverage`` says answered 2xx, from the run store synth and run filled."""
    store = work / ".replayqa" / "runs.db"
    if not store.exists():
        return None
    done = replayqa("coverage", "--spec", instance.spec or "", str(store), "--json", cwd=work, timeout=300)
    if done.returncode != 0:
        return None
    return int(json.loads(done.stdout)["summary"]["reached_2xx"])


def _schemathesis(app: FieldApp, env: Venv, ctx: Context) -> dict[str, Any]:
    tool = venv("schemathesis", SCHEMATHESIS)
    with _fresh(app, env, ctx, "schemathesis") as (instance, work):
        ops = _spec_operations(instance, app)
        since = instance.log_size()
        ctx.say(f"[{app.name}] Schemathesis, all phases, {ctx.budget:.0f}s budget")
        reports = work / "reports"
        shutil.rmtree(reports, ignore_errors=True)
        command = [
            tool.bin("schemathesis"),
            "run",
            instance.spec or "",
            *_where(instance),
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-time",
            str(int(ctx.budget)),
            "--seed",
            "42",
            "--request-timeout",
            "30",
            "--generation-database",
            "none",
            "--report",
            "junit",
            "--report-dir",
            str(reports),
            *app.schemathesis_args(instance),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=ctx.budget * 2 + 60, cwd=work
            )
            (work / "schemathesis.out").write_text(done.stdout + done.stderr)
            out: dict[str, Any] = {"exit": done.returncode}
        except subprocess.TimeoutExpired:
            out = {"exit": None, "error": "Schemathesis overran twice its budget"}
        out.update(_count(app, instance, since, ops))
        out["failures"] = _junit_failures(reports)
        out["version"] = tool.version_of("schemathesis")
        return out


def _where(instance: Instance) -> list[str]:
    """A spec at a URL names its server; one saved to a file needs the base URL and its base path."""
    assert instance.spec
    if instance.spec.startswith("http"):
        return ["--origin", instance.base_url]
    spec = accesslog.load_spec(Path(instance.spec).read_text())
    return ["--url", instance.base_url + accesslog.base_path(spec)]


def _junit_failures(reports: Path) -> int | None:
    files = list(reports.glob("*.xml"))
    if not files:
        return None
    total = 0
    for file in files:
        root = ET.parse(file).getroot()
        total += sum(
            1 for case in root.iter("testcase") for child in case if child.tag in ("failure", "error")
        )
    return total
