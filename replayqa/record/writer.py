"""The recording writer process: redaction, hashing and SQLite writes, off the proxy's core.

This module imports only the standard library at the top, so ``replayqa
record`` can start the process before it loads anything else; the process
itself loads the storage modules it needs.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from replayqa.record.rows import RowBuilder


class WriterProcess:
    """A writer process, started before the recording it will write is known.

    Starting one costs a Python interpreter and replayqa's storage modules, about
    as long as loading mitmproxy: ``replayqa record`` starts it first, so the two
    load on two cores at once and the proxy listens sooner. It waits for a
    :class:`ProcessSink` to hand it a recording; dropped unused, it exits.
    """

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")  # no fork: the proxy runs threads
        receive, self.send = context.Pipe(duplex=False)
        self.acks, ack_send = context.Pipe(duplex=False)
        self.process = context.Process(
            target=_serve, args=(receive, ack_send, os.getpid()), name="replayqa-writer"
        )
        self.process.start()
        receive.close()  # only the child reads; when this process dies, the child sees the end
        ack_send.close()
        self.adopted = False

    def discard(self) -> None:
        """Stop it if no sink took it (the proxy did not start)."""
        if self.adopted:
            return
        self.send.close()  # the child ends when its pipe does
        self.acks.close()
        self.process.join(10)


def _serve(receive: Connection, acks: Connection, proxy_pid: int) -> None:
    """The writer process: commit what arrives, acknowledge it, and fold the file at the end.

    The first message names the recording (path, redaction key and rules, body
    cap, and its metadata when this process is to create it); a pipe that ends
    before it means the proxy never started.

    It reads until the recorder closes the pipe, or dies: either way the pipe
    ends, and everything that was sent is committed before this process exits.
    """

    # Ctrl+C, or a service manager's SIGTERM, may reach this process alone or the whole group: either
    # way the proxy stops, ends the sessions with their end captures, and closing the pipe is what
    # ends this process, after it has written everything.
    def stop_the_proxy(signum: int, frame: object) -> None:
        if os.getppid() == proxy_pid:  # an orphan signals nobody (its new parent is not the proxy)
            os.kill(proxy_pid, signal.SIGTERM)

    signal.signal(signal.SIGINT, stop_the_proxy)
    signal.signal(signal.SIGTERM, stop_the_proxy)
    from replayqa.errors import ConfigError
    from replayqa.record.rows import RowBuilder  # loaded while the proxy loads mitmproxy
    from replayqa.record.storage import RecordingWriter, create_recording
    from replayqa.redact import Redactor, stable_placeholders

    try:
        path, key, rules, body_cap, meta = receive.recv()
    except (EOFError, OSError):
        return
    try:
        if meta is not None:
            create_recording(path, meta)
    except ConfigError as exc:  # the user's to fix (--out): the proxy says it as it is
        acks.send(exc)
        raise SystemExit(1) from None
    try:
        rows = RowBuilder(Redactor(rules, stable_placeholders(key)), body_cap)
        writer = RecordingWriter(Path(path), background=False)
    except Exception as exc:  # the recorder reports it as it starts
        acks.send(f"{type(exc).__name__}: {exc}")
        raise SystemExit(1) from None
    acks.send(None)
    committed = 0
    ended = False
    try:
        while not ended:
            batch: list[tuple[str, tuple[Any, ...]]] = []
            try:
                batch += receive.recv()
                while receive.poll(0):  # group commit: one transaction for all that piled up
                    batch += receive.recv()
            except (EOFError, OSError):
                ended = True
            if batch:
                writer.commit([_row(rows, kind, args) for kind, args in batch])
                committed += len(batch)
                with contextlib.suppress(OSError):  # a dead proxy waits for nothing
                    acks.send(committed)
    finally:
        writer.close()
        acks.close()


def _row(rows: RowBuilder, kind: str, args: tuple[Any, ...]) -> tuple[str, dict[str, Any]]:
    if kind == "exchange":
        return "exchanges", rows.exchange(*args)
    if kind == "websocket":
        return "websocket_messages", rows.websocket(*args)
    table, row = args
    return table, row
