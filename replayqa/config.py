"""Settings from ``replayqa.toml`` or ``[tool.replayqa]`` in pyproject.toml; flags win.

replayqa.toml may hold the keys at top level or under ``[tool.replayqa]``.
An unknown key is an error, so a typo never silently does nothing.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from replayqa.errors import ConfigError
from replayqa.redact import RedactionRules, Redactor


@dataclass
class Settings:
    base_url: str | None = None
    db: str | None = None
    #: Extra stores the app keeps state in, restored with the database: ["redis://host:6379/0?name=cache_test"]
    stores: list[str] = field(default_factory=list)
    allow_restore: bool = False
    #: A database is a test database (restores and change tracking allowed) when a word of its name is one
    #: of these: ``shop_test`` and ``qa.db`` are, ``latest_prod.db`` and ``contest_live.db`` are not.
    test_database_words: list[str] = field(default_factory=lambda: ["test", "qa", "replayqa"])
    journeys: list[str] = field(default_factory=lambda: ["journeys"])
    report_dir: str = ".replayqa/reports"
    junit: str | None = None
    store: str = ".replayqa/runs.db"
    spec: str | None = None
    log_file: str | None = None
    log_lines: int = 50
    timeout: float = 10.0
    retries: int = 2
    lock_timeout: float = 5.0
    exclude_tables: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    #: Replay noise rules: [{path = "$.items[*].seen_at", operation = "listItems", reason = "..."}]
    noise_rules: list[dict[str, str]] = field(default_factory=list)
    #: Known issues: [{operation = "POST /carts/{id}/checkout", contains = "409", reason = "BUG-12"}]
    known_issues: list[dict[str, str]] = field(default_factory=list)
    #: "any": every issue fails the run; "new": only issues no known-issue rule covers.
    fail_on: str = "any"
    #: Run the journeys this many times from the same state; steps that both pass and fail are flaky.
    repeat: int = 1
    #: A label for the build under test (a commit, a version): a step that passed in another run of the
    #: same build and fails now is flaky.
    build: str | None = None
    #: More headers and field names (whole names, any case) to redact in recordings and reports.
    redact_headers: list[str] = field(default_factory=list)
    redact_fields: list[str] = field(default_factory=list)
    #: Values for redacted fields when replaying (like --secret NAME=VALUE); prefer --secret in CI.
    secrets: dict[str, str] = field(default_factory=dict)
    #: Upstream TLS for ``replayqa record``: a staging server's CA file, no verification at all,
    #: or a client certificate with its key (one PEM file) for mutual TLS.
    upstream_ca: str | None = None
    upstream_insecure: bool = False
    client_cert: str | None = None
    #: Client address ranges (CIDR) a recording proxy on a LAN address serves, besides this machine.
    allow_client: list[str] = field(default_factory=list)
    #: Where the settings came from, for messages.
    source: str | None = None

    def redactor(self) -> Redactor:
        """The one redactor reports, the run store and the TUI use: the built-in rules and this project's.

        Built from the settings and handed to each writer, never kept in a
        module global that some entry point might forget to configure.
        """
        return Redactor(RedactionRules().extended(self.redact_headers, self.redact_fields))

    def override(self, **flags: Any) -> Settings:
        """A copy with every flag that was given (not None) replacing the setting."""
        return dataclasses.replace(self, **{k: v for k, v in flags.items() if v is not None})


_KEYS = {f.name for f in fields(Settings)} - {"source"}


def name_values(pairs: Iterable[str], option: str, example: str) -> dict[str, str]:
    """``NAME=VALUE`` pairs given on a command line (``--var``, ``--secret``), as a dict.

    One parser for every door (the CLI, the pytest plugin), so they accept and refuse alike.
    """
    values = {}
    for text in pairs:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{option} {text!r}: give NAME=VALUE, e.g. {option} {example}")
        values[name.strip()] = value
    return values


def find_config(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """The nearest replayqa.toml, or pyproject.toml with a [tool.replayqa] table."""
    for folder in (start, *start.parents):
        own = folder / "replayqa.toml"
        if own.is_file():
            data = _read(own)
            return own, data.get("tool", {}).get("replayqa", data)
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            table = _read(pyproject).get("tool", {}).get("replayqa")
            if table is not None:
                return pyproject, table
    return None


def load_settings(start: Path | None = None) -> Settings:
    found = find_config((start or Path.cwd()).resolve())
    if found is None:
        return Settings()
    path, table = found
    unknown = sorted(set(table) - _KEYS - {"tool"})
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting {unknown[0]!r}; known settings: {', '.join(sorted(_KEYS))}"
        )
    values = {k: v for k, v in table.items() if k in _KEYS}
    for key, value in values.items():
        if key not in _OWN_CHECKS:
            _check_type(path, key, value)
    for key in ("journeys", "stores", "allow_client", "test_database_words"):
        if isinstance(values.get(key), str):
            values[key] = [values[key]]
    base = path.parent
    for key in ("report_dir", "junit", "store", "log_file", "upstream_ca", "client_cert"):
        if isinstance(values.get(key), str):
            values[key] = str(base / values[key])
    if "journeys" in values:
        values["journeys"] = [str(base / j) for j in values["journeys"]]
    return Settings(**values, source=str(path))


#: What each setting may hold, as TOML gives it: a wrong type is an error here, not a crash later.
_EXPECTED: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "str": ("text", lambda v: isinstance(v, str)),
    "str | None": ("text", lambda v: isinstance(v, str)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "int": ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "float": ("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
    "list[str]": (
        "a list of text values",
        lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    ),
    "dict[str, str]": ("a table", lambda v: isinstance(v, dict)),
    "dict[str, Any]": ("a table", lambda v: isinstance(v, dict)),
    "list[dict[str, str]]": (
        "a list of tables",
        lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
    ),
}


#: Settings checked where they are read, with messages that say more than a type.
_OWN_CHECKS = frozenset({"upstream_insecure", "allow_client"})


def _check_type(path: Path, key: str, value: Any) -> None:
    declared = str(next(f.type for f in fields(Settings) if f.name == key))
    expected, fits = _EXPECTED[declared]
    if key in ("journeys", "stores", "allow_client", "test_database_words") and isinstance(value, str):
        return  # one path or URL stands for a list of one
    if not fits(value):
        raise ConfigError(f"{path}: setting {key!r} must be {expected}, not {str(value)[:40]!r}")


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: byte {exc.start} is not UTF-8: save it as UTF-8 text") from None
