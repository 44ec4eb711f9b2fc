"""What the field suite needs from the machine: a cache of pinned venvs, free ports, processes.

Apps are installed the way a user installs them, with pip, pinned, each into
a venv of its own in a cache folder outside the repository
(``$REPLAYQA_FIELD_CACHE``, default ``~/.cache/replayqa-field``), so a second
run starts in seconds and nothing of theirs leaks into replayqa's environment.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx


class FieldError(RuntimeError):
    """The suite could not set an app up: the message says which step and why."""


def cache_dir() -> Path:
    root = os.environ.get("REPLAYQA_FIELD_CACHE") or Path.home() / ".cache" / "replayqa-field"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Venv:
    """A virtual environment holding one app's pinned requirements."""

    path: Path

    def bin(self, name: str) -> str:
        return str(self.path / "bin" / name)

    @property
    def python(self) -> str:
        return self.bin("python")

    def version_of(self, package: str) -> str:
        out = subprocess.run(
            [self.python, "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()


def venv(name: str, requirements: Sequence[str]) -> Venv:
    """The cached venv for these exact requirements, made (about a minute) the first time."""
    key = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:10]
    path = cache_dir() / "venvs" / f"{name}-{key}"
    ready = path / ".ready"
    if ready.is_file():
        return Venv(path)
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    env = {
        **os.environ,
        "PIP_CACHE_DIR": str(cache_dir() / "pip"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_ROOT_USER_ACTION": "ignore",
    }
    done = subprocess.run(
        [str(path / "bin" / "pip"), "install", "-q", *requirements], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        tail = "\n".join(line for line in done.stderr.splitlines() if "is ignored" not in line)[-2000:]
        raise FieldError(f"pip install {' '.join(requirements)} failed:\n{tail}")
    ready.write_text("\n".join(requirements) + "\n")
    return Venv(path)


@dataclass
class Process:
    """A child process in its own process group, its output in a log file, stopped by its id."""

    command: Sequence[str]
    log: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> Process:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                list(self.command),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(self.env or {})},
                cwd=self.cwd,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, grace: float = 10.0) -> int | None:
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
            except ProcessLookupError:
                pass
        return self.popen.returncode

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_http(url: str, process: Process | None = None, timeout: float = 90.0) -> None:
    """Wait until ``url`` answers at all (any status): the app is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and not process.alive():
            raise FieldError(f"{process.command[0]} exited before answering:\n{process.tail()}")
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.HTTPError:
            time.sleep(0.25)
    raise FieldError(f"{url} did not answer in {timeout:.0f}s" + (f":\n{process.tail()}" if process else ""))


def wait_port(port: int, process: Process | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and not process.alive():
            raise FieldError(f"{process.command[0]} exited before listening:\n{process.tail()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise FieldError(f"nothing listened on port {port} in {timeout:.0f}s")
