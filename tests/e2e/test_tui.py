"""`replayqa tui` in a real terminal (tmux): it opens on the failure, and `c` reaches the clipboard."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from replayqa.redact import Redactor
from replayqa.store import RunStore
from tests.tui.test_app import fixed_run


class Terminal:
    """A tmux server of the test's own (its own socket), 80x24, running one command."""

    def __init__(self, folder: Path, command: list[str]) -> None:
        self.socket = folder / "tmux.sock"
        config = folder / "tmux.conf"
        # as a terminal with OSC 52 support does: an application's copy lands in the clipboard
        config.write_text("set -s set-clipboard on\n")
        shell = f"cd {shlex.quote(str(folder))} && {shlex.join(command)}"
        self.tmux("-f", str(config), "new-session", "-d", "-x", "80", "-y", "24", shell)

    def tmux(self, *args: str) -> str:
        command = ["tmux", "-S", str(self.socket), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p")

    def wait_for(self, condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.1)
        raise AssertionError(f"no {what} within {seconds} s; the screen:\n{self.screen()}")

    def close(self) -> None:
        self.tmux("kill-server")


@pytest.fixture
def terminal(tmp_path) -> Iterator[Terminal]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is needed to drive the TUI in a real terminal: apt-get install tmux")
    RunStore(tmp_path / "runs.db").save(fixed_run(), Redactor())
    opened = Terminal(tmp_path, [sys.executable, "-m", "replayqa", "tui", "runs.db"])
    yield opened
    opened.close()


def test_it_opens_on_the_failure_and_copy_as_curl_reaches_the_terminal_clipboard(terminal):
    terminal.wait_for(lambda: "✗ cart_kept" in terminal.screen(), "run tree")
    terminal.tmux("send-keys", "Enter")  # the cursor is on the failure already
    terminal.wait_for(lambda: "total_cents: expected 2400, got 0" in terminal.screen(), "step screen")
    terminal.tmux("send-keys", "c")
    terminal.wait_for(lambda: "request copied as curl" in terminal.screen(), "notification")
    terminal.wait_for(lambda: bool(terminal.tmux("list-buffers")), "copy in the clipboard")
    assert terminal.tmux("show-buffer") == (
        "curl -X GET http://shop.test/cart -H 'authorization: Bearer [redacted]'"
    )
