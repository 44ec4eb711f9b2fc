"""``replayqa tui``: triage runs, issues and recordings in the terminal (Textual)."""

from replayqa.tui.app import TriageApp, open_target

__all__ = ["TriageApp", "open_target"]
