"""The run store, ``.replayqa/runs.db``: every run, step and issue, for later screens.

A SQLite file written with sqlite-utils, so ``sqlite-utils tables`` or
datasette can open it too. Everything in it is redacted.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from replayqa.errors import ConfigError
from replayqa.knowledge import KnownIssue
from replayqa.model import IssueStatus, RunResult
from replayqa.redact import Redactor
from replayqa.report.serialize import issue_dict, run_dict, step_dict

DEFAULT_STORE = Path(".replayqa") / "runs.db"
FORMAT = "replayqa-runs/1"


class RunStore:
    def __init__(self, path: str | Path = DEFAULT_STORE) -> None:
        """Open a run store, making it if there is none; never adopt another file as one."""
        self.path = Path(path)
        if self.path.exists():
            _check_store(self.path)
        import sqlite_utils  # not at import: it loads numpy when installed, slowing every command

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path)
            conn.text_factory = lambda raw: raw.decode("utf-8", "replace")  # damaged text reads as such
            self.db = sqlite_utils.Database(conn)
            if "meta" not in self.db.table_names():
                self.db.table("meta").insert({"key": "format", "value": FORMAT}, pk="key")
        except (OSError, sqlite3.Error) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise ConfigError(
                f"cannot open the run store {self.path}: {reason}; give another with --store "
                "or the store setting"
            ) from None

    @classmethod
    def open_existing(cls, path: str | Path) -> RunStore:
        """Open a store to read it: a missing, foreign or newer file is a clear error."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(
                f"no run store at {path}: run replayqa run or replayqa replay first, or give a path"
            )
        if _check_store(path) is None:
            raise ConfigError(f"{path} is not a replayqa run store (no {FORMAT} metadata)")
        return cls(path)

    def save(self, run: RunResult, redactor: Redactor) -> None:
        """Keep a run, redacted by the project's redactor (``Settings.redactor()``)."""
        data = run_dict(run, redactor)
        with self.db.conn:
            self._add_exchange_ids()
            self.db.table("runs").insert(
                {
                    "run_id": run.run_id,
                    "base_url": data["base_url"],
                    "build": run.build,
                    "started_at": run.started_at,
                    "duration_ms": data["duration_ms"],
                    "passed": run.passed,
                    **data["summary"],
                },
                pk="run_id",
                replace=True,
                alter=True,
            )
            rows = {
                "steps": ((j, step_dict(s, redactor)) for j in run.journeys for s in j.steps),
                "issues": ((j, issue_dict(i, redactor)) for j in run.journeys for i in j.issues),
            }
            for table, records in rows.items():
                self.db.table(table).insert_all(
                    (
                        {
                            "run_id": run.run_id,
                            "source": journey.source,
                            # what a re-run replays; None for a journey that replays no recording
                            "sessions": json.dumps(journey.sessions) if journey.sessions else None,
                            **_flat(record),
                        }
                        for journey, record in records
                    ),
                    foreign_keys=[("run_id", "runs", "run_id")],
                    alter=True,
                    # typed even when a run's first rows have none
                    columns={"exchange_id": int, "sessions": str},
                )

    def _add_exchange_ids(self) -> None:
        """A store written before steps carried their exchange id gains the column, filled from the names.

        Without it, the rows this version adds would have ids and the older ones none.
        """
        self.db.conn.create_function("exchange_id_in_name", 1, _exchange_id_in_name, deterministic=True)
        for name in ("steps", "issues"):
            if name in self.db.table_names() and "exchange_id" not in self.db.table(name).columns_dict:
                self.db.execute(f"ALTER TABLE [{name}] ADD COLUMN exchange_id INTEGER")
                self.db.execute(f"UPDATE [{name}] SET exchange_id = exchange_id_in_name(step)")

    def add_answers(self, run_id: str, answers: dict[tuple[str, str, int | None], int]) -> None:
        """What the app answered to requests no step recorded (the fuzz phase): for ``coverage``."""
        with self.db.conn:
            self.db.table("answers").insert_all(
                (
                    {"run_id": run_id, "method": m, "url": u, "status": st, "count": n}
                    for (m, u, st), n in answers.items()
                ),
                alter=True,
            )

    def answered(self) -> list[tuple[str, str, int | None]]:
        """(method, url, status) of every answer the store holds: run steps, then fuzz answers."""
        found: list[tuple[str, str, int | None]] = []
        if "steps" in self.db.table_names() and "exchange" in self.db.table("steps").columns_dict:
            for row in self.db.query("SELECT exchange FROM steps WHERE exchange IS NOT NULL"):
                exchange = (
                    json.loads(row["exchange"]) if isinstance(row["exchange"], str) else row["exchange"]
                )
                request, response = (exchange or {}).get("request"), (exchange or {}).get("response")
                if request:
                    found.append((request["method"], request["url"], (response or {}).get("status")))
        if "answers" in self.db.table_names():
            found += [(r["method"], r["url"], r["status"]) for r in self.db.table("answers").rows]
        return found

    def runs(self) -> list[dict[str, Any]]:
        if "runs" not in self.db.table_names():
            return []
        return list(self.db["runs"].rows_where(order_by="started_at desc"))

    def known_rules(self) -> list[KnownIssue]:
        """Known-issue rules kept in the store (the TUI writes them), by fingerprint."""
        if "known_issues" not in self.db.table_names():
            return []
        return [
            KnownIssue(fingerprint=r["fingerprint"], status=r["status"], reason=r["reason"] or "")
            for r in self.db.table("known_issues").rows
            if r["status"] != "fixed"  # a fixed issue that comes back is new again
        ]

    def passed_in_build(self, build: str, keys: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        """Which of these (journey, path, step) passed in an earlier run of the same build."""
        if (
            not keys
            or "steps" not in self.db.table_names()
            or "build" not in self.db.table("runs").columns_dict
        ):
            return set()
        rows = self.db.query(
            "SELECT DISTINCT s.journey, s.path, s.step FROM steps s JOIN runs r ON r.run_id = s.run_id "
            "WHERE r.build = ? AND s.passed",
            [build],
        )
        return {(r["journey"], r["path"], r["step"]) for r in rows} & keys

    def resolutions(self) -> dict[str, dict[str, Any]]:
        """Fingerprints marked fixed, with the note and when: what to suggest if they come back."""
        if "known_issues" not in self.db.table_names():
            return {}
        return {r["fingerprint"]: r for r in self.db.table("known_issues").rows_where("status = 'fixed'")}

    def mark(self, fingerprint: str, status: IssueStatus | str, reason: str = "") -> None:
        """Remember a fingerprint as known, flaky or fixed (or forget it with status new)."""
        status = IssueStatus(status)
        table = self.db.table("known_issues")
        if status == IssueStatus.NEW:
            if "known_issues" in self.db.table_names():
                table.delete_where("fingerprint = ?", [fingerprint])
            return
        table.upsert(
            {"fingerprint": fingerprint, "status": status.value, "reason": reason, "marked_at": time.time()},
            pk="fingerprint",
        )

    def occurrences(self) -> list[dict[str, Any]]:
        """Issues grouped by fingerprint across runs: how often, first and last seen, the latest message."""
        if "issues" not in self.db.table_names() or "fingerprint" not in self.db.table("issues").columns_dict:
            return []
        return list(
            self.db.query(
                """
                SELECT i.fingerprint, count(*) AS occurrences, count(DISTINCT i.run_id) AS runs,
                       min(r.started_at) AS first_seen, max(r.started_at) AS last_seen,
                       (SELECT error FROM issues j WHERE j.fingerprint = i.fingerprint
                        ORDER BY j.rowid DESC LIMIT 1) AS latest_error,
                       (SELECT journey || ' › ' || step FROM issues j WHERE j.fingerprint = i.fingerprint
                        ORDER BY j.rowid DESC LIMIT 1) AS latest_where
                FROM issues i JOIN runs r ON r.run_id = i.run_id
                WHERE i.fingerprint != ''
                GROUP BY i.fingerprint ORDER BY last_seen DESC
                """
            )
        )

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        if "steps" not in self.db.table_names():
            return []
        return [
            _parsed(r) for r in self.db.table("steps").rows_where("run_id = ?", [run_id], order_by="rowid")
        ]

    def issues(self, run_id: str) -> list[dict[str, Any]]:
        if "issues" not in self.db.table_names():
            return []
        return [
            _parsed(r) for r in self.db.table("issues").rows_where("run_id = ?", [run_id], order_by="rowid")
        ]

    def latest_issue(self, fingerprint: str) -> dict[str, Any] | None:
        if "issues" not in self.db.table_names():
            return None
        rows = self.db.table("issues").rows_where(
            "fingerprint = ?", [fingerprint], order_by="rowid desc", limit=1
        )
        return next((_parsed(r) for r in rows), None)


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    """Nested values as JSON text, one column each."""
    return {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in record.items()}


def _parsed(record: dict[str, Any]) -> dict[str, Any]:
    """JSON columns back to values; a store no run has been saved to since steps carried their
    exchange id has no such column, and its rows get the id from the step's name."""
    for key in ("exchange", "request", "response", "expected", "diff", "logs", "sessions"):
        value = record.get(key)
        if isinstance(value, str) and value[:1] in "[{":
            record[key] = json.loads(value)
    if "exchange_id" not in record and "step" in record:
        record["exchange_id"] = _exchange_id_in_name(record["step"])
    return record


#: How replayed steps were named, and the only way to find their exchange in older stores.
_EXCHANGE_IN_NAME = re.compile(r"#(\d+)(?: |$)")


def _exchange_id_in_name(step: str | None) -> int | None:
    """The exchange id a replayed step's name begins with (``#24 GET /cart``), for stores written
    before steps carried ``exchange_id``; nothing else reads ids from names."""
    match = _EXCHANGE_IN_NAME.match(step or "")
    return int(match.group(1)) if match else None


#: The columns the store's readers name, by table; a store missing one is damaged.
_READ_COLUMNS = {
    "runs": ("run_id", "started_at"),
    "known_issues": ("fingerprint", "status", "reason"),
    "issues": ("run_id", "fingerprint", "journey", "step", "error"),
    "steps": ("run_id", "journey", "path", "step", "passed"),
}


def _check_store(path: Path) -> str | None:
    """The store's format, None for an empty SQLite file; a clear error for anything else.

    Read-only: a recording, or some other database, given as a store must not gain its tables.
    """
    try:
        with path.open("rb") as handle:
            header = handle.read(16)
    except OSError as exc:
        raise ConfigError(f"cannot read the run store {path}: {exc.strerror}; check the path") from None
    if header and header != b"SQLite format 3\x00":
        raise ConfigError(f"{path} is not a replayqa run store (not a SQLite file): give the run store")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            row = (
                conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
                if "meta" in tables
                else None
            )
            if row is not None and str(row[0]).strip('"') == FORMAT:
                for table, columns in _READ_COLUMNS.items():  # what this module's own queries name
                    if table in tables:
                        conn.execute(f'SELECT {", ".join(columns)} FROM "{table}" LIMIT 0')
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"{path} is damaged ({exc}): remove it, or give another run store") from None
    found = str(row[0]).strip('"') if row else None  # recordings keep JSON values in meta
    if found == FORMAT or (found is None and not tables):
        return found
    if found and found.startswith("replayqa-runs/"):
        raise ConfigError(
            f"{path} is a {found} store, newer than this replayqa reads ({FORMAT}): upgrade replayqa"
        )
    what = (
        "it is a replayqa recording"
        if found and found.startswith("replayqa-recording/")
        else "another program's database"
    )
    raise ConfigError(
        f"{path} is not a replayqa run store ({what}): give the run store (default {DEFAULT_STORE})"
    )
