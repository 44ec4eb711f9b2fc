"""TUI time to first screen: a recording with 1k exchanges vs one with 100k, in one run.

    python -m bench.tui

Time from starting the app to its first screen showing exchanges (headless,
80x24). Target: 100k at most 2x the 1k time.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import arguments, emit, machine
from replayqa.tui import TriageApp
from tests.support.big_recording import big_recording


async def first_screen(path: Path) -> float:
    started = time.perf_counter()
    app = TriageApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        while not app.screen.query("#exchanges") or app.screen.query_one("#exchanges").row_count == 0:
            await pilot.pause(0.005)
        return time.perf_counter() - started


def main() -> None:
    args = arguments(__doc__, quick=False)
    with tempfile.TemporaryDirectory() as folder:
        small = big_recording(Path(folder) / "small.db", 1_000)
        large = big_recording(Path(folder) / "large.db", 100_000)
        times: dict[str, list[float]] = {"1k": [], "100k": []}
        for _ in range(5):
            times["1k"].append(asyncio.run(first_screen(small)))
            times["100k"].append(asyncio.run(first_screen(large)))
    median = {k: statistics.median(v) for k, v in times.items()}
    report = {
        "benchmark": "TUI time to first screen",
        "machine": machine(),
        "seconds": {k: round(v, 3) for k, v in median.items()},
        "ratio (100k / 1k)": round(median["100k"] / median["1k"], 2),
        "target": "100k at most 2x the 1k time",
    }
    emit(report, args.json)


if __name__ == "__main__":
    main()
