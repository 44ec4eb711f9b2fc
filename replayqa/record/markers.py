"""Session markers sent to a running recording proxy (``replayqa session start|end``)."""

from __future__ import annotations

from typing import Any

import httpx

from replayqa.errors import ConfigError
from replayqa.record.sessions import MARKER_PREFIX


def send_marker(proxy: str, action: str, name: str = "") -> dict[str, Any]:
    """Ask the proxy itself; it answers markers and never forwards them.

    A reverse proxy takes the marker as a plain request; a forward proxy takes
    it as a proxied request for any host.
    """
    params = {"name": name} if name else {}
    path = f"{MARKER_PREFIX}{action}"
    attempts = (
        lambda: httpx.get(proxy.rstrip("/") + path, params=params, timeout=5),
        lambda: httpx.get("http://replayqa.marker" + path, params=params, proxy=proxy, timeout=5),
    )
    last_error = ""
    for attempt in attempts:
        try:
            response = attempt()
        except httpx.HTTPError as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            continue
        try:
            answer = response.json()
        except ValueError:
            continue
        if isinstance(answer, dict) and ("session" in answer or "error" in answer):
            if response.status_code != 200:
                raise ConfigError(f"the recording proxy said: {answer.get('error')}")
            return answer
    raise ConfigError(
        f"no replayqa recording proxy answered at {proxy} ({last_error or 'not a replayqa proxy'}): "
        "start one with replayqa record, or fix --proxy"
    )
