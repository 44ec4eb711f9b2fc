"""Numeric relations learned while exploring: what held in every earlier state must hold in the next.

The candidates and the evidence rule are synth's (``mine_relations``: a
relation needs several observations and two distinct values, so a constant
makes no invariant). A violated relation becomes a ``relation`` invariant,
the YAML kind journeys already carry, so the reproducing journey checks it
the same way.
"""

from __future__ import annotations

import json
from typing import Any

from replayqa.explore.abstract import shape
from replayqa.invariants import from_spec, relation_holds
from replayqa.model import Invariant, Severity
from replayqa.synth.fromrecordings import mine_relations


class RelationLearner:
    """Relations are learned per kind of object: its fields and its enum-like values (a paid order
    and a failed one hold different relations, and neither's says anything of the other)."""

    def __init__(self, minimum: int = 3) -> None:
        self.minimum = minimum
        self._groups: dict[str, _Group] = {}

    def check(self, status: int, body: Any) -> list[tuple[str, str]]:
        """(expression, evidence) for each learned relation ``body`` breaks; then it is learned from."""
        if not 200 <= status < 300:
            return []
        broken = []
        for subject in [s for s in (body if isinstance(body, list) else [body]) if isinstance(s, dict)]:
            group = self._groups.setdefault(_kind(subject), _Group())
            verdicts = {e: relation_holds(e, subject) for e, _ in group.relations(self.minimum)}
            for expression, evidence in group.relations(self.minimum):
                if verdicts[expression] is False and not _rival_holds(expression, verdicts):
                    broken.append((expression, evidence))
            group.add(status, subject)
        return broken

    @property
    def relations(self) -> list[str]:
        return sorted({e for g in self._groups.values() for e, _ in g.relations(self.minimum)})


class _Group:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.texts: set[str] = set()
        self.mined: list[tuple[str, str]] = []
        self.stale = False

    def relations(self, minimum: int) -> list[tuple[str, str]]:
        if self.stale:
            self.mined = mine_relations(self.rows, minimum)
            self.stale = False
        return self.mined

    def add(self, status: int, subject: dict[str, Any]) -> None:
        text = json.dumps(subject, sort_keys=True, default=str)
        if text not in self.texts:
            self.texts.add(text)
            self.rows.append({"status": status, "response_body": text})
            self.stale = True


def _kind(subject: dict[str, Any]) -> str:
    words = {k: v for k, v in subject.items() if isinstance(v, str) and shape(v) == v}
    return json.dumps([sorted(subject), words], sort_keys=True)


def _rival_holds(expression: str, verdicts: dict[str, bool | None]) -> bool:
    """Another relation for the same field holds here: of two rival guesses (``total == sum(unit
    prices)`` and ``total == sum(line totals)``) the one this object breaks was a coincidence."""
    left = expression.split(" ", 1)[0]
    return any(v is True and e != expression and e.split(" ", 1)[0] == left for e, v in verdicts.items())


def relation_invariant(expression: str, evidence: str) -> Invariant:
    """The learned relation as the journeys' own ``relation`` invariant."""
    spec = {
        "kind": "relation",
        "name": f"learned: {expression}",
        "expression": expression,
        "severity": Severity.MEDIUM.value,
        "evidence": f"learned while exploring: {evidence}",
    }
    return from_spec(spec, "explore")
