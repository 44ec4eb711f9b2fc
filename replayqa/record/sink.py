"""Where a recorder's rows go: a writer thread, or a writer process.

A live proxy uses :class:`ProcessSink`: the proxy only hands raw traffic to a
pipe, and redaction, hashing and SQLite writes run in another process, on
another core, so recording costs the proxy almost nothing. If the proxy is
killed, the writer process reads to the end of the pipe, commits what
arrived and exits. HAR import and tests use the simpler :class:`ThreadSink`.
Both build rows with the same :class:`RowBuilder`, and the same redaction key.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections import deque
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from replayqa.errors import StateError
from replayqa.record.rows import RowBuilder
from replayqa.record.storage import RecordingWriter
from replayqa.redact import RedactionRules, Redactor, stable_placeholders


class ThreadSink:
    def __init__(self, path: Path, key: bytes, rules: RedactionRules, body_cap: int) -> None:
        self.rows = RowBuilder(Redactor(rules, stable_placeholders(key)), body_cap)
        self.writer = RecordingWriter(path)

    def exchange(self, *args: Any) -> None:
        self.writer.add("exchanges", lambda: self.rows.exchange(*args))

    def websocket(self, *args: Any) -> None:
        self.writer.add("websocket_messages", lambda: self.rows.websocket(*args))

    def row(self, table: str, row: dict[str, Any]) -> None:
        self.writer.add(table, row)

    def close(self) -> None:
        self.writer.close()

    @property
    def failure(self) -> str | None:
        return self.writer.failure


class ProcessSink:
    def __init__(self, path: Path, key: bytes, rules: RedactionRules, body_cap: int) -> None:
        context = multiprocessing.get_context("spawn")  # no fork: the proxy runs threads
        receive, self._send = context.Pipe(duplex=False)
        ready_receive, ready_send = context.Pipe(duplex=False)
        self.process = context.Process(
            target=_serve,
            args=(receive, ready_send, str(path), key, rules, body_cap),
            name="replayqa-writer",
        )
        self.process.start()
        receive.close()  # only the child reads; when this process dies, the child sees the end
        ready_send.close()
        self._await_ready(ready_receive, path)
        self._outbox: deque[tuple[str, tuple[Any, ...]]] = deque()
        self._stop = threading.Event()
        self._feeder = threading.Thread(target=self._feed, name="replayqa-writer-feed", daemon=True)
        self._feeder.start()

    def exchange(self, *args: Any) -> None:
        self._outbox.append(("exchange", args))

    def websocket(self, *args: Any) -> None:
        self._outbox.append(("websocket", args))

    def row(self, table: str, row: dict[str, Any]) -> None:
        self._outbox.append(("row", (table, row)))

    def close(self) -> None:
        self._stop.set()
        self._feeder.join()
        self.process.join(timeout=120)

    def _await_ready(self, ready: Connection, path: Path, timeout: float = 60) -> None:
        """Wait until the writer has started and opened the file.

        Traffic accepted before then would compete with the writer's start-up
        for CPU, and an exchange could not yet be kept if the proxy were killed.
        """
        try:
            problem = ready.recv() if ready.poll(timeout) else "it did not start within a minute"
        except EOFError:
            self.process.join(5)
            problem = f"it exited with code {self.process.exitcode}"
        finally:
            ready.close()
        if problem is not None:
            self._send.close()
            self.process.join(5)
            raise StateError(f"the recording writer could not start on {path}: {problem}")

    @property
    def failure(self) -> str | None:
        code = self.process.exitcode
        return None if code in (None, 0) else f"the recording writer process exited with code {code}"

    def _feed(self) -> None:
        """Every 0.1 s, one pickled batch down the pipe: no per-exchange wake-ups, off the event loop."""
        try:
            while True:
                stopping = self._stop.wait(0.1)
                batch = []
                while self._outbox:
                    batch.append(self._outbox.popleft())
                if batch:
                    self._send.send(batch)
                if stopping:
                    return
        except (BrokenPipeError, OSError):
            pass
        finally:
            self._send.close()


def _serve(
    receive: Connection, ready: Connection, path: str, key: bytes, rules: RedactionRules, body_cap: int
) -> None:
    """The writer process: read until the recorder closes (or dies), then fold the file."""
    # Ctrl+C, or a service manager's SIGTERM, reaches the whole process group: the proxy decides when
    # to stop, and closing the pipe is what ends this process, after it has written everything.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        sink = ThreadSink(Path(path), key, rules, body_cap)
    except Exception as exc:  # the recorder reports it as it starts
        ready.send(f"{type(exc).__name__}: {exc}")
        raise SystemExit(1) from None
    ready.send(None)
    ready.close()
    try:
        while True:
            try:
                batch = receive.recv()
            except (EOFError, OSError):
                break
            for kind, args in batch:
                getattr(sink, kind)(*args)
    finally:
        sink.close()
