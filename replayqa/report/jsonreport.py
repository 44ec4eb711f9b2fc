from __future__ import annotations

import json
from pathlib import Path

from replayqa.model import RunResult
from replayqa.report.serialize import run_dict


def write_json(run: RunResult, path: Path) -> Path:
    path.write_text(json.dumps(run_dict(run), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
