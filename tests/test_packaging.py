"""A plain ``pip install .`` ships every subpackage: pyproject lists them by hand."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_every_subpackage_is_listed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "replayqa").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found - listed == set()


def test_the_cli_starts_without_loading_heavy_libraries():
    """``replayqa --help`` and every command's start pay only for what they use."""
    import subprocess
    import sys

    heavy = ("openapi_core", "jsonschema", "textual", "mitmproxy", "psycopg", "sqlite_utils", "numpy")
    probe = f"import sys, replayqa.cli; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
