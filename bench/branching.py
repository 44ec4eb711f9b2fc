"""Branching: one journey with a 10-step trunk and 8 branches of 3 steps, run with restores,
vs re-executing the trunk from scratch for every path. Steps executed and wall time, one run.

    python -m bench.branching
"""

from __future__ import annotations

import time

from bench.common import arguments, emit, machine
from replayqa import Branch, Checkpoint, Client, Journey, JourneyRunner, RequestAction, Step
from replayqa import Path as JPath
from replayqa.demo.app import ADMIN_EMAIL, ADMIN_PASSWORD
from replayqa.demo.server import DemoServer
from replayqa.model import Check
from replayqa.state import open_state

AUTH = {"Authorization": "Bearer {{ token }}"}


def trunk() -> list:
    steps = [
        Step(
            "login",
            RequestAction("POST", "/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
            save={"token": "token"},
        )
    ]
    for n in range(9):  # nine writes: the state every path starts from
        steps.append(
            Step(
                f"add_{n}",
                RequestAction(
                    "POST", "/cart/items", headers=AUTH, json={"item_id": 1 + n % 3, "quantity": 1}
                ),
            )
        )
    return steps


def path_steps(number: int) -> list:
    return [
        Step(
            f"p{number}_update",
            RequestAction("PATCH", "/cart/items/1", headers=AUTH, json={"quantity": number + 1}),
        ),
        Step(
            f"p{number}_cart",
            RequestAction("GET", "/cart", headers=AUTH),
            checks=[Check("status", value=200)],
        ),
        Step(f"p{number}_remove", RequestAction("DELETE", "/cart/items/2", headers=AUTH)),
    ]


def branching() -> list[Journey]:
    paths = [JPath(f"path_{n}", path_steps(n)) for n in range(8)]
    return [Journey("branching", [*trunk(), Checkpoint("trunk"), Branch("trunk", paths)])]


def from_scratch() -> list[Journey]:
    return [Journey(f"linear_{n}", [*trunk(), *path_steps(n)]) for n in range(8)]


def measure(journeys: list[Journey]) -> dict[str, float]:
    with DemoServer(env={"REPLAYQA_DEMO_FIX_ALL": "1"}) as shop, Client(shop.base_url) as client:
        runner = JourneyRunner(client, open_state(shop.db_url))
        started = time.perf_counter()
        result = runner.run(journeys)
        elapsed = time.perf_counter() - started
    assert result.passed, [i.error for i in result.issues]
    return {
        "steps": result.steps_executed,
        "seconds": round(elapsed, 3),
        "paths": sum(len(j.paths) for j in result.journeys),
    }


def main() -> None:
    args = arguments(__doc__, quick=False)
    with_restores, rerun = measure(branching()), measure(from_scratch())
    report = {
        "benchmark": "branching",
        "machine": machine(),
        "with restores": with_restores,
        "re-executing every path": rerun,
        "steps saved": rerun["steps"] - with_restores["steps"],
        "time ratio (re-executing / restores)": round(rerun["seconds"] / with_restores["seconds"], 2),
    }
    emit(report, args.json)


if __name__ == "__main__":
    main()
