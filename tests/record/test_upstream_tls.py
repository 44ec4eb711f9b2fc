"""Upstream TLS settings: checked early, mapped onto mitmproxy's options, failures explained."""

from __future__ import annotations

import ssl

import pytest

from replayqa.errors import ConfigError
from replayqa.record.upstream_tls import UpstreamTLS, closed_after_handshake_hint, explain_handshake_failure
from tests.support.tls_upstream import make_pki


def test_options_are_mitmproxys_own(tmp_path):
    pki = make_pki(tmp_path)
    tls = UpstreamTLS(ca=str(pki.ca), client_cert=str(pki.client))
    tls.check()
    assert tls.mitmproxy_options() == {
        "ssl_insecure": False,
        "ssl_verify_upstream_trusted_ca": str(pki.ca),
        "client_certs": str(pki.client),
    }
    assert UpstreamTLS(insecure=True).mitmproxy_options() == {"ssl_insecure": True}


def test_the_early_check_trusts_what_the_proxy_will(tmp_path):
    pki = make_pki(tmp_path)
    assert UpstreamTLS(ca=str(pki.ca)).ssl_context().verify_mode == ssl.CERT_REQUIRED
    insecure = UpstreamTLS(insecure=True).ssl_context()
    assert insecure.verify_mode == ssl.CERT_NONE and not insecure.check_hostname


def test_files_that_cannot_work_are_refused_before_the_proxy_starts(tmp_path):
    pki = make_pki(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConfigError, match="cannot read it"):
        UpstreamTLS(ca=str(tmp_path / "missing.pem")).check()
    with pytest.raises(ConfigError, match="no PEM certificate"):
        UpstreamTLS(ca=str(tmp_path / "notes.txt")).check()
    with pytest.raises(ConfigError, match="no private key in it: put the certificate and its key in one"):
        UpstreamTLS(client_cert=str(pki.self_signed_cert)).check()
    with pytest.raises(ConfigError, match="contradict each other"):
        UpstreamTLS(ca=str(pki.ca), insecure=True).check()


def test_an_untrusted_certificate_names_the_options():
    line = explain_handshake_failure(
        "staging.example:443", "Certificate verify failed: self-signed certificate", UpstreamTLS()
    )
    assert line == (
        "upstream staging.example:443: its TLS certificate is not trusted (self-signed certificate); "
        "give its CA (or the certificate itself) with --upstream-ca FILE, "
        "or skip the check with --upstream-insecure"
    )
    wrong_ca = explain_handshake_failure(
        "s:443", "Certificate verify failed: unable to get local issuer certificate", UpstreamTLS(ca="ca.pem")
    )
    assert "the CA in --upstream-ca ca.pem did not sign it" in wrong_ca


def test_a_demanded_client_certificate_names_client_cert():
    line = explain_handshake_failure("s:443", "TLSV13_ALERT_CERTIFICATE_REQUIRED", UpstreamTLS())
    assert line.startswith("upstream s:443 wants a client certificate") and "--client-cert FILE" in line
    refused = explain_handshake_failure("s:443", "tlsv1 alert unknown ca", UpstreamTLS(client_cert="me.pem"))
    assert "it refused the client certificate in --client-cert me.pem" in refused
    assert "--client-cert" in closed_after_handshake_hint("s:443", UpstreamTLS())
    assert closed_after_handshake_hint("s:443", UpstreamTLS(client_cert="me.pem")) is None


def test_other_failures_still_point_at_the_options():
    line = explain_handshake_failure("s:443", "The remote server does not speak TLS.", UpstreamTLS())
    assert "--upstream-ca" in line and "--client-cert" in line and "\n" not in line
