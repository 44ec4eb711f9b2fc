"""Running mitmproxy in-process with the recorder addon: what ``replayqa record`` does.

mitmproxy is loaded only once the writer process has started, so the two
load in parallel and the proxy listens sooner (bench/startup.py measures it).

Problems a user can fix (an upstream that does not answer, a port in use, a
bad option) are found before or while the proxy starts, and reported as one
ConfigError; SIGINT and SIGTERM stop the proxy cleanly, so every session is
closed and its end state captured.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import http.client
import logging
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from replayqa.errors import AppUnreachableError, ConfigError, StateError
from replayqa.record.lan import ClientRanges
from replayqa.record.upstream_tls import UpstreamTLS, check_upstream
from replayqa.record.writer import WriterProcess

if TYPE_CHECKING:
    from replayqa.record.settings import RecorderSettings


@dataclass(frozen=True)
class ProxyConfig:
    mode: str  # "reverse:http://app" or "regular"
    host: str = "127.0.0.1"
    port: int = 8888
    tls: UpstreamTLS = field(default_factory=UpstreamTLS)
    clients: ClientRanges = field(default_factory=ClientRanges)


def parse_listen(value: str, default_port: int) -> tuple[str, int]:
    """``HOST:PORT``, ``HOST`` or ``:PORT``; loopback unless told otherwise."""
    host, _, port = value.rpartition(":") if ":" in value else (value, "", "")
    host = host.strip("[]") or "127.0.0.1"
    if port and not (port.isdigit() and int(port) <= 65535):
        raise ConfigError(f"--listen {value!r}: the port must be a number up to 65535, as in 127.0.0.1:8888")
    return host, int(port) if port else default_port


def check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_REUSEADDR, 1
        )  # as the proxy will: TIME_WAIT is no conflict
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} on {host} is in use: stop what holds it, or pick another with "
                    f"--listen {host}:PORT"
                ) from None
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def check_answers(url: str, timeout: float = 5.0) -> None:
    """A plain-HTTP upstream must give any HTTP answer before the proxy starts.

    It connects as the proxy will, directly (no proxy from the environment), with
    the standard library: loading an HTTP client here would delay listening.
    """
    parts = urlsplit(url)
    if not parts.hostname:
        raise ConfigError(f"invalid --upstream {url!r}: give a URL such as http://127.0.0.1:8000")
    try:
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
        try:
            connection.request("GET", parts.path or "/", headers={"User-Agent": "replayqa"})
            connection.getresponse().read(0)
        finally:
            connection.close()
    except (OSError, http.client.HTTPException) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or "no answer"
        raise AppUnreachableError(
            f"cannot reach the app at {url} ({type(exc).__name__}: {reason}): start it, or fix --upstream"
        ) from None


def record(
    settings: RecorderSettings,
    proxy: ProxyConfig,
    on_ready: Callable[[list[tuple[str, int]]], None] = lambda addresses: None,
    on_tick: Callable[[dict[str, int]], None] = lambda stats: None,
    on_notice: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Proxy and record until SIGINT or SIGTERM; returns the recorder's summary.

    ``on_tick`` gets the recorder's counts about once a second, for progress displays;
    ``on_notice`` one line per new problem while it runs (a refused client, an
    upstream whose TLS handshake failed), for the console.
    """
    proxy.tls.check()
    check_port_free(proxy.host, proxy.port)
    # The writer process starts first: it loads on the other core while this one loads mitmproxy.
    writer = WriterProcess()
    try:
        if proxy.mode.startswith("reverse:https:"):
            check_upstream(proxy.mode.removeprefix("reverse:"), proxy.tls)
        elif proxy.mode.startswith("reverse:"):
            check_answers(proxy.mode.removeprefix("reverse:"))
        return asyncio.run(_serve(settings, proxy, writer, on_ready, on_tick, on_notice))
    finally:
        writer.discard()


async def _serve(
    settings: RecorderSettings,
    proxy: ProxyConfig,
    writer: WriterProcess,
    on_ready: Callable[[list[tuple[str, int]]], None],
    on_tick: Callable[[dict[str, int]], None],
    on_notice: Callable[[str], None],
) -> dict[str, Any]:
    from mitmproxy import exceptions, options
    from mitmproxy.addons import default_addons
    from mitmproxy.master import Master

    from replayqa.addons.control import ControlPageAddon
    from replayqa.addons.network import ClientGate, UpstreamTLSNotes
    from replayqa.addons.recorder import RecorderAddon

    opts = options.Options(listen_host=proxy.host, listen_port=proxy.port, mode=[proxy.mode])
    master = Master(opts, with_termlog=False)
    addon = RecorderAddon(writer)
    master.addons.add(
        *default_addons(),
        ClientGate(on_notice),
        UpstreamTLSNotes(proxy.tls, on_notice),
        ControlPageAddon(addon),  # before the recorder: the page's requests are answered, not recorded
        addon,
    )
    failures = _StartupErrors()
    logging.getLogger("mitmproxy").addHandler(failures)
    try:
        opts.update(
            replayqa_out=str(settings.out),
            replayqa_name=settings.name,
            replayqa_db=settings.db or "",
            replayqa_stores=list(settings.stores),
            replayqa_spec=settings.spec or "",
            replayqa_include=list(settings.include),
            replayqa_exclude=list(settings.exclude),
            replayqa_include_static=settings.include_static,
            replayqa_idle_gap=str(settings.idle_gap),
            replayqa_body_cap=settings.body_cap,
            replayqa_upstream=settings.upstream or "",
            replayqa_redact_headers=list(settings.rules.extra_headers),
            replayqa_redact_fields=list(settings.rules.extra_fields),
            replayqa_allow_client=[str(network) for network in proxy.clients.ranges],
            # mitmproxy refuses public addresses by default; given ranges, they alone decide
            block_global=not proxy.clients.limited,
            **proxy.tls.mitmproxy_options(),
        )
    except exceptions.OptionsError as exc:
        raise ConfigError(str(exc).strip()) from None
    if addon.recorder is None:  # never forward what is not recorded
        reason = failures.messages[-1] if failures.messages else "the recorder did not start"
        raise ConfigError(f"cannot record to {settings.out}: {reason}")
    proxyserver = master.addons.get("proxyserver")
    try:
        if not await proxyserver.setup_servers():
            reason = failures.messages[-1] if failures.messages else "the proxy could not start"
            raise ConfigError(f"cannot listen on {proxy.host}:{proxy.port}: {reason}")
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, master.shutdown)
        await master.running()
        # Everything loaded so far lives as long as the proxy: keep the collector from rescanning it.
        gc.freeze()
        on_ready([(a[0], a[1]) for a in proxyserver.listen_addrs()])
        while not master.should_exit.is_set():
            if addon.recorder is not None:
                on_tick(addon.recorder.stats())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(master.should_exit.wait(), timeout=1)
    finally:
        with contextlib.suppress(Exception):
            await proxyserver.servers.update([])
        await master.done()
        logging.getLogger("mitmproxy").removeHandler(failures)
    if addon.failure is not None:
        raise StateError(
            f"{addon.failure}; the proxy stopped with it. {settings.out} keeps every exchange "
            "a client received; record again to go on"
        )
    return addon.summary or {}


class _StartupErrors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
