"""Values that flow between steps, and their snapshots at checkpoints."""

from __future__ import annotations

import copy
from collections.abc import Iterator, MutableMapping
from typing import Any


class ExecutionContext(MutableMapping[str, Any]):
    """A dict of named values plus the results of the steps run so far.

    Branch paths must not see each other's values, so a checkpoint takes a
    deep snapshot and each path starts from it.
    """

    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self._values: dict[str, Any] = dict(initial or {})
        self._step_results: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._values[key] = value

    def __delitem__(self, key: str) -> None:
        del self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"ExecutionContext({self._values!r}, steps={list(self._step_results)!r})"

    def set(self, key: str, value: Any) -> None:
        self._values[key] = value

    def get_required(self, key: str) -> Any:
        if key not in self._values:
            known = ", ".join(sorted(self._values)) or "none"
            raise KeyError(f"context has no value {key!r}; it has: {known}")
        return self._values[key]

    def store_step_result(self, step_name: str, result: Any) -> None:
        self._step_results[step_name] = result

    def get_step_result(self, step_name: str, default: Any = None) -> Any:
        return self._step_results.get(step_name, default)

    @property
    def step_results(self) -> dict[str, Any]:
        return self._step_results

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy({"values": self._values, "steps": self._step_results})

    def restore(self, snapshot: dict[str, Any]) -> None:
        state = copy.deepcopy(snapshot)
        self._values = state["values"]
        self._step_results = state["steps"]

    def to_dict(self) -> dict[str, Any]:
        return {"values": dict(self._values), "steps": dict(self._step_results)}
