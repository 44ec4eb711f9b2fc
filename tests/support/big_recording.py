"""A recording with many exchanges, written straight into the file, for lazy-loading tests and benches."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from replayqa.record.storage import _INSERT_SQL, SCHEMA, create_recording


def big_recording(path: Path, exchanges: int) -> Path:
    create_recording(path, {"name": path.stem})
    columns = list(SCHEMA["exchanges"])
    session = {
        "id": 1,
        "name": "everything",
        "identity": "client 10.0.0.1",
        "source": "identity",
        "client": "10.0.0.1",
        "started_at": 0.0,
        "ended_at": float(exchanges),
        "end_reason": "stopped",
        "group_id": 1,
        "overlapped": 0,
        "exchange_count": exchanges,
    }
    with sqlite3.connect(path) as conn:
        conn.execute(_INSERT_SQL["sessions"], [session.get(c) for c in SCHEMA["sessions"]])
        rows = (
            {
                "id": n,
                "flow_id": f"f{n}",
                "session_id": 1,
                "started_at": float(n),
                "method": "GET",
                "path": f"/items/{n}",
                "url": f"http://shop.test/items/{n}",
                "status": 200,
                "request_headers": "[]",
                "response_headers": json.dumps([["Content-Type", "application/json"]]),
                "response_body": json.dumps({"id": n}),
            }
            for n in range(1, exchanges + 1)
        )
        conn.executemany(_INSERT_SQL["exchanges"], ([row.get(c) for c in columns] for row in rows))
    return path


def append_exchanges(path: Path, first: int, count: int, status: int | None = 200) -> None:
    """More exchanges at the end of session 1, as a recorder still writing the file adds them."""
    columns = list(SCHEMA["exchanges"])
    with sqlite3.connect(path) as conn:
        for n in range(first, first + count):
            row = {
                "id": n,
                "flow_id": f"f{n}",
                "session_id": 1,
                "started_at": float(n),
                "method": "GET",
                "path": f"/items/{n}",
                "url": f"http://shop.test/items/{n}",
                "status": status,
                "request_headers": "[]",
                "response_headers": "[]",
            }
            conn.execute(_INSERT_SQL["exchanges"], [row.get(c) for c in columns])
        conn.execute("UPDATE sessions SET exchange_count = (SELECT count(*) FROM exchanges) WHERE id = 1")
