"""The demo shop's planted bugs, and where the demo journeys catch each one.

Each bug is on unless its environment variable (or REPLAYQA_DEMO_FIX_ALL)
is set to a true value, so tests can show the fixed app passing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

FIX_ALL = "REPLAYQA_DEMO_FIX_ALL"


@dataclass(frozen=True)
class PlantedBug:
    key: str
    title: str
    journey: str
    path: str
    step: str

    @property
    def env(self) -> str:
        return f"REPLAYQA_DEMO_FIX_{self.key.upper()}"


BUGS = (
    PlantedBug(
        "declined_cart",
        "A declined payment still empties the cart",
        "checkout_payment",
        "declined",
        "cart_kept_after_decline",
    ),
    PlantedBug(
        "double_charge",
        "A second checkout of the same cart charges twice",
        "checkout_payment",
        "double_submit",
        "second_checkout_refused",
    ),
    PlantedBug(
        "deleted_item",
        "A deleted item stays in other users' carts",
        "item_removal",
        "admin_deletes_item",
        "cart_drops_deleted_item",
    ),
    PlantedBug(
        "quantity_total",
        "The order total is wrong after a quantity update",
        "quantity_update",
        "main",
        "order_total_matches_lines",
    ),
)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def active_bugs(environ: Mapping[str, str] = os.environ) -> set[str]:
    if _truthy(environ.get(FIX_ALL)):
        return set()
    return {bug.key for bug in BUGS if not _truthy(environ.get(bug.env))}
