"""What a recorder is asked to do, apart from the recorder itself.

``replayqa record`` builds these settings before it loads the recorder and
mitmproxy, so this module stays light: the standard library and redaction only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from replayqa.redact import RedactionRules

if TYPE_CHECKING:
    from replayqa.record.writer import WriterProcess

#: Recordings keep card numbers: replays need the real test card to get the same answer.
RECORDING_RULES = RedactionRules(cards=False)


@dataclass
class RecorderSettings:
    out: Path
    name: str = ""
    db: str | None = None
    #: Redis stores captured with the database (``--store``), restored with it on replay.
    stores: tuple[str, ...] = ()
    spec: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    include_static: bool = False
    idle_gap: float = 300.0
    body_cap: int = 1_000_000
    rules: RedactionRules = RECORDING_RULES
    mode: str = ""
    upstream: str | None = None
    #: "thread" writes from a thread in this process; "process" from a writer process (live proxies).
    writer: str = "thread"
    #: A writer process already started (``replayqa record`` starts it early), for writer="process".
    started_writer: WriterProcess | None = None
    extra_meta: dict[str, Any] = field(default_factory=dict)
