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


def test_an_upstream_that_hangs_up_after_a_tls13_handshake_gets_the_client_certificate_hint():
    """TLS 1.3 servers check a client certificate after the handshake: the proxy sees only the
    connection close, and the console says what may be missing, once."""
    told: list[str] = []
    notes = UpstreamTLSNotes(UpstreamTLS(), told.append)
    with taddons.context(notes):
        for _ in range(2):
            flow = tflow.tflow()
            flow.server_conn.address, flow.server_conn.sni = ("10.1.2.3", 8443), "staging.example"
            flow.server_conn.timestamp_tls_setup = 1.0  # the handshake went through
            flow.error = flow_error("server closed connection")
            notes.error(flow)
    assert told == [
        "upstream staging.example:8443 closed the connection without answering: if it demands a "
        "client certificate, give one with --client-cert FILE"
    ]
    with_cert = UpstreamTLSNotes(UpstreamTLS(client_cert="me.pem"), told.append)
    with taddons.context(with_cert):
        with_cert.error(flow)
    assert len(told) == 1, "with a client certificate given, the hint would mislead"


def flow_error(message: str):
    from mitmproxy.flow import Error

    return Error(message)
