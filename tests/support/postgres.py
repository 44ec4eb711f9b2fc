"""A throwaway PostgreSQL server started from the machine's binaries.

The server refuses to run as root, so as root it runs as an unprivileged
system user made for the purpose. It listens on loopback on a free port and
is stopped (and its files removed) when the tests finish.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SERVICE_USER = "replayqa-pg"


def find_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(on_path)
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return Path(candidate).parent
    raise RuntimeError(
        "PostgreSQL server binaries not found (no pg_ctl): install them with "
        "'apt-get install -y postgresql' and run the tests again"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _service_user() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=True,
        )
        entry = pwd.getpwnam(SERVICE_USER)
    return entry.pw_uid, entry.pw_gid


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    ids: tuple[int, int] | None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def dsn(self, dbname: str) -> str:
        return f"{self.url}/{dbname}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        user, group = self.ids if self.ids else (None, None)
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            user=user,
            group=group,
            check=True,
            capture_output=True,
            text=True,
        )

    def start(self) -> None:
        data = self.root / "data"
        self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start"
        )

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PostgresServer:
    bindir = find_bindir()
    ids = _service_user()
    last_error: Exception | None = None
    for _ in range(3):
        root = Path(tempfile.mkdtemp(prefix="replayqa-pg-"))
        if ids:
            os.chown(root, *ids)
            os.chmod(root, 0o700)
        server = PostgresServer(bindir, root, _free_port(), ids)
        try:
            server.start()
            return server
        except subprocess.CalledProcessError as exc:  # most likely a port taken meanwhile
            last_error = RuntimeError(f"{exc.cmd[0]} failed: {exc.stderr or exc.stdout}")
            shutil.rmtree(root, ignore_errors=True)
            time.sleep(0.2)
    raise RuntimeError(f"could not start PostgreSQL: {last_error}")
