"""The app's own log lines, attached to issues so a failure can be read in context."""

from __future__ import annotations

import os
import re
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class LogFile:
    """The last lines of a log file the app writes."""

    def __init__(self, path: str | Path, lines: int = 50) -> None:
        self.path = Path(path)
        self.lines = lines

    def tail(self) -> list[str]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - 256 * max(self.lines, 1)))
                data = handle.read()
        except OSError:
            return []
        lines = _ANSI.sub("", data.decode("utf-8", errors="replace")).splitlines()
        return lines[-self.lines :] if self.lines else []
