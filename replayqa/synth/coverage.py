"""API coverage: which operations and documented status codes recordings, journeys or runs exercised.

Journeys are read statically: an operation counts as exercised by a journey
when a step calls it, and its status codes are the ones the step expects.
Recordings and runs count what the app actually answered.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from replayqa.actions import RequestAction
from replayqa.model import Branch, Node, RunResult, Step
from replayqa.spec import SpecIndex
from replayqa.synth.openapi import Api

_TEMPLATE = re.compile(r"\{\{.*?\}\}")


@dataclass
class Coverage:
    api: Api
    seen: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    unmatched: int = 0

    def __post_init__(self) -> None:
        self.index = SpecIndex(self.api.document)

    def add(self, method: str, url: str, status: int | str | None) -> None:
        path = _TEMPLATE.sub("x", urlsplit(url).path if "://" in url else url.split("?")[0])
        label = self.index.match(method, path)
        if label is None:
            self.unmatched += 1
            return
        self.seen[label].add(str(status) if status is not None else "")

    # -- sources ------------------------------------------------------------------

    def add_recording(self, path: str | Path) -> None:
        from replayqa.record.storage import Recording

        recording = Recording.open(path)
        try:
            for row in recording.db.query("SELECT method, url, status FROM exchanges"):
                self.add(row["method"], row["url"], row["status"])
        finally:
            recording.close()

    def add_store(self, path: str | Path) -> None:
        """Answers a run store holds: journey runs, quality-gate runs, and synth's fuzz phase."""
        from replayqa.store import RunStore

        store = RunStore.open_existing(path)
        for method, url, status in store.answered():
            self.add(method, url, status)

    def add_journey_nodes(self, nodes: Iterable[Node]) -> None:
        for node in nodes:
            if isinstance(node, Step) and isinstance(node.action, RequestAction):
                statuses = [c.value for c in node.checks if c.kind == "status"] or ["2xx"]
                for status in _flat(statuses):
                    self.add(node.action.method, node.action.path, status)
            elif isinstance(node, Branch):
                for branch_path in node.paths:
                    self.add_journey_nodes(branch_path.steps)

    def add_run(self, result: RunResult) -> None:
        for journey in result.journeys:
            for step in journey.steps:
                exchange = step.exchange
                if exchange is not None:
                    status = exchange.response.status if exchange.response else None
                    self.add(exchange.request.method, exchange.request.url, status)

    # -- results ------------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for op in self.api.operations:
            seen = self.seen.get(op.label, set())
            documented = op.documented_statuses()
            hit = sorted(s for s in documented if _covers(seen, s))
            out.append(
                {
                    "operation": op.label,
                    "method": op.method,
                    "path": op.path,
                    "exercised": bool(seen),
                    "reached_2xx": any(s.startswith("2") for s in seen),
                    "statuses_seen": sorted(seen),
                    "documented_hit": hit,
                    "documented_missed": [s for s in documented if s not in hit],
                }
            )
        return out

    def summary(self) -> dict[str, Any]:
        rows = self.rows()
        documented = sum(len(r["documented_hit"]) + len(r["documented_missed"]) for r in rows)
        hit = sum(len(r["documented_hit"]) for r in rows)
        return {
            "operations": len(rows),
            "exercised": sum(r["exercised"] for r in rows),
            "reached_2xx": sum(r["reached_2xx"] for r in rows),
            "documented_statuses": documented,
            "documented_statuses_hit": hit,
            "unmatched_requests": self.unmatched,
        }


def _flat(values: Iterable[Any]) -> Iterable[str]:
    for value in values:
        if isinstance(value, list | tuple):
            yield from (str(v) for v in value)
        else:
            yield str(value)


def _covers(seen: set[str], documented: str) -> bool:
    """A seen status covers a documented one: exact, by class (``4xx``, ``4XX``), or ``default``."""
    if documented in seen:
        return True
    if documented.lower().endswith("xx"):
        return any(s[:1] == documented[:1] for s in seen)
    return False
