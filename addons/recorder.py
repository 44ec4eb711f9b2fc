"""Record traffic into a replayqa recording: ``mitmdump -s addons/recorder.py``.

::

    mitmdump -s addons/recorder.py --mode reverse:http://127.0.0.1:8000 \\
        --set replayqa_out=recordings/checkout.db --set replayqa_db=sqlite:///app_test.db

A thin addon: hooks and options only. The logic is in ``replayqa.record``;
``replayqa record`` runs this same class.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from mitmproxy import ctx, exceptions, http

from replayqa.errors import ReplayqaError
from replayqa.record.flows import content_headers, request_info, response_info
from replayqa.record.recorder import Recorder
from replayqa.record.sessions import is_marker
from replayqa.record.settings import RECORDING_RULES, RecorderSettings
from replayqa.record.writer import WriterProcess

T = TypeVar("T")
_STREAM_TYPES = re.compile("text/event-stream|application/x-ndjson|multipart/x-mixed-replace")


class RecorderAddon:
    def __init__(self, writer: WriterProcess | None = None) -> None:
        #: A writer process started before mitmproxy loaded (by ``replayqa record``), or None.
        self.writer = writer
        self.recorder: Recorder | None = None
        self.summary: dict[str, Any] | None = None
        self.body_cap = 1_000_000  # read once: option lookups cost on every flow
        self._ticker: asyncio.Task[None] | None = None
        self._worker: ThreadPoolExecutor | None = None
        #: Why recording stopped early, if it did; the proxy stops with it.
        self.failure: str | None = None

    def load(self, loader: Any) -> None:
        loader.add_option("replayqa_out", str, "", "Recording file to write (a new SQLite file).")
        loader.add_option("replayqa_name", str, "", "A name for the recording.")
        loader.add_option("replayqa_db", str, "", "The app's database URL, captured around sessions.")
        loader.add_option(
            "replayqa_stores", Sequence[str], [], "Redis store URLs, captured with the database."
        )
        loader.add_option("replayqa_spec", str, "", "OpenAPI spec; exchanges are tagged with operations.")
        loader.add_option(
            "replayqa_include", Sequence[str], [], "Keep only HOST, HOST/PATH or /PATH matches."
        )
        loader.add_option("replayqa_exclude", Sequence[str], [], "Drop HOST, HOST/PATH or /PATH matches.")
        loader.add_option("replayqa_include_static", bool, False, "Also keep static assets.")
        loader.add_option("replayqa_idle_gap", str, "300", "Seconds of silence that end a session.")
        loader.add_option("replayqa_body_cap", int, 1_000_000, "Bytes of a binary body to keep.")
        loader.add_option("replayqa_upstream", str, "", "The upstream, noted in the recording.")
        loader.add_option(
            "replayqa_redact_headers", Sequence[str], [], "Also redact these headers (besides the built-in)."
        )
        loader.add_option(
            "replayqa_redact_fields", Sequence[str], [], "Also redact body and query fields with these names."
        )

    def configure(self, updated: set[str]) -> None:
        if self.recorder is not None or not ctx.options.replayqa_out:
            return
        try:
            idle_gap = float(ctx.options.replayqa_idle_gap)
        except ValueError:
            raise exceptions.OptionsError("replayqa_idle_gap must be a number of seconds") from None
        modes = ",".join(ctx.options.mode)
        settings = RecorderSettings(
            out=Path(ctx.options.replayqa_out),
            name=ctx.options.replayqa_name,
            db=ctx.options.replayqa_db or None,
            stores=tuple(ctx.options.replayqa_stores),
            spec=ctx.options.replayqa_spec or None,
            include=tuple(ctx.options.replayqa_include),
            exclude=tuple(ctx.options.replayqa_exclude),
            include_static=ctx.options.replayqa_include_static,
            idle_gap=idle_gap,
            body_cap=ctx.options.replayqa_body_cap,
            mode=modes,
            upstream=ctx.options.replayqa_upstream or None,
            rules=RECORDING_RULES.extended(
                ctx.options.replayqa_redact_headers, ctx.options.replayqa_redact_fields
            ),
            writer="process",
            started_writer=self.writer,
        )
        self.body_cap = ctx.options.replayqa_body_cap
        try:
            self.recorder = Recorder(settings)
        except ReplayqaError as exc:
            raise exceptions.OptionsError(str(exc)) from None
        except Exception as exc:  # mitmproxy would log it and go on forwarding, recording nothing
            raise exceptions.OptionsError(
                f"cannot record to {settings.out}: {type(exc).__name__}: {exc}"
            ) from None
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="replayqa-recorder")

    def running(self) -> None:
        if self.recorder is not None and self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        while (recorder := self.recorder) is not None:
            await asyncio.sleep(1)
            await self.call(recorder.tick)
            if recorder.sink.failure:
                self._stop(recorder.sink.failure)

    async def call(self, method: Callable[..., T], *args: Any) -> T:
        """Runs recorder work on its own thread: a database capture there holds up only
        the requests that must wait for it, never the proxy's event loop. Other addons
        that touch the recorder (the control page) go through here too: one thread owns it."""
        if self._worker is None:  # the proxy is stopping: what is left is quick, and goes nowhere
            return method(*args)
        return await asyncio.wrap_future(self._worker.submit(method, *args))

    async def _committed(self, recorder: Recorder, written: int) -> str | None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[str | None] = loop.create_future()

        def settle(problem: str | None) -> None:
            if not done.done():
                done.set_result(problem)

        def wake(problem: str | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
                loop.call_soon_threadsafe(settle, problem)

        recorder.when_committed(written, wake)
        return await done

    def _stop(self, problem: str) -> None:
        """The recording cannot go on: stop the proxy rather than forward what is not kept."""
        if self.failure is None:
            self.failure = problem
            logging.getLogger("replayqa.record").error("recording stopped: %s", problem)
            ctx.master.shutdown()

    async def request(self, flow: http.HTTPFlow) -> None:
        recorder = self.recorder
        if recorder is None or flow.metadata.get("replayqa_skip"):
            return  # answered by the proxy itself (the control page): never recorded
        info = request_info(flow, self.body_cap)
        answer = await self.call(recorder.marker_response, info) if is_marker(info) else None
        if answer is not None:
            status, payload = answer
            flow.response = http.Response.make(
                status, json.dumps(payload), {"Content-Type": "application/json"}
            )
            return
        # What the recording does not keep never waits behind a database capture.
        if not recorder.keeps(info) or not await self.call(recorder.on_request, info):
            flow.metadata["replayqa_skip"] = True

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        if self.recorder is None or response is None or flow.metadata.get("replayqa_skip"):
            return
        content_type, length = content_headers(response.headers)
        large = length.isdigit() and int(length) > 4 * self.body_cap
        if large or _STREAM_TYPES.search(content_type):
            tap = _StreamTap(self.body_cap)
            flow.metadata["replayqa_stream"] = tap
            response.stream = tap

    async def response(self, flow: http.HTTPFlow) -> None:
        """Holds the response until its exchange is committed: a client never sees complete
        an exchange that a SIGKILL could still take from the recording."""
        recorder = self.recorder
        if recorder is None or flow.metadata.get("replayqa_skip"):
            return
        tap = flow.metadata.get("replayqa_stream")
        streamed = tap.data() if tap is not None else None
        total = tap.total if tap is not None else None
        info = response_info(flow, self.body_cap, streamed, total)
        written = await self.call(recorder.on_response, flow.id, info)
        if written is None:
            return
        problem = await self._committed(recorder, written)
        if problem is not None:
            flow.kill()
            self._stop(problem)

    async def error(self, flow: http.HTTPFlow) -> None:
        recorder = self.recorder
        if recorder is not None and flow.error is not None:
            await self.call(recorder.on_error, flow.id, flow.error.msg)

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        recorder = self.recorder
        if recorder is None or flow.websocket is None:
            return
        message = flow.websocket.messages[-1]
        await self.call(
            recorder.on_websocket_message,
            flow.id,
            message.from_client,
            message.content,
            message.is_text,
            message.timestamp,
        )

    def done(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            try:
                self.summary = recorder.close()
            except Exception as exc:  # told to the user by whoever runs the proxy
                self.failure = self.failure or str(exc)


class _StreamTap:
    """Passes a streamed body through untouched while keeping its first ``cap`` bytes, and its size."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._chunks: list[bytes] = []
        self._size = 0
        self.total = 0

    def __call__(self, chunk: bytes) -> bytes:
        self.total += len(chunk)
        if self._size < self.cap:
            self._chunks.append(chunk[: self.cap - self._size])
            self._size += len(self._chunks[-1])
        return chunk

    def data(self) -> bytes:
        return b"".join(self._chunks)


addons = [RecorderAddon()]
