"""Who may use the proxy, and why an upstream's TLS failed: ``replayqa record`` runs these.

Thin hooks; the rules are in ``replayqa.record.lan`` and
``replayqa.record.upstream_tls``. ``notify`` gets one line per new problem
(a refused client, an upstream's failed handshake), for the console.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from mitmproxy import connection, ctx, exceptions, http, tls

from replayqa.errors import ConfigError
from replayqa.record.lan import ClientRanges, parse_client_ranges
from replayqa.record.upstream_tls import (
    UpstreamTLS,
    closed_after_handshake_hint,
    explain_handshake_failure,
)

log = logging.getLogger("replayqa.record")


class ClientGate:
    """Refuses clients outside ``replayqa_allow_client`` as they connect, before any request."""

    def __init__(self, notify: Callable[[str], None] = log.warning) -> None:
        self.notify = notify
        self.clients = ClientRanges()
        self._told: set[str] = set()

    def load(self, loader: Any) -> None:
        loader.add_option(
            "replayqa_allow_client",
            Sequence[str],
            [],
            "Serve only clients in these address ranges (CIDR), and this machine.",
        )

    def configure(self, updated: set[str]) -> None:
        if "replayqa_allow_client" in updated:
            try:
                self.clients = ClientRanges(parse_client_ranges(ctx.options.replayqa_allow_client))
            except ConfigError as exc:
                raise exceptions.OptionsError(str(exc)) from None

    def client_connected(self, client: connection.Client) -> None:
        peer = str(client.peername[0])
        if self.clients.allows(peer):
            return
        client.error = f"refused: {peer} is not in --allow-client"
        if peer not in self._told:  # a phone retries: one line per address is enough
            self._told.add(peer)
            self.notify(f"refused client {peer}: not in --allow-client; nothing of it is recorded")


class UpstreamTLSNotes:
    """Replaces mitmproxy's bare handshake error with one that names the option to use.

    The connection's error is what mitmproxy sends the client in its 502 and
    keeps as the flow's error, so the browser, the console and the recording
    all carry the same explanation.
    """

    def __init__(self, settings: UpstreamTLS, notify: Callable[[str], None] = log.warning) -> None:
        self.settings = settings
        self.notify = notify
        self._told: set[str] = set()

    def tls_failed_server(self, data: tls.TlsData) -> None:
        server = data.conn
        assert isinstance(server, connection.Server)
        host = server.sni or (str(server.address[0]) if server.address else "?")
        address = f"{host}:{server.address[1]}" if server.address else host
        explanation = explain_handshake_failure(address, server.error or "no reason given", self.settings)
        server.error = explanation
        if explanation not in self._told:
            self._told.add(explanation)
            self.notify(explanation)

    def error(self, flow: http.HTTPFlow) -> None:
        server = flow.server_conn
        if (
            flow.response is None
            and flow.error is not None
            and flow.error.msg == "server closed connection"
            and server.tls_established
            and server.address
        ):
            hint = closed_after_handshake_hint(
                f"{server.sni or server.address[0]}:{server.address[1]}", self.settings
            )
            if hint and hint not in self._told:
                self._told.add(hint)
                self.notify(hint)
