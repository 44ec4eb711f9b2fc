"""What every benchmark shares: the machine's description, and printing and saving the report."""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path
from typing import Any


def machine() -> str:
    return (
        f"{platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, {os.cpu_count()} cores"
    )


def emit(report: dict[str, Any], path: Path | None) -> None:
    """Print the report, and save it as JSON when asked."""
    text = json.dumps(report, indent=2)
    print(text)
    if path:
        path.write_text(text + "\n")


def arguments(doc: str, quick: bool = False) -> argparse.Namespace:
    """Every benchmark's command line: ``--json FILE``, and ``--quick`` for those with a smoke run."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if quick:
        parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args()
