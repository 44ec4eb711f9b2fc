"""A tiny real HTTPS server with certificates made on the spot, as a staging server has.

``make_pki`` writes a CA, a server certificate it signed (for 127.0.0.1 and
localhost), a self-signed server certificate, and a client certificate the CA
signed (its key in the same PEM file, as ``--client-cert`` wants).
"""

from __future__ import annotations

import datetime
import json
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Pki:
    ca: Path  # the staging CA's certificate
    server: Path  # certificate + key signed by the CA
    self_signed: Path  # certificate + key, signed by itself
    self_signed_cert: Path  # that certificate alone, as a tester would be handed it
    client: Path  # client certificate + key signed by the CA
    other_ca: Path  # a CA that signed none of these


def make_pki(folder: Path) -> Pki:
    ca_key, ca_cert = _certificate("replayqa test staging CA", None, ca=True)
    _, other_cert = _certificate("some other CA", None, ca=True)
    server = _certificate("127.0.0.1", (ca_key, ca_cert), server=True)
    self_signed = _certificate("127.0.0.1", None, server=True)
    client = _certificate("replayqa tester", (ca_key, ca_cert), client=True)
    names = ("ca.pem", "server.pem", "self-signed.pem", "self-signed-cert.pem", "client.pem", "other-ca.pem")
    pki = Pki(*(folder / name for name in names))
    pki.ca.write_bytes(_pem(ca_cert))
    pki.other_ca.write_bytes(_pem(other_cert))
    pki.self_signed_cert.write_bytes(_pem(self_signed[1]))
    for path, (key, cert) in ((pki.server, server), (pki.self_signed, self_signed), (pki.client, client)):
        path.write_bytes(_pem(cert) + _key_pem(key))
    return pki


class HttpsUpstream:
    """Answers every GET with JSON naming the path (and the client certificate's subject, if any)."""

    def __init__(
        self, cert_and_key: Path, client_ca: Path | None = None, max_version: ssl.TLSVersion | None = None
    ) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if max_version is not None:
            context.maximum_version = max_version
        context.load_cert_chain(cert_and_key)
        if client_ca is not None:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(client_ca)
        self.server = _TLSServer(("127.0.0.1", 0), _Handler)
        self.server.context = context
        self.port = self.server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self.requests: list[str] = []
        self.server.requests = self.requests  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


class _TLSServer(ThreadingHTTPServer):
    """The handshake runs in each connection's own thread: a client that fails it blocks nobody."""

    daemon_threads = True
    context: ssl.SSLContext

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(10)
        connection = self.context.wrap_socket(request, server_side=True)
        self.RequestHandlerClass(connection, client_address, self)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # failed handshakes are what some tests are about


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        peer = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
        subject = dict(x[0] for x in peer["subject"]).get("commonName") if peer else None
        body = json.dumps({"path": self.path, "client": subject}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _certificate(
    name: str,
    issuer: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None,
    ca: bool = False,
    server: bool = False,
    client: bool = False,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_key, issuer_name = (issuer[0], issuer[1].subject) if issuer else (key, subject)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if client:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    return key, builder.sign(signer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
