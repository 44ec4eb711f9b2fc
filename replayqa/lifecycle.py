"""Starting and stopping the app under test, for CI runs (``--start CMD --health URL``).

The app runs in its own process group, its stdout and stderr go to a log file
that issues quote from, and replayqa waits until the health URL answers
before sending anything. A health URL that never answers, or an app that
exits, is a setup error that shows the app's last log lines.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Worker:
    base_url: str
    db_url: str | None


class WorkerApps:
    """N copies of the database and N instances of the app, one pair per replay worker.

    The start command names where each instance listens and which database it
    uses: ``{port}``, ``{db_url}`` and, for SQLite, ``{db_path}``.
    """

    def __init__(self, count: int, start: str, db_url: str, health_path: str, timeout: float) -> None:
        self.count, self.start, self.db_url = count, start, db_url
        self.health_path, self.timeout = health_path or "/", timeout
        self._apps: list[AppProcess] = []
        self._copies: list[str] = []

    def __enter__(self) -> list[Worker]:
        try:
            return [self._worker(index) for index in range(1, self.count + 1)]
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        for app in self._apps:
            app.stop()
        for copy in self._copies:
            drop_database_copy(copy)

    def _worker(self, index: int) -> Worker:
        copy = copy_database(self.db_url, index)
        self._copies.append(copy)
        port = free_port()
        command = self.start.format(port=port, db_url=copy, db_path=_sqlite_path(copy) or "")
        app = AppProcess(command, f"http://127.0.0.1:{port}{self.health_path}", self.timeout)
        self._apps.append(app)
        app.start()
        return Worker(f"http://127.0.0.1:{port}", copy)


def _sqlite_path(url: str) -> str | None:
    return url.split("sqlite:///", 1)[1] if url.startswith("sqlite:///") else None


def copy_database(url: str, index: int) -> str:
    """A copy of a test database for worker ``index``; returns its URL."""
    import psycopg  # here, not at import: only --workers on PostgreSQL needs it
    from psycopg import sql as psql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    path = _sqlite_path(url)
    if path is not None:
        source = Path(path)
        target = source.with_name(f"{source.stem}-worker{index}{source.suffix}")
        with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
        return f"sqlite:///{target}"
    params = conninfo_to_dict(url)
    name = str(params.get("dbname") or "")
    copy = f"{name}_worker{index}"
    with closing(psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True)) as admin:
        admin.execute(psql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psql.Identifier(copy)))
        try:
            admin.execute(
                psql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    psql.Identifier(copy), psql.Identifier(name)
                )
            )
        except psycopg.errors.ObjectInUse:
            raise ConfigError(
                f"cannot copy database {name!r} for the workers: something is connected to it; "
                "with --workers, replayqa starts the app itself (--start), so stop other instances"
            ) from None
    return make_conninfo(url, dbname=copy) if "://" not in url else _with_dbname(url, copy)


def _with_dbname(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def drop_database_copy(url: str) -> None:
    import psycopg
    from psycopg import sql as psql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    path = _sqlite_path(url)
    if path is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
        return
    name = str(conninfo_to_dict(url).get("dbname") or "")
    with closing(psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True)) as admin:
        admin.execute(psql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psql.Identifier(name)))
