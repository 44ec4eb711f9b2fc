"""A throwaway Redis server from Debian's redis-server, run as in tests/support/mariadb.py."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass

import redis

from tests.support.mariadb import _binary, _folder, _Process
from tests.support.postgres import _free_port, _service_user


@dataclass
class RedisServer(_Process):
    def url(self, db: int = 0, name: str = "cache_test") -> str:
        return f"redis://127.0.0.1:{self.port}/{db}?name={name}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=db)


def start_redis() -> RedisServer:
    binary = _binary("redis-server", "redis-server")
    ids = _service_user()
    run_as = {"user": ids[0], "group": ids[1]} if ids else {}
    root = _folder("replayqa-redis-", ids)
    for _ in range(3):
        server = RedisServer(root, _free_port())
        server.process = subprocess.Popen(
            [binary, "--port", str(server.port), "--bind", "127.0.0.1", "--dir", str(root),
             "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **run_as,  # type: ignore[arg-type]
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and server.process.poll() is None:
            try:
                server.client().ping()
                return server
            except redis.ConnectionError:
                time.sleep(0.1)
        if server.process.poll() is None:
            server.process.kill()
        server.process.wait()
    server.stop()
    raise RuntimeError("could not start redis-server")
