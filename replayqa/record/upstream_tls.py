"""TLS between the proxy and the upstream: a staging server's own CA, no check, or a client certificate.

A staging server usually has a certificate from a private CA, or a
self-signed one, that mitmproxy does not trust; its bare "Certificate verify
failed" left the tester guessing. These settings map onto mitmproxy's own
options, and a failed handshake is explained with the option that fixes it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from replayqa.errors import AppUnreachableError, ConfigError

_PEM_CERT = b"-----BEGIN CERTIFICATE-----"
_PEM_KEY = b"PRIVATE KEY-----"


@dataclass(frozen=True)
class UpstreamTLS:
    #: PEM file of the CA (or the self-signed certificate) the upstream's certificate chains to.
    ca: str | None = None
    #: Skip verifying the upstream's certificate altogether.
    insecure: bool = False
    #: PEM file with a client certificate and its private key, for upstreams that demand mutual TLS.
    client_cert: str | None = None

    def check(self) -> None:
        """Refuse files that cannot work now, rather than at the first HTTPS request."""
        if self.ca and self.insecure:
            raise ConfigError(
                "--upstream-ca and --upstream-insecure contradict each other: "
                "give the CA to verify against, or skip verification, not both"
            )
        if self.ca:
            _require_pem(self.ca, "--upstream-ca", key=False)
        if self.client_cert:
            _require_pem(self.client_cert, "--client-cert", key=True)

    def ssl_context(self) -> ssl.SSLContext:
        """The same trust as the proxy's, for checking the upstream before the proxy starts."""
        context = ssl.create_default_context(cafile=self.ca)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.client_cert:
            context.load_cert_chain(self.client_cert)
        return context

    def mitmproxy_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"ssl_insecure": self.insecure}
        if self.ca:
            options["ssl_verify_upstream_trusted_ca"] = str(Path(self.ca).resolve())
        if self.client_cert:
            options["client_certs"] = str(Path(self.client_cert).resolve())
        return options


INSECURE_WARNING = (
    "warning: --upstream-insecure: upstream certificates are not checked; "
    "anyone between this proxy and the server can read and change the traffic"
)


def explain_handshake_failure(address: str, error: str, tls: UpstreamTLS) -> str:
    """One line: what failed with the upstream, and which option fixes it."""
    lower = error.lower().replace("_", " ")
    if "verify failed" in lower:
        if tls.ca:
            fix = (
                f"the CA in --upstream-ca {tls.ca} did not sign it: give the right CA file, "
                "or skip the check with --upstream-insecure"
            )
        else:
            fix = (
                "give its CA (or the certificate itself) with --upstream-ca FILE, "
                "or skip the check with --upstream-insecure"
            )
        reason = error.split(":", 1)[-1].strip() or error  # "Certificate verify failed: self-signed ..."
        return f"upstream {address}: its TLS certificate is not trusted ({reason}); {fix}"
    if any(hint in lower for hint in ("certificate required", "bad certificate", "unknown ca")):
        fix = (
            f"it refused the client certificate in --client-cert {tls.client_cert}"
            if tls.client_cert
            else "give a client certificate and key in one PEM file with --client-cert FILE"
        )
        return f"upstream {address} wants a client certificate ({error}): {fix}"
    if "alert handshake failure" in lower and not tls.client_cert:
        # Before TLS 1.3, a server that demands a client certificate and gets none says only this.
        return (
            f"upstream {address} refused the TLS handshake ({error}): if it demands a client "
            "certificate, give one with --client-cert FILE"
        )
    return (
        f"upstream {address}: the TLS handshake failed ({error}); see --upstream-ca, "
        "--upstream-insecure and --client-cert"
    )


def closed_after_handshake_hint(address: str, tls: UpstreamTLS) -> str | None:
    """An upstream that hangs up right after a TLS 1.3 handshake may want a client certificate.

    TLS 1.3 servers check the client's certificate after the handshake, so the
    proxy only sees the connection close; this is a hint, not a diagnosis.
    """
    if tls.client_cert:
        return None
    return (
        f"upstream {address} closed the connection without answering: if it demands a client "
        "certificate, give one with --client-cert FILE"
    )


def check_upstream(url: str, tls: UpstreamTLS) -> None:
    """An HTTPS reverse-proxy upstream must answer with the TLS settings given, or say which to change."""
    import httpx  # here: ``replayqa record`` with a plain-HTTP upstream never needs it

    parts = urlsplit(url)
    address = f"{parts.hostname}:{parts.port or 443}"
    try:
        httpx.get(url, timeout=5.0, verify=tls.ssl_context())
    except httpx.HTTPError as exc:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, ssl.SSLError):
            cause = cause.__cause__ or cause.__context__
        if isinstance(cause, ssl.SSLError):
            error = getattr(cause, "verify_message", None) or cause.reason or str(cause)
            if isinstance(cause, ssl.SSLCertVerificationError):
                error = f"Certificate verify failed: {error}"
            raise ConfigError(explain_handshake_failure(address, error, tls)) from None
        raise AppUnreachableError(
            f"cannot reach the app at {url} ({type(exc).__name__}: {exc or 'no answer'}): "
            "start it, or fix --upstream"
        ) from None


def _require_pem(path: str, flag: str, key: bool) -> None:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{flag} {path}: cannot read it ({exc.strerror}): fix the path") from None
    if _PEM_CERT not in data:
        raise ConfigError(f"{flag} {path}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)")
    if key and _PEM_KEY not in data:
        raise ConfigError(
            f"{flag} {path}: no private key in it: put the certificate and its key in one PEM file, "
            "e.g. cat client.crt client.key > client.pem"
        )
