"""Delta debugging (Zeller's ddmin): the smallest part of a failing sequence that still fails.

Each test of a candidate starts from the same state (a restore, or the
setup again on fresh resources), so what is left is what the failure needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def ddmin(items: Sequence[T], fails: Callable[[Sequence[T]], bool]) -> list[T]:
    """A 1-minimal sublist of ``items`` (order kept) for which ``fails`` still holds.

    ``fails(items)`` is assumed; when the full sequence no longer fails
    (a flaky finding), it is returned unchanged.
    """
    tried: dict[tuple[int, ...], bool] = {}

    def test(candidate: list[int]) -> bool:
        key = tuple(candidate)
        if key not in tried:
            tried[key] = fails([items[i] for i in candidate])
        return tried[key]

    current = list(range(len(items)))  # positions: the same action may come twice
    chunks = 2
    while len(current) >= 2:
        size = -(-len(current) // chunks)
        parts = [current[i : i + size] for i in range(0, len(current), size)]
        for part in parts:
            if test(part):
                current, chunks = part, 2
                break
        else:
            for i in range(len(parts)):
                rest = [x for j, p in enumerate(parts) if j != i for x in p]
                if test(rest):
                    current, chunks = rest, max(chunks - 1, 2)
                    break
            else:
                if chunks >= len(current):
                    break
                chunks = min(len(current), chunks * 2)
    return [items[i] for i in current]
