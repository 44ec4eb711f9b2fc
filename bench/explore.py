"""States explored per minute: restores out of order vs executing each path again.

    python -m bench.explore                # both apps, up to 90 s each way
    python -m bench.explore --quick        # up to 30 s each way
    python -m bench.explore --app orders   # one of them

The apps: Kinto (the field suite's PostgreSQL app) and the tests' order API
on PostgreSQL. Each way explores the app's spec breadth first, to depth 8, on a fresh
database and a fresh app process, for the same time: first with ``--db``
(each state restored from its checkpoint: a restore per expansion), then
without (each state reached by executing its path again from the setup), until every
state is explored or the time is up.
The figure is distinct abstract states per minute of search (the shrinking
of what it found comes after and is left out), and the ratio is against
the re-execution baseline taken in the same run (the order app: 5 rounds,
the median round reported). Kinto's venv comes from the
field suite's cache (``python -m bench.field --apps kinto`` makes it).
"""

from __future__ import annotations

import base64
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from bench.common import emit, machine
from replayqa.client import Client
from replayqa.explore.fromspec import graph_from_spec
from replayqa.state import open_state
from tests.support.postgres import PostgresServer, start_postgres


@contextmanager
def kinto(postgres: PostgresServer, work: Path) -> Iterator[dict[str, Any]]:
    from bench.field.apps.kinto import PASSWORD, Kinto
    from bench.field.env import venv

    app = Kinto()
    instance = app.start(venv(app.name, app.requirements), work, postgres)
    try:
        app.prepare(instance)
        basic = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
        yield {
            "base_url": instance.base_url,
            "db": instance.db_url,
            "spec": instance.spec,
            "vars": {"basic_auth": basic},
            "auth": "basic",
            # Its auth cache lives in the database: restored with the rest, every request would
            # hash the password again (about 1 s here). Caches are what exclude_tables is for.
            "exclude": ("cache",),
        }
    finally:
        instance.stop()


@contextmanager
def orders(postgres: PostgresServer, work: Path) -> Iterator[dict[str, Any]]:
    """The tests' order API (tests/support/orders_app.py) on a PostgreSQL database of its own."""
    from tests.support.apps import ChildApp

    name = f"orders_{int(time.time() * 1000)}_qa"
    with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    app = ChildApp("orders_app.py", postgres.dsn(name))
    try:
        yield {
            "base_url": app.base_url,
            "db": postgres.dsn(name),
            "spec": f"{app.base_url}/openapi.json",
            "vars": {},
            "auth": None,
        }
    finally:
        app.stop()


APPS = {"kinto": kinto, "orders": orders}
#: The order app explores every state in seconds: rounds, and the median, steady the figure.
ROUNDS = {"kinto": 1, "orders": 5}


def explore_once(app: dict[str, Any], restores: bool, seconds: float) -> dict[str, Any]:
    graph = graph_from_spec(app["spec"], app["vars"], auth=app["auth"])
    state = open_state(app["db"], exclude_tables=app.get("exclude", ())) if restores else None
    with Client(app["base_url"], timeout=30) as client:
        result = graph.explore(client, state, "bfs", max_depth=8, max_time=seconds)
    minutes = max(result.search_seconds, 1e-9) / 60  # the search: shrinking is apart
    return {
        **result.counts(),
        "states_per_minute": round(result.states / minutes, 1),
        "actions_per_minute": round(result.actions / minutes, 1),
        "violations": [f"{' -> '.join(v.actions)}: {v.issue.error}"[:300] for v in result.violations],
    }


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="30 s each way instead of 90")
    parser.add_argument("--app", choices=sorted(APPS), help="one app (default: both)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    seconds = 30.0 if args.quick else 90.0
    postgres = start_postgres()
    report: dict[str, Any] = {"machine": machine(), "seconds_each": seconds, "max_depth": 8, "apps": {}}
    try:
        for name in [args.app] if args.app else sorted(APPS):
            rounds: list[dict[str, Any]] = []
            for _ in range(ROUNDS[name]):
                figures: dict[str, Any] = {}
                with tempfile.TemporaryDirectory() as folder:
                    for way, restores in (("reexecution", False), ("restores", True)):
                        with APPS[name](postgres, Path(folder) / way) as app:
                            figures[way] = explore_once(app, restores, seconds)
                baseline = figures["reexecution"]["states_per_minute"]
                ratio = figures["restores"]["states_per_minute"] / baseline if baseline else None
                figures["ratio_states_per_minute"] = round(ratio, 2) if ratio else None
                rounds.append(figures)
            ratios = sorted(r["ratio_states_per_minute"] or 0 for r in rounds)
            median = next(r for r in rounds if r["ratio_states_per_minute"] == ratios[len(ratios) // 2])
            report["apps"][name] = {
                **median,
                "ratios_by_round": [r["ratio_states_per_minute"] for r in rounds],
            }
    finally:
        postgres.stop()
    emit(report, args.json)


if __name__ == "__main__":
    main()
