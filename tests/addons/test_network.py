"""The client gate and the upstream TLS explanations, with mitmproxy's own test helpers."""

from __future__ import annotations

import pytest
from mitmproxy import exceptions, tls
from mitmproxy.test import taddons, tflow

from replayqa.addons.network import ClientGate, UpstreamTLSNotes
from replayqa.record.upstream_tls import UpstreamTLS


def client_from(address: str):
    client = tflow.tclient_conn()
    client.peername = (address, 50000)
    return client


def test_clients_outside_the_ranges_are_cut_off_as_they_connect():
    told: list[str] = []
    gate = ClientGate(told.append)
    with taddons.context(gate) as tctx:
        tctx.configure(gate, replayqa_allow_client=["10.9.8.0/30"])
        allowed, local, stranger, again = (
            client_from(a) for a in ("10.9.8.2", "127.0.0.1", "10.9.9.2", "10.9.9.2")
        )
        for client in (allowed, local, stranger, again):
            gate.client_connected(client)
    assert allowed.error is None and local.error is None
    assert stranger.error == again.error == "refused: 10.9.9.2 is not in --allow-client"
    assert told == ["refused client 10.9.9.2: not in --allow-client; nothing of it is recorded"], "once each"


def test_a_bad_range_is_an_option_error():
    gate = ClientGate()
    with taddons.context(gate) as tctx, pytest.raises(exceptions.OptionsError, match="not an address range"):
        tctx.configure(gate, replayqa_allow_client=["phone"])


def test_a_failed_upstream_handshake_carries_the_explanation():
    told: list[str] = []
    notes = UpstreamTLSNotes(UpstreamTLS(), told.append)
    server = tflow.tserver_conn()
    server.address, server.sni = ("10.1.2.3", 8443), "staging.example"
    context = tflow.tflow().client_conn  # any client: the hook only reads the server side
    with taddons.context(notes):
        for _ in range(2):
            server.error = "Certificate verify failed: self-signed certificate"
            notes.tls_failed_server(tls.TlsData(server, context))  # type: ignore[arg-type]
    assert server.error.startswith("upstream staging.example:8443: its TLS certificate is not trusted")
    assert told == [server.error], "the console hears it once"
