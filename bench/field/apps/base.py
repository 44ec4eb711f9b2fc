"""What the suite knows of each app: how a user installs, starts, uses and authenticates to it.

An app here is a recipe, never a stand-in: the real package, pinned, started
as a plain process with the configuration a user would leave it in. Nothing
in replayqa may know these apps; this is the only place that does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from bench.field.env import Process, Venv


class DatabaseServer(Protocol):
    """A server the suite started (tests/support/postgres.py, mariadb.py): one database per app instance."""

    def dsn(self, dbname: str) -> str: ...


@dataclass
class Instance:
    """One running copy of an app, on a fresh database, with its own access log."""

    base_url: str
    log: Path
    processes: list[Process]
    db_url: str | None = None  # what replayqa's --db is given
    spec: str | None = None  # the spec's URL or file, for replayqa and Schemathesis alike
    extra: dict[str, Any] = field(default_factory=dict)

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


class FieldApp:
    name: ClassVar[str]
    package: ClassVar[str]  # the distribution whose version is reported
    stack: ClassVar[str]
    requirements: ClassVar[tuple[str, ...]]
    log_pattern: ClassVar[re.Pattern[str]]
    record_mode: ClassVar[str] = "reverse"  # or "regular": a forward proxy for a browser
    has_spec: ClassVar[bool] = True
    #: replayqa synth's --auth, for an app whose spec does not declare how it authenticates
    synth_auth: ClassVar[str | None] = None
    #: Whether the app keeps what a POST writes in the database replayqa is given (--db); an app
    #: whose writes go to files has no database effect for the database fault to show.
    writes_to_database: ClassVar[bool] = True
    #: The server the suite hands to ``start``: "postgresql", or "mariadb" for an app that runs on
    #: MySQL/MariaDB (started only when such an app is chosen).
    database: ClassVar[str] = "postgresql"

    def start(self, venv: Venv, work: Path, server: DatabaseServer) -> Instance:
        """Start a fresh copy on a free port, with an empty database on ``server``; return when it answers."""
        raise NotImplementedError

    def prepare(self, instance: Instance) -> None:
        """What exists before the tester starts (an account): set up outside the recording."""

    def session(self, instance: Instance, proxy: str) -> None:
        """The scripted QA session, sent through the recording proxy."""
        raise NotImplementedError

    def secrets(self, instance: Instance) -> list[str]:
        """``--secret NAME=VALUE`` pairs a user reading docs/replay.md would pass."""
        return []

    def synth_vars(self, instance: Instance) -> list[str]:
        """``--var NAME=VALUE`` pairs for synth and the run of its journeys: the credentials a user has."""
        return []

    def schemathesis_args(self, instance: Instance) -> list[str]:
        """Schemathesis's own options for the same credentials."""
        return []
