"""Where a recorder's rows go: a writer thread, or a writer process.

A live proxy uses :class:`ProcessSink`: the proxy only hands raw traffic to a
pipe, and redaction, hashing and SQLite writes run in another process, on
another core, so recording costs the proxy almost nothing. If the proxy is
killed, the writer process reads to the end of the pipe, commits what
arrived and exits. The proxy holds each response until the writer
acknowledges its exchange (see :class:`ProcessSink`). HAR import and tests use
the simpler :class:`ThreadSink`.
Both build rows with the same :class:`RowBuilder`, and the same redaction key.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from replayqa.errors import ConfigError, StateError
from replayqa.record.rows import RowBuilder
from replayqa.record.writer import WriterProcess
from replayqa.redact import RedactionRules, Redactor, stable_placeholders


class ThreadSink:
    def __init__(
        self,
        path: Path,
        key: bytes,
        rules: RedactionRules,
        body_cap: int,
        create: dict[str, Any] | None = None,
    ) -> None:
        from replayqa.record.storage import RecordingWriter, create_recording

        if create is not None:
            create_recording(path, create)
        self.rows = RowBuilder(Redactor(rules, stable_placeholders(key)), body_cap)
        self.writer = RecordingWriter(path)

    def exchange(self, *args: Any) -> int:
        self.writer.add("exchanges", lambda: self.rows.exchange(*args))
        return 0

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
    """Hands traffic to a writer process, which acknowledges what it has committed.

    Every queued item gets a sequence number; the writer commits what arrives
    in one transaction per read (whatever piled up while it was committing) and
    answers with the number of items committed so far. :meth:`committed` lets
    the proxy hold a response until its exchange is on disk, so a SIGKILL, even
    to the whole process group, loses no exchange a client saw complete.
    """

    def __init__(
        self,
        path: Path,
        key: bytes,
        rules: RedactionRules,
        body_cap: int,
        started: WriterProcess | None = None,
        create: dict[str, Any] | None = None,
    ) -> None:
        writer = started or WriterProcess()
        self.process = writer.process
        self._send, self._acks = writer.send, writer.acks
        writer.adopted = True
        self._send.send((str(path), key, rules, body_cap, create))
        self._await_ready(path)
        self._outbox: deque[tuple[str, tuple[Any, ...]]] = deque()
        self._queued = 0
        self._order = threading.Lock()  # a sequence number and its place in the outbox go together
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._acked = 0
        self._closing = False
        self._lost: str | None = None
        self._waiters: list[tuple[int, Callable[[str | None], None]]] = []
        self._waiters_lock = threading.Lock()
        self._feeder = threading.Thread(target=self._feed, name="replayqa-writer-feed", daemon=True)
        self._feeder.start()
        self._listener = threading.Thread(target=self._listen, name="replayqa-writer-acks", daemon=True)
        self._listener.start()

    def exchange(self, *args: Any) -> int:
        return self._queue("exchange", args)

    def websocket(self, *args: Any) -> int:
        return self._queue("websocket", args)

    def row(self, table: str, row: dict[str, Any]) -> int:
        return self._queue("row", (table, row))

    def when_committed(self, seq: int, callback: Callable[[str | None], None]) -> None:
        """Call ``callback(None)`` once item ``seq`` is committed, or ``callback(problem)`` if it never
        will be. It runs on the acknowledgement thread, or at once."""
        with self._waiters_lock:
            if self._acked < seq and self._lost is None:
                self._waiters.append((seq, callback))
                return
        callback(None if self._acked >= seq else self._lost)

    def close(self) -> None:
        self._closing = True
        self._stop.set()
        self._wake.set()
        self._feeder.join()
        self.process.join(timeout=120)
        self._listener.join(timeout=5)

    def _queue(self, kind: str, args: tuple[Any, ...]) -> int:
        with self._order:
            self._queued += 1
            self._outbox.append((kind, args))
            seq = self._queued
        self._wake.set()
        return seq

    def _await_ready(self, path: Path, timeout: float = 60) -> None:
        """Wait until the writer has started and opened the file.

        Traffic accepted before then would compete with the writer's start-up
        for CPU, and an exchange could not yet be kept if the proxy were killed.
        """
        try:
            problem = self._acks.recv() if self._acks.poll(timeout) else "it did not start within a minute"
        except EOFError:
            self.process.join(5)
            problem = f"it exited with code {self.process.exitcode}"
        if problem is not None:
            self._acks.close()
            self._send.close()
            self.process.join(5)
            if isinstance(problem, ConfigError):
                raise problem
            raise StateError(f"the recording writer could not start on {path}: {problem}")

    @property
    def failure(self) -> str | None:
        if self._lost is not None:
            return self._lost
        code = self.process.exitcode
        return None if code in (None, 0) else f"the recording writer process exited with code {code}"

    def _feed(self) -> None:
        """Sends whatever is queued, as one pickled batch, each time something arrives."""
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                stopping = self._stop.is_set()
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

    def _listen(self) -> None:
        """Releases waiters as acknowledgements come; when the writer goes, fails the rest."""
        try:
            while True:
                self._release(self._acks.recv(), None)
        except (EOFError, OSError):
            pass
        finally:
            self._acks.close()
        self.process.join(5)
        if not self._closing or self.process.exitcode:
            code = self.process.exitcode
            self._release(0, f"the recording writer process stopped (exit code {code})")

    def _release(self, acked: int, lost: str | None) -> None:
        with self._waiters_lock:
            self._acked = max(self._acked, acked)
            self._lost = self._lost or lost
            done = [w for w in self._waiters if w[0] <= self._acked or self._lost is not None]
            self._waiters = [w for w in self._waiters if w[0] > self._acked and self._lost is None]
        for seq, callback in done:
            callback(None if seq <= self._acked else self._lost)
