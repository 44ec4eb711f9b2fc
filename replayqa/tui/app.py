"""The triage app: which first screen depends on what it is given (a run store or a recording)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from textual.app import App

from replayqa.config import Settings, load_settings
from replayqa.errors import ConfigError
from replayqa.record.storage import Recording
from replayqa.store import RunStore
from replayqa.tui.screens import RecordingScreen, RunsScreen


def open_target(path: Path) -> RunStore | Path:
    """A run store, or a recording's path; anything else is a clear error."""
    if not path.is_file():
        raise ConfigError(f"no file at {path}: give a run store (.replayqa/runs.db) or a recording")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError:
        tables = set()
    if "runs" in tables:
        return RunStore.open_existing(path)
    if "exchanges" in tables:
        Recording.open(path).close()  # checks the format
        return path
    raise ConfigError(f"{path} is not a replayqa run store or recording")


class TriageApp(App[None]):
    """Triage from the terminal; on a run store whose latest run failed, it opens on that failure.

    Every read of a store or recording happens in a worker thread: the screens
    stay responsive on a large store and while a recording is being written.
    """

    CSS_PATH = "triage.tcss"
    TITLE = "replayqa"

    def __init__(
        self, target: RunStore | Path, settings: Settings | None = None, open_first_failure: bool = True
    ) -> None:
        """``settings``: the project's, which a re-run uses, and whose redactor its store and reports use."""
        super().__init__()
        self.target = target
        self.settings = settings if settings is not None else load_settings()
        self.redactor = self.settings.redactor()
        self.open_first_failure = open_first_failure
        self.follow_every = 1.0  # seconds between looks at a recording still being written

    def on_mount(self) -> None:
        if isinstance(self.target, RunStore):
            self.push_screen(RunsScreen(self.target, self.open_first_failure))
        else:
            self.push_screen(RecordingScreen(self.target, self.follow_every))
