"""The run store, ``.replayqa/runs.db``: every run, step and issue, for later screens.

A SQLite file written with sqlite-utils, so ``sqlite-utils tables`` or
datasette can open it too. Everything in it is redacted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlite_utils

from replayqa.model import RunResult
from replayqa.report.serialize import issue_dict, run_dict, step_dict

DEFAULT_STORE = Path(".replayqa") / "runs.db"


class RunStore:
    def __init__(self, path: str | Path = DEFAULT_STORE) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite_utils.Database(self.path)

    def save(self, run: RunResult) -> None:
        data = run_dict(run)
        with self.db.conn:
            self.db.table("runs").insert(
                {
                    "run_id": run.run_id,
                    "base_url": run.base_url,
                    "started_at": run.started_at,
                    "duration_ms": data["duration_ms"],
                    "passed": run.passed,
                    **data["summary"],
                },
                pk="run_id",
                replace=True,
            )
            self.db.table("steps").insert_all(
                ({"run_id": run.run_id, **_flat(step_dict(s))} for j in run.journeys for s in j.steps),
                foreign_keys=[("run_id", "runs", "run_id")],
            )
            self.db.table("issues").insert_all(
                ({"run_id": run.run_id, **_flat(issue_dict(i))} for i in run.issues),
                foreign_keys=[("run_id", "runs", "run_id")],
            )

    def runs(self) -> list[dict[str, Any]]:
        if "runs" not in self.db.table_names():
            return []
        return list(self.db["runs"].rows_where(order_by="started_at desc"))

    def issues(self, run_id: str) -> list[dict[str, Any]]:
        if "issues" not in self.db.table_names():
            return []
        return list(self.db["issues"].rows_where("run_id = ?", [run_id]))


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    """Nested values as JSON text, one column each."""
    return {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in record.items()}
