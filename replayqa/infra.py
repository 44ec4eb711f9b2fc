"""``replayqa infra``: docker-compose.qa.yml for people who have Docker.

replayqa never needs Docker itself; this only saves typing where it exists,
and says plainly when it does not (no client, or a client without an engine).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from replayqa.errors import ConfigError

COMPOSE_FILE = Path("docker-compose.qa.yml")


def compose(
    action: str, compose_file: Path = COMPOSE_FILE, service: str | None = None, tail: int = 100
) -> int:
    """Run one docker compose action; returns its exit code (its output goes to the terminal)."""
    docker = shutil.which("docker")
    if docker is None:
        raise ConfigError(
            "Docker is not installed here: start PostgreSQL and the app as plain processes "
            "(see docs/getting-started.md), or install Docker"
        )
    if not compose_file.is_file():
        raise ConfigError(f"no {compose_file} here: run this where it is, or pass --file")
    engine = subprocess.run(
        [docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True
    )
    if engine.returncode != 0:
        reason = (engine.stderr.strip().splitlines() or ["no answer"])[-1]
        raise ConfigError(
            f"Docker's client is here but its engine is not running ({reason}): start the Docker daemon, "
            "or run PostgreSQL and the app as plain processes"
        )
    base = [docker, "compose", "-f", str(compose_file)]
    commands = {
        "up": [*base, "up", "-d", "--wait"],
        "down": [*base, "down", "-v"],
        "logs": [*base, "logs", "--tail", str(tail), *([service] if service else [])],
    }
    return subprocess.run(commands[action]).returncode
