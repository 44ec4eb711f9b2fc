"""Run the demo shop as its own process, as an app under test would be.

``python -m replayqa.demo --db shop.db --log shop.log`` serves on a free
loopback port and prints ``listening on URL`` once it accepts connections.
``--db`` also takes a ``mysql://`` URL, to run the shop on MariaDB/MySQL as
``replayqa --db`` does. :class:`DemoServer` starts and stops that process for
the demo command and the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from werkzeug.serving import make_server

from replayqa.demo.app import create_app, init_db, is_initialised
from replayqa.demo.db import is_mysql, sqlite_path
from replayqa.errors import ConfigError

READY = "listening on "


def serve(db: str | Path, log_file: Path | None, host: str = "127.0.0.1", port: int = 0) -> None:
    """Serve the shop on ``db`` (a SQLite file or a ``mysql://`` URL), creating its tables if missing."""
    handlers: list[logging.Handler] = [logging.FileHandler(log_file)] if log_file else []
    logging.basicConfig(
        level=logging.INFO,
        handlers=handlers or None,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not is_initialised(db):
        init_db(db)
    server = make_server(host, port, create_app(db), threaded=True)
    print(f"{READY}http://{host}:{server.server_port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m replayqa.demo", description="Serve the demo shop.")
    parser.add_argument(
        "--db",
        required=True,
        help="SQLite file (created and seeded if new), or a MariaDB/MySQL URL such as "
        "mysql://qa@127.0.0.1:3306/shop_test (an existing database; tables created and seeded if absent)",
    )
    parser.add_argument("--log", type=Path, help="write the app's log here")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    try:
        db: str | Path = args.db if is_mysql(args.db) else sqlite_path(args.db)
    except ConfigError as exc:
        parser.error(str(exc))
    serve(db, args.log, args.host, args.port)


class DemoServer:
    """The demo shop in a child process, with a fresh database in a temporary folder.

    With ``db`` (a ``mysql://`` URL of an empty database) the shop keeps its
    data there instead; the folder still holds its log.
    """

    def __init__(
        self,
        folder: Path | None = None,
        env: Mapping[str, str] | None = None,
        db_name: str = "replayqa-demo-shop.db",
        db: str | None = None,
    ) -> None:
        self.folder = folder or Path(tempfile.mkdtemp(prefix="replayqa-demo-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.db_path = self.folder / db_name
        self.db = db
        self.log_path = self.folder / "shop.log"
        self.env = {**os.environ, **(env or {})}
        self.base_url = ""
        self._process: subprocess.Popen[str] | None = None

    @property
    def db_url(self) -> str:
        """What ``replayqa --db`` is given to checkpoint and restore the shop's data."""
        return self.db or f"sqlite:///{self.db_path}"

    def start(self, timeout: float = 20.0) -> DemoServer:
        target = self.db or str(self.db_path)
        init_db(target)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "replayqa.demo", "--db", target, "--log", str(self.log_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=self.env,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith(READY):
            self.stop()
            raise RuntimeError(f"the demo shop did not start (said {line!r}); see {self.log_path}")
        self.base_url = line[len(READY) :].strip()
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout:
                self._process.stdout.close()
            self._process = None

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
