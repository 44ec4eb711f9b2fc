"""Proxy throughput: direct vs bare mitmdump vs replayqa record, as ratios from one run.

    python -m bench.proxy            # full: 4 clients x 1000 requests, 5 rounds
    python -m bench.proxy --quick    # smoke: 2 clients x 100 requests, 1 round

Each round measures the three setups back to back against the same upstream,
so machine noise hits them alike; the median round is reported. Target:
replayqa record at >= 0.95x bare mitmdump.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.common import arguments, emit, machine

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = ROOT / "tests" / "support" / "content_app.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def load(url: str, clients: int, requests: int) -> float:
    """Requests per second with ``clients`` threads, each sending ``requests`` in a row."""
    errors: list[str] = []

    def client() -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            for _ in range(requests):
                if http.get("/").status_code != 200:
                    errors.append("status")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests through {url}")
    return clients * requests / elapsed


def cores() -> tuple[set[int], set[int]]:
    """The proxy gets a core of its own; upstream and load generator share the rest.

    Otherwise, on a small machine, the measurement is of CPU contention with
    the load generator rather than of what the proxy costs.
    """
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return set(available), set(available)
    return {available[0]}, set(available[1:])


def start(command: list[str], port: int, cpus: set[int], helper_cpus: set[int]) -> subprocess.Popen[bytes]:
    """Start a proxy on ``cpus``; its helper processes (replayqa's writer) go to ``helper_cpus``."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.sched_setaffinity(process.pid, cpus)
    wait_listening(port, process)
    for child in children(process.pid):
        for thread in threads_of(child):  # every thread: the writer's own threads exist by now
            os.sched_setaffinity(thread, helper_cpus)
    return process


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(p) for p in text)
    return found


def threads_of(pid: int) -> list[int]:
    return [int(task.name) for task in Path(f"/proc/{pid}/task").iterdir()]


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def through_proxy(
    command: Callable[[int], list[str]], clients: int, requests: int, cpus: set[int], helper_cpus: set[int]
) -> float:
    """Start a proxy on a free port, measure requests per second through it, stop it."""
    port = free_port()
    proxy = start(command(port), port, cpus, helper_cpus)
    try:
        return load(f"http://127.0.0.1:{port}", clients, requests)
    finally:
        stop(proxy)


def measure(clients: int, requests: int, rounds: int) -> dict[str, object]:
    proxy_cpus, other_cpus = cores()
    os.sched_setaffinity(0, other_cpus)
    upstream = subprocess.Popen([sys.executable, str(UPSTREAM)], stdout=subprocess.PIPE, text=True)
    os.sched_setaffinity(upstream.pid, other_cpus)
    assert upstream.stdout is not None
    upstream_url = upstream.stdout.readline().removeprefix("listening on ").strip()
    results: dict[str, list[float]] = {"direct": [], "mitmdump": [], "replayqa record": []}
    try:
        with tempfile.TemporaryDirectory() as folder:
            for round_number in range(rounds):
                results["direct"].append(load(upstream_url, clients, requests))
                out = Path(folder) / f"bench-{round_number}.db"
                commands: dict[str, Callable[[int], list[str]]] = {
                    "mitmdump": lambda port: [
                        "mitmdump",
                        "-q",
                        "--mode",
                        f"reverse:{upstream_url}",
                        "--listen-host",
                        "127.0.0.1",
                        "--listen-port",
                        str(port),
                    ],
                    "replayqa record": lambda port, out=out: [
                        sys.executable,
                        "-m",
                        "replayqa",
                        "record",
                        "--upstream",
                        upstream_url,
                        "--listen",
                        f"127.0.0.1:{port}",
                        "--out",
                        str(out),
                    ],
                }
                for name, command in commands.items():
                    results[name].append(through_proxy(command, clients, requests, proxy_cpus, other_cpus))
    finally:
        upstream.terminate()
        upstream.wait()
    median = {name: statistics.median(values) for name, values in results.items()}
    per_round = [r / m for r, m in zip(results["replayqa record"], results["mitmdump"], strict=True)]
    return {
        "benchmark": "proxy",
        "machine": machine(),
        "load": {"clients": clients, "requests_per_client": requests, "rounds": rounds},
        "cores": {"proxy": sorted(proxy_cpus), "upstream, load and writer": sorted(other_cpus)},
        "requests_per_second": {k: round(v, 1) for k, v in median.items()},
        "ratios": {
            "mitmdump / direct": round(median["mitmdump"] / median["direct"], 3),
            "replayqa record / direct": round(median["replayqa record"] / median["direct"], 3),
            "replayqa record / mitmdump": round(statistics.median(per_round), 3),
        },
        "replayqa record / mitmdump, each round": [round(r, 3) for r in per_round],
        "target": "replayqa record / mitmdump >= 0.95",
    }


def main() -> None:
    args = arguments(__doc__, quick=True)
    clients, requests, rounds = (2, 100, 1) if args.quick else (4, 1000, 5)
    result = measure(clients, requests, rounds)
    emit(result, args.json)


if __name__ == "__main__":
    main()
