"""``python -m bench.field``: run the corpus, print one table, write the JSON.

Example:
    python -m bench.field --apps kinto --quick --json out.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench.common import machine
from bench.field.apps import APPS
from bench.field.run import Context, run_app
from tests.support.mariadb import start_mariadb
from tests.support.postgres import start_postgres

JUDGMENTS = Path(__file__).with_name("judgments.json")
FULL_BUDGET = 150
QUICK_BUDGET = 45
_LOCAL = re.compile(r"http://127\.0\.0\.1:\d+")  # the free port of one run


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--apps", default=",".join(APPS), help=f"comma-separated, from {', '.join(APPS)}")
    parser.add_argument("--budget", type=float, help="seconds for synth and for Schemathesis, each, per app")
    parser.add_argument("--quick", action="store_true", help=f"a shorter budget ({QUICK_BUDGET}s)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--keep", type=Path, help="keep the recordings, logs and reports in this folder")
    args = parser.parse_args()
    names = [n.strip() for n in args.apps.split(",") if n.strip()]
    unknown = [n for n in names if n not in APPS]
    if unknown:
        parser.error(f"unknown app {', '.join(unknown)}: choose from {', '.join(APPS)}")
    budget = args.budget or (QUICK_BUDGET if args.quick else FULL_BUDGET)
    work = args.keep or Path(tempfile.mkdtemp(prefix="replayqa-field-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    report: dict[str, Any] = {
        "budget_s": budget,
        "date": datetime.date.today().isoformat(),
        "commit": _commit(),
        "machine": machine(),
        "apps": {},
    }
    postgres = start_postgres()
    mariadb = None
    try:
        if any(APPS[n].database == "mariadb" for n in names):
            mariadb = start_mariadb()
        ctx = Context(
            work, postgres, budget, args.quick, say=lambda line: print(line, flush=True), mariadb=mariadb
        )
        for name in names:
            try:
                report["apps"][name] = run_app(APPS[name](), ctx)
            except Exception as exc:  # one app failing to set up must not hide the others' figures
                traceback.print_exc()
                report["apps"][name] = {"error": f"{type(exc).__name__}: {exc}"[:1000]}
            _judge(name, report["apps"][name])
    finally:
        postgres.stop()
        if mariadb is not None:
            mariadb.stop()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    report["seconds"] = round(time.monotonic() - started, 1)
    print()
    print(table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def _judge(name: str, result: dict[str, Any]) -> None:
    """False alarms are judged by a person, issue by issue, in judgments.json.

    A judgment holds for the issue it judged: a fingerprint whose message
    has changed since (another status, another cause) counts as unjudged.
    """
    synth = result.get("synth")
    if not synth:
        return
    verdicts = json.loads(JUDGMENTS.read_text()).get(name, {}) if JUDGMENTS.exists() else {}
    prints = synth.get("fingerprint_list", {})
    judged = {
        p: verdicts[p]["verdict"]
        for p, issue in prints.items()
        if p in verdicts and verdicts[p].get("issue") == _LOCAL.sub("", issue)
    }
    synth["false_alarms"] = sum(1 for v in judged.values() if v == "replayqa")
    synth["unjudged"] = len(prints) - len(judged)


def table(report: dict[str, Any]) -> str:
    """One line per app, 80 columns wide."""
    columns = (("app", -15), ("clean", 6), ("faults", 8), ("ops 2xx rq/st", 17), ("500s rq/st", 12))
    header = "".join(f"{name:<{-w}}" if w < 0 else f"{name:>{w}}" for name, w in columns)
    header += f"{'prints':>8}{'false':>7}"
    lines = [
        f"field suite, budget {report['budget_s']:.0f}s, {report['date']}, commit {report['commit']}",
        header,
    ]
    for name, app in report["apps"].items():
        if "error" in app:
            lines.append(f"{name:<15}error: {app['error'].splitlines()[0][:58]}")
            continue
        replay, synth, peer = app["replay"], app.get("synth"), app.get("schemathesis")
        clean = f"{replay['clean']}/{replay['runs']}"
        faults = f"{replay['faults_caught']}/{replay['faults']}"
        if synth and peer:
            ratio = f"{synth['ops_2xx'] / peer['ops_2xx']:.2f}" if peer["ops_2xx"] else "-"
            reach = f"{synth['ops_2xx']}/{peer['ops_2xx']} ({ratio})"
            errors = f"{synth['ops_500']}/{peer['ops_500']}"
            prints = str(synth["fingerprints"])
            false = str(synth["false_alarms"]) + ("+?" if synth.get("unjudged") else "")
        else:
            reach, errors, prints, false = "no spec", "-", "-", "-"
        lines.append(f"{name:<15}{clean:>6}{faults:>8}{reach:>17}{errors:>12}{prints:>8}{false:>7}")
    lines.append("clean: clean replays; faults: caught/planted; rq/st: replayqa/Schemathesis;")
    lines.append("reach and 500s are counted from each app's own access log.")
    lines.append("")
    lines.append(f"{'app':<15}{'coverage 2xx':>13}{'log 2xx':>9}   synth from the recording")
    for name, app in report["apps"].items():
        synth, recorded = app.get("synth") or {}, (app.get("replay") or {}).get("from_recording")
        if not synth and not recorded:
            continue
        covered = synth.get("coverage_2xx")
        said = "not measured" if covered is None else str(covered)
        if recorded is None:
            rec = "-"
        elif recorded.get("error"):
            rec = f"exit {recorded.get('run_exit', recorded['synth_exit'])}: {recorded['error'][:30]}"
        elif "recorded_steps" in recorded:
            rec = f"{recorded['recorded_passed']}/{recorded['recorded_steps']} recorded steps pass"
            rec += f", {recorded['branch_findings']} from branches" if recorded["branch_findings"] else ""
        else:
            rec = f"{recorded['passed']}/{recorded['journeys']} journeys pass"
        lines.append(f"{name:<15}{said:>13}{synth.get('ops_2xx', '-')!s:>9}   {rec}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
