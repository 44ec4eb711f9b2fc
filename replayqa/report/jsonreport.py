from __future__ import annotations

import json
from pathlib import Path

from replayqa.model import RunResult
from replayqa.redact import Redactor
from replayqa.report.serialize import run_dict


def write_json(run: RunResult, path: Path, redactor: Redactor) -> Path:
    text = json.dumps(run_dict(run, redactor), indent=2, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path
