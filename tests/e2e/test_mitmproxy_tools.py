"""The recorder addon as a plain script for mitmproxy's own tools: ``mitmdump -s`` and ``mitmweb -s``."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from replayqa.record.storage import Recording
from tests.e2e.conftest import free_port, wait_listening

ADDON = Path(__file__).resolve().parents[2] / "addons" / "recorder.py"


@pytest.mark.parametrize("tool", ["mitmdump", "mitmweb"])
def test_the_addon_records_under_mitmproxys_own_tools(tool, demo_shop, tmp_path):
    port = free_port()
    command = [
        shutil.which(tool) or tool,
        "-s", str(ADDON),
        "--mode", f"reverse:{demo_shop.base_url}",
        "--listen-host", "127.0.0.1", "--listen-port", str(port),
        "--set", f"replayqa_out={tmp_path / 'tool.db'}",
        "--set", f"replayqa_db={demo_shop.db_url}",
        "--set", "replayqa_name=from-" + tool,
        "--set", "replayqa_redact_fields=pin",
    ]  # fmt: skip
    if tool == "mitmweb":
        command += ["--web-port", str(free_port()), "--set", "web_open_browser=false"]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_listening(port, process)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert client.get("/items").status_code == 200
            client.post(
                "/users", json={"email": "tool@shop.test", "password": "tool-pass-1", "pin": "pin-4815-tool"}
            )
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    recording = Recording.open(tmp_path / "tool.db")
    assert recording.meta["name"] == f"from-{tool}"
    assert [e["path"] for e in recording.exchanges()] == ["/items", "/users"]
    assert [c["kind"] for c in recording.checkpoints()] == ["start", "end"]
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("tool.db*"))
    # A secret is a distinctive string: a bare "4815" turns up by chance in
    # the hex digests and epoch times the recording stores.
    assert b"tool-pass-1" not in raw and b"pin-4815-tool" not in raw
