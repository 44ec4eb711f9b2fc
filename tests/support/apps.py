"""Processes that stand in for the app under test, for state and end-to-end tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

WORKER = Path(__file__).with_name("sql_worker.py")


class AppConnection:
    """A separate process with its own open connection, writing as an app would."""

    def __init__(self, kind: str, target: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), kind, target],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert json.loads(self._readline())["ready"]

    def _readline(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the app stand-in exited")
        return line

    def _send(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return json.loads(self._readline())

    def execute(self, sql: str, *params: Any) -> list[list[Any]]:
        answer = self._send({"sql": sql, "params": list(params)})
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer["rows"]

    def begin(self) -> None:
        self._send({"begin": True})

    def commit(self) -> None:
        self._send({"commit": True})

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()


class ChildApp:
    """A test app script in a child process; it prints ``listening on URL`` when ready."""

    def __init__(self, script: str, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name(script)), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"{script} did not start: {line!r}")
        self.base_url = line.removeprefix("listening on ").strip()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()
