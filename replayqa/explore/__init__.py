"""``replayqa explore``: walk an app's states with restores, check invariants, shrink what breaks.

Layers, imported one way: abstract (what makes two states equal), relations
(invariants learned on the way), shrink (delta debugging) → graph (the
StateGraph and its explorer, on the one runner) → fromspec / document (a
graph from an OpenAPI spec, or from a YAML file).
"""

from __future__ import annotations

from replayqa.explore.graph import Edge, ExploreResult, StateGraph, StateNode, Violation

__all__ = ["Edge", "ExploreResult", "StateGraph", "StateNode", "Violation"]
