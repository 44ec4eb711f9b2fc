"""Start-up: how long `replayqa record` takes to listen, against bare mitmdump, in one run.

    python -m bench.startup            # 9 rounds
    python -m bench.startup --quick    # 2 rounds, a smoke run

A client started beside the recorder gets "connection refused" until it
listens, so this is the wait a tester or a CI script sees. Each round starts
mitmdump and then replayqa record, both in reverse mode in front of the same
upstream, and times each from the process start to the first accepted TCP
connection; the ratio of each round is taken, and the median reported.
Target: replayqa record within 1.5x mitmdump.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import arguments, emit, machine
from bench.proxy import UPSTREAM, free_port, stop, wait_listening


def time_to_listen(command: list[str], port: int) -> float:
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, process)
        return time.perf_counter() - started
    finally:
        stop(process)


def measure(rounds: int) -> dict[str, object]:
    upstream = subprocess.Popen([sys.executable, str(UPSTREAM)], stdout=subprocess.PIPE, text=True)
    assert upstream.stdout is not None
    upstream_url = upstream.stdout.readline().removeprefix("listening on ").strip()
    times: dict[str, list[float]] = {"mitmdump": [], "replayqa record": []}
    try:
        with tempfile.TemporaryDirectory() as folder:
            for number in range(rounds):
                out = Path(folder) / f"start-{number}.db"
                commands = {
                    "mitmdump": lambda port: [
                        *("mitmdump", "-q", "--mode", f"reverse:{upstream_url}"),
                        *("--listen-host", "127.0.0.1", "--listen-port", str(port)),
                    ],
                    "replayqa record": lambda port, out=out: [
                        *(sys.executable, "-m", "replayqa", "record", "--upstream", upstream_url),
                        *("--listen", f"127.0.0.1:{port}", "--out", str(out)),
                    ],
                }
                for name, command in commands.items():
                    port = free_port()
                    times[name].append(time_to_listen(command(port), port))
    finally:
        upstream.terminate()
        upstream.wait()
    ratios = [r / m for r, m in zip(times["replayqa record"], times["mitmdump"], strict=True)]
    return {
        "benchmark": "startup",
        "machine": machine(),
        "rounds": rounds,
        "seconds_to_listen_median": {k: round(statistics.median(v), 3) for k, v in times.items()},
        "ratio": {"replayqa record / mitmdump": round(statistics.median(ratios), 3)},
        "replayqa record / mitmdump, each round": [round(r, 3) for r in ratios],
        "target": "replayqa record / mitmdump <= 1.5",
    }


def main() -> None:
    args = arguments(__doc__, quick=True)
    emit(measure(2 if args.quick else 9), args.json)


if __name__ == "__main__":
    main()
