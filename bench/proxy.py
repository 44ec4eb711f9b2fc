"""Proxy throughput: direct vs bare mitmdump vs replayqa record, as ratios from one run.

    python -m bench.proxy            # full: 4 clients x 500 requests, 3 rounds
    python -m bench.proxy --quick    # smoke: 2 clients x 100 requests, 1 round

Each round measures the three setups back to back against the same upstream,
so machine noise hits them alike; the median round is reported. Target:
replayqa record at >= 0.95x bare mitmdump.
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

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


def start(command: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, process)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def measure(clients: int, requests: int, rounds: int) -> dict[str, object]:
    upstream = subprocess.Popen([sys.executable, str(UPSTREAM)], stdout=subprocess.PIPE, text=True)
    assert upstream.stdout is not None
    upstream_url = upstream.stdout.readline().removeprefix("listening on ").strip()
    results: dict[str, list[float]] = {"direct": [], "mitmdump": [], "replayqa record": []}
    try:
        with tempfile.TemporaryDirectory() as folder:
            for round_number in range(rounds):
                results["direct"].append(load(upstream_url, clients, requests))
                port = free_port()
                bare = start(
                    [
                        "mitmdump",
                        "-q",
                        "--mode",
                        f"reverse:{upstream_url}",
                        "--listen-host",
                        "127.0.0.1",
                        "--listen-port",
                        str(port),
                    ],
                    port,
                )
                try:
                    results["mitmdump"].append(load(f"http://127.0.0.1:{port}", clients, requests))
                finally:
                    stop(bare)
                port = free_port()
                out = Path(folder) / f"bench-{round_number}.db"
                recorder = start(
                    [
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
                    port,
                )
                try:
                    results["replayqa record"].append(load(f"http://127.0.0.1:{port}", clients, requests))
                finally:
                    stop(recorder)
    finally:
        upstream.terminate()
        upstream.wait()
    median = {name: statistics.median(values) for name, values in results.items()}
    return {
        "benchmark": "proxy",
        "machine": f"{platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, {len(__import__('os').sched_getaffinity(0))} cores",
        "load": {"clients": clients, "requests_per_client": requests, "rounds": rounds},
        "requests_per_second": {k: round(v, 1) for k, v in median.items()},
        "ratios": {
            "mitmdump / direct": round(median["mitmdump"] / median["direct"], 3),
            "replayqa record / direct": round(median["replayqa record"] / median["direct"], 3),
            "replayqa record / mitmdump": round(median["replayqa record"] / median["mitmdump"], 3),
        },
        "target": "replayqa record / mitmdump >= 0.95",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    clients, requests, rounds = (2, 100, 1) if args.quick else (4, 500, 3)
    result = measure(clients, requests, rounds)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
