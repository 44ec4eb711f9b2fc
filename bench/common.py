"""What every benchmark shares: the machine's description, and printing and saving the report."""

from __future__ import annotations

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
