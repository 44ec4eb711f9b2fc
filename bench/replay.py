"""Replay throughput: replayqa replay (diffing on) vs a raw httpx loop, as a ratio from one run.

    python -m bench.replay            # 5 rounds of 400 requests
    python -m bench.replay --quick    # 1 round of 100

The recording holds the requests; the raw loop sends the very same requests
to the same app with httpx and checks nothing. Target: >= 0.8.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import arguments, emit, machine
from replayqa.record.recorder import Recorder, RecorderSettings
from replayqa.record.traffic import Body, RequestInfo, ResponseInfo
from replayqa.replay import ReplaySettings, replay

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = ROOT / "tests" / "support" / "content_app.py"
PATHS = ("/", "/gzip", "/br", "/zstd")


def make_recording(base_url: str, out: Path, count: int) -> list[str]:
    """Record ``count`` real exchanges with the app, without a proxy, through the recorder itself."""
    recorder = Recorder(RecorderSettings(out=out, name="bench"))
    paths = [PATHS[n % len(PATHS)] for n in range(count)]
    with httpx.Client(base_url=base_url) as client:
        for n, path in enumerate(paths):
            started = time.time()
            response = client.get(path)
            request = RequestInfo(
                f"bench-{n}",
                "127.0.0.1:1",
                "GET",
                "http",
                "127.0.0.1",
                80,
                path,
                "",
                "HTTP/1.1",
                [("Accept", "*/*")],
                Body(),
                started,
            )
            recorder.on_request(request)
            recorder.on_response(
                request.flow_id,
                ResponseInfo(
                    response.status_code,
                    response.reason_phrase,
                    list(response.headers.items()),
                    Body(response.content, response.headers.get("content-type", "")),
                    time.time(),
                ),
            )
    recorder.close()
    return paths


def raw_loop(base_url: str, paths: list[str]) -> float:
    started = time.perf_counter()
    with httpx.Client(base_url=base_url) as client:
        for path in paths:
            client.get(path, headers={"Accept": "*/*"})
    return time.perf_counter() - started


def replayed(base_url: str, recording: Path) -> float:
    started = time.perf_counter()
    result = replay([recording], ReplaySettings(base_url))
    elapsed = time.perf_counter() - started
    if not result.passed:
        raise RuntimeError(f"the benchmark replay found differences: {[i.error for i in result.issues][:3]}")
    return elapsed


def main() -> None:
    args = arguments(__doc__, quick=True)
    count, rounds = (100, 1) if args.quick else (400, 5)
    upstream = subprocess.Popen([sys.executable, str(UPSTREAM)], stdout=subprocess.PIPE, text=True)
    assert upstream.stdout is not None
    base_url = upstream.stdout.readline().removeprefix("listening on ").strip()
    try:
        with tempfile.TemporaryDirectory() as folder:
            recording = Path(folder) / "bench.db"
            paths = make_recording(base_url, recording, count)
            raw, rep = [], []
            for _ in range(rounds):
                raw.append(count / raw_loop(base_url, paths))
                rep.append(count / replayed(base_url, recording))
    finally:
        upstream.terminate()
        upstream.wait()
    ratios = [r / w for r, w in zip(rep, raw, strict=True)]
    result = {
        "benchmark": "replay",
        "machine": machine(),
        "requests": count,
        "rounds": rounds,
        "requests_per_second": {
            "raw httpx loop": round(statistics.median(raw), 1),
            "replayqa replay": round(statistics.median(rep), 1),
        },
        "replay / raw": round(statistics.median(ratios), 3),
        "each round": [round(r, 3) for r in ratios],
        "target": "replay / raw >= 0.8 with diffing on",
    }
    emit(result, args.json)


if __name__ == "__main__":
    main()
