"""Synth: how its time grows with recorded exchanges, and how much of an API it reaches.

1. Synth from recordings of 1k, 2k, 5k and 10k exchanges (shop sessions with
   ids and tokens flowing between steps; as many short sessions, and as one
   long one). Reported as seconds and as growth against the 1k run taken in
   the same process: linear growth is 10x at 10k.
2. Synth from the spec alone plus ``replayqa run`` on the largest app this
   machine runs (the 53-operation library app in tests/support) and on the
   demo shop: operations reaching a 2xx, wall time, and distinct server errors.

    python -m bench.synth [--json FILE]
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import arguments, emit, machine
from replayqa.config import Settings
from replayqa.demo.app import ADMIN_EMAIL, ADMIN_PASSWORD
from replayqa.demo.run import spec_path
from replayqa.demo.server import DemoServer
from replayqa.execute import run_journeys
from replayqa.knowledge import fingerprint
from replayqa.record.storage import _INSERT_SQL, SCHEMA, create_recording
from replayqa.synth import synthesize
from replayqa.synth.coverage import Coverage
from replayqa.synth.openapi import Api
from tests.support.apps import ChildApp
from tests.support.library_app import library_spec

SIZES = (1000, 2000, 5000, 10000)


def _session(number: int, first_id: int) -> list[dict[str, Any]]:
    email, token = f"user{number}@shop.test", f"tok-{number:08d}-secret"
    cart, order, item = 1000 + number, 5000 + number, 1 + number % 3
    auth = [["Authorization", f"Bearer {token}"], ["Content-Type", "application/json"]]
    plain = [["Content-Type", "application/json"]]
    paid = {
        "id": order,
        "cart_id": cart,
        "status": "paid",
        "total_cents": 1200,
        "charged_cents": 1200,
        "created_at": "2026-01-01T00:00:00Z",
    }
    calls = [
        (
            "POST",
            "/users",
            plain,
            {"email": email, "password": "[redacted:0a1b2c3d]"},
            201,
            {"id": 90 + number, "email": email},
        ),
        (
            "POST",
            "/auth/login",
            plain,
            {"email": email, "password": "[redacted:0a1b2c3d]"},
            200,
            {"token": token, "user_id": 90 + number},
        ),
        (
            "POST",
            "/cart/items",
            auth,
            {"item_id": item, "quantity": 1},
            201,
            {
                "id": cart,
                "status": "open",
                "lines": [{"item_id": item, "line_total_cents": 1200}],
                "total_cents": 1200,
            },
        ),
        (
            "POST",
            f"/carts/{cart}/checkout",
            auth,
            {"card_number": "4242424242424242"},
            201,
            paid,
        ),
        (
            "GET",
            f"/orders/{order}",
            auth,
            None,
            200,
            paid,
        ),
    ]
    return [
        {
            "id": first_id + n,
            "flow_id": f"f{first_id + n}",
            "session_id": number,
            "started_at": float(first_id + n),
            "method": method,
            "path": path,
            "url": f"http://shop.test{path}",
            "status": status,
            "request_headers": json.dumps(headers),
            "request_body": json.dumps(body) if body is not None else None,
            "response_headers": json.dumps([["Content-Type", "application/json"]]),
            "response_body": json.dumps(response),
        }
        for n, (method, path, headers, body, status, response) in enumerate(calls)
    ]


def shop_recording(path: Path, exchanges: int, one_session: bool = False) -> Path:
    """Shop sessions of 5 exchanges each, or all of them in one long session (one tester, all day)."""
    create_recording(path, {"name": path.stem})
    sessions = exchanges // 5
    with sqlite3.connect(path) as conn:
        for number in range(1, (1 if one_session else sessions) + 1):
            session = {"id": number, "name": f"shopper-{number}", "started_at": float(number)}
            conn.execute(_INSERT_SQL["sessions"], [session.get(c) for c in SCHEMA["sessions"]])
        for number in range(1, sessions + 1):
            rows = _session(number, (number - 1) * 5 + 1)
            for row in rows:
                row["session_id"] = 1 if one_session else number
            conn.executemany(
                _INSERT_SQL["exchanges"], ([row.get(c) for c in SCHEMA["exchanges"]] for row in rows)
            )
    return path


def growth(folder: Path, one_session: bool) -> dict[str, Any]:
    shape = "one session" if one_session else "sessions of 5"
    warm_up = shop_recording(folder / f"warm-up-{one_session}.db", 100, one_session)
    synthesize(spec_path(), [warm_up])  # imports and caches, not timed
    timings = {}
    for size in SIZES:
        recording = shop_recording(folder / f"shop-{size}-{one_session}.db", size, one_session)
        started = time.perf_counter()
        result = synthesize(spec_path(), [recording])
        timings[size] = time.perf_counter() - started
        print(
            f"synth from {size} exchanges ({shape}): {timings[size]:.2f}s, {len(result.journeys)} journey(s)"
        )
    base = timings[SIZES[0]]
    return {
        str(size): {
            "seconds": round(seconds, 3),
            "growth_vs_1k": round(seconds / base, 2),
            "exchanges_vs_1k": size // SIZES[0],
            "us_per_exchange": round(seconds / size * 1e6, 1),
        }
        for size, seconds in timings.items()
    }


def reach(
    name: str, spec: Path, base_url: str, db: str, folder: Path, variables: dict[str, str]
) -> dict[str, Any]:
    started = time.perf_counter()
    journeys = synthesize(spec, variables=list(variables)).journeys
    settings = Settings(
        base_url=base_url,
        db=db,
        vars=variables,
        report_dir=str(folder / "reports"),
        store=str(folder / "runs.db"),
    )
    outcome = run_journeys(journeys, settings)
    seconds = time.perf_counter() - started
    coverage = Coverage(Api.load(spec))
    coverage.add_run(outcome.result)
    summary = coverage.summary()
    server_errors = {
        fingerprint(i) for i in outcome.result.issues if i.response is not None and i.response.status >= 500
    }
    report = {
        "operations": summary["operations"],
        "reached_2xx": summary["reached_2xx"],
        "reached_2xx_share": round(summary["reached_2xx"] / summary["operations"], 3),
        "documented_statuses_hit": f"{summary['documented_statuses_hit']}/{summary['documented_statuses']}",
        "seconds_synth_and_run": round(seconds, 2),
        "steps_run": outcome.result.steps_executed,
        "issues": len(outcome.result.issues),
        "distinct_server_errors": len(server_errors),
    }
    print(f"{name}: {report}", flush=True)
    return report


def main() -> None:
    args = arguments(__doc__, quick=False)
    with tempfile.TemporaryDirectory(prefix="replayqa-bench-synth-") as tmp:
        folder = Path(tmp)
        report: dict[str, Any] = {
            "machine": machine(),
            "growth": growth(folder, one_session=False),
            "growth_one_long_session": growth(folder, one_session=True),
        }
        spec = folder / "library.json"
        spec.write_text(json.dumps(library_spec()))
        app = ChildApp("library_app.py", str(folder / "library-test.db"))
        try:
            report["library_53_operations"] = reach(
                "library", spec, app.base_url, f"sqlite:///{folder / 'library-test.db'}", folder / "lib", {}
            )
        finally:
            app.stop()
        with DemoServer(folder / "shop") as shop:
            report["demo_shop_14_operations"] = reach(
                "demo shop",
                spec_path(),
                shop.base_url,
                shop.db_url,
                folder / "shop-run",
                {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            )
    emit(report, args.json)


if __name__ == "__main__":
    main()
