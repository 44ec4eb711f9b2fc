"""``replayqa export pytest``: journeys as a pytest module, for teams whose CI speaks pytest.

The module runs each journey file through replayqa's runner (one test per
file), so the journeys stay the source of truth: the YAML is copied next to
the module and read at test time. The app, database and values come from
environment variables, never from the written files.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from replayqa.errors import ConfigError
from replayqa.loader import expand_paths, load_file

MODULE = '''"""Journeys exported by `replayqa export pytest`: one test per journey file.

Set REPLAYQA_BASE_URL (the app), optionally REPLAYQA_DB (its test database,
restored between paths) and REPLAYQA_VAR_<NAME> for each run-time value the
journeys use (e.g. REPLAYQA_VAR_PASSWORD).
"""

import os
from dataclasses import replace
from pathlib import Path

import pytest

from replayqa.config import load_settings
from replayqa.execute import open_runner
from replayqa.loader import load_file

HERE = Path(__file__).parent / "journeys"
FILES = sorted(HERE.glob("*.yaml"))


def _settings():
    base_url = os.environ.get("REPLAYQA_BASE_URL")
    if not base_url:
        pytest.skip("set REPLAYQA_BASE_URL to the app under test")
    prefix = "REPLAYQA_VAR_"
    values = {k[len(prefix):].lower(): v for k, v in os.environ.items() if k.startswith(prefix)}
    settings = load_settings().override(base_url=base_url, db=os.environ.get("REPLAYQA_DB"))
    return replace(settings, vars={**settings.vars, **values})


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_journey(path):
    journeys = load_file(path).journeys
    with open_runner(_settings()) as (runner, _state):
        result = runner.run(journeys)
    problems = [f"{i.journey} / {i.path} / {i.step}: {i.error}" for i in result.issues]
    assert not problems, "\\n".join(problems)
'''


def export_pytest(sources: Iterable[Path], out: Path) -> Path:
    """Write ``test_journeys.py`` and a copy of the journeys into ``out``; returns the module's path."""
    files = [p for p in expand_paths(sources) if p.suffix in (".yaml", ".yml")]
    if not files:
        raise ConfigError("no YAML journeys to export: name journey files or a folder of them")
    for path in files:
        load_file(path)  # a broken journey fails here, not in someone's CI later
    folder = out / "journeys"
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copyfile(path, folder / (path.stem + ".yaml"))
    module = out / "test_journeys.py"
    module.write_text(MODULE, encoding="utf-8")
    return module
