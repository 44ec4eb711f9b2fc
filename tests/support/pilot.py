"""Waiting for the TUI's loaders: they read in worker threads, which Pilot pauses do not wait for."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot


async def settle(pilot: Pilot[Any]) -> None:
    """Let the loaders finish and their messages be handled, however slow the machine.

    A loader's message may start another loader (a session highlighted loads
    its exchanges), so this waits until no worker is left running.
    """
    while True:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not any(worker.is_running for worker in pilot.app.workers):
            return
