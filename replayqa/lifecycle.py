"""Starting and stopping the app under test, for CI runs (``--start CMD --health URL``).

The app runs in its own process group, its stdout and stderr go to a log file
that issues quote from, and replayqa waits until the health URL answers
before sending anything. A health URL that never answers, or an app that
exits, is a setup error that shows the app's last log lines.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from replayqa.errors import ConfigError
from replayqa.logs import LogFile


class AppProcess:
    def __init__(self, command: str, health_url: str, timeout: float = 60.0, log_lines: int = 50) -> None:
        self.command = command
        self.health_url = health_url
        self.timeout = timeout
        self.log_path = Path(tempfile.mkdtemp(prefix="replayqa-app-")) / "app.log"
        self.log = LogFile(self.log_path, log_lines)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> AppProcess:
        with self.log_path.open("wb") as output:
            self._process = subprocess.Popen(
                self.command, shell=True, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ConfigError(self._failure(f"the app exited with code {self._process.returncode}"))
            try:
                if httpx.get(self.health_url, timeout=2).status_code < 500:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise ConfigError(
            self._failure(f"the app did not answer at {self.health_url} within {self.timeout:g}s")
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def _failure(self, what: str) -> str:
        lines = self.log.tail()[-10:]
        shown = "\n".join(f"    {line}" for line in lines) if lines else "    (it printed nothing)"
        return f"{what}: check --start and --health; its last log lines:\n{shown}"

    def __enter__(self) -> AppProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
