"""Throwaway MariaDB and Redis servers started from Debian's packages.

Like the PostgreSQL one (tests/support/postgres.py): as root they run as an
unprivileged system user made for the purpose, listen on loopback on a free
port, keep their files in a temporary folder, and are stopped (by their own
process id) and removed when the tests finish.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

from tests.support.postgres import _free_port, _service_user


def _binary(name: str, package: str) -> str:
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    if found is None:
        raise RuntimeError(
            f"{name} not found: install it with 'apt-get install -y {package}' and run the tests again"
        )
    return found


@dataclass
class _Process:
    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def stop(self) -> None:
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _folder(prefix: str, ids: tuple[int, int] | None) -> Path:
    root = Path(tempfile.mkdtemp(prefix=prefix))
    if ids:
        os.chown(root, *ids)
        os.chmod(root, 0o700)
    return root


@dataclass
class MariaDBServer(_Process):
    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}"

    def dsn(self, dbname: str) -> str:
        return f"{self.url}/{dbname}"

    def admin(self) -> pymysql.connections.Connection:
        return pymysql.connect(host="127.0.0.1", port=self.port, user="root", autocommit=True)


def start_mariadb() -> MariaDBServer:
    server_binary = _binary("mariadbd", "mariadb-server")
    install = _binary("mariadb-install-db", "mariadb-server")
    ids = _service_user()
    root = _folder("replayqa-mariadb-", ids)
    data = root / "data"
    run_as = {"user": ids[0], "group": ids[1]} if ids else {}
    subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
        ],
        check=True,
        capture_output=True,
        **run_as,  # type: ignore[arg-type]
    )
    last = ""
    for _ in range(3):
        server = MariaDBServer(root, _free_port())
        server.process = subprocess.Popen(
            [
                server_binary,
                "--no-defaults",
                f"--datadir={data}",
                f"--socket={root / 'sock'}",
                f"--port={server.port}",
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0",
                "--innodb-buffer-pool-size=128M",
                "--performance-schema=OFF",
                "--max-connections=200",
                f"--pid-file={root / 'pid'}",
                f"--log-error={root / 'server.log'}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **run_as,  # type: ignore[arg-type]
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.process.poll() is None:
            try:
                server.admin().close()
                return server
            except pymysql.err.OperationalError:
                time.sleep(0.2)
        log = root / "server.log"
        last = log.read_text(errors="replace")[-2000:] if log.exists() else "no log"
        if server.process.poll() is None:
            server.process.kill()
        server.process.wait()
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"could not start MariaDB: {last}")
