from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.fixture
def cli(tmp_path):
    """Run the real ``replayqa`` command in a fresh folder, as a user would."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "replayqa", *args],
            cwd=tmp_path,
            env={**os.environ, "COLUMNS": "80", **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def wait_listening(port: int, process: subprocess.Popen[str], seconds: float = 30) -> None:
    """Until ``process`` accepts connections on ``port``; its stderr if it exits first."""
    import socket
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited: {process.communicate()[1]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{process.args[0]} did not start listening on {port}")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RecordingProxy:
    """``replayqa record`` running as its own process, as a tester would start it."""

    def __init__(self, cwd, *args: str) -> None:

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "replayqa", "record", "--listen", f"127.0.0.1:{self.port}", *args],
            cwd=cwd,
            env={**os.environ, "COLUMNS": "80"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_listening(self.port, self.process)

    def stop(self, sig=None) -> tuple[int, str, str]:
        import signal

        if self.process.poll() is None:
            self.process.send_signal(sig or signal.SIGTERM)
        out, err = self.process.communicate(timeout=30)
        return self.process.returncode, out, err


@pytest.fixture
def recording_proxy(tmp_path):
    started: list[RecordingProxy] = []

    def start(*args: str) -> RecordingProxy:
        proxy = RecordingProxy(tmp_path, *args)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        if proxy.process.poll() is None:
            proxy.process.kill()
            proxy.process.communicate()
