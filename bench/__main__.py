"""Run every benchmark with one command: ``python -m bench`` (``--quick`` for a smoke run).

Each writes its results to ``bench/results-<name>.json``; docs/benchmarks.md
explains them. Benchmarks never run in the test pass.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = (
    "proxy",
    "startup",
    "replay",
    "restore",
    "restore_sqlite",
    "restore_mysql",
    "branching",
    "tui",
    "synth",
    "explore",
)
# with a --quick mode
QUICK = {"proxy", "startup", "replay", "restore", "restore_sqlite", "restore_mysql", "explore"}


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    here = Path(__file__).resolve().parent
    failed = []
    for name in BENCHMARKS:
        command = [
            sys.executable,
            "-m",
            f"bench.{name}",
            "--json",
            str(here / f"results-{name.replace('_', '-')}.json"),
        ]
        if quick and name in QUICK:
            command.append("--quick")
        print(f"== {name}", flush=True)
        if subprocess.run(command, cwd=here.parent).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
