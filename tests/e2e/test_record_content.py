"""What the recorder keeps of each kind of content: compressed, binary, streamed, WebSocket, HTTP/2."""

from __future__ import annotations

import gzip
import hashlib
import json
import socket
import ssl

import h2.connection
import h2.events
import httpx
from websockets.sync.client import connect

from replayqa.record.storage import Recording
from tests.support.content_app import BINARY, PAYLOAD


def h2_get(port: int, path: str) -> tuple[int, bytes]:
    """One GET over HTTP/2 with TLS, offering only h2.

    (httpx offers http/1.1 first, and mitmproxy honours the client's order, so
    this speaks HTTP/2 with the h2 library directly.)
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the proxy presents mitmproxy's own certificate
    context.set_alpn_protocols(["h2"])
    with context.wrap_socket(
        socket.create_connection(("127.0.0.1", port)), server_hostname="localhost"
    ) as sock:
        assert sock.selected_alpn_protocol() == "h2"
        conn = h2.connection.H2Connection()
        conn.initiate_connection()
        headers = [
            (":method", "GET"),
            (":path", path),
            (":scheme", "https"),
            (":authority", f"localhost:{port}"),
        ]
        conn.send_headers(1, headers, end_stream=True)
        sock.sendall(conn.data_to_send())
        status, body = 0, b""
        while True:
            for event in conn.receive_data(sock.recv(65536)):
                if isinstance(event, h2.events.ResponseReceived):
                    status = int(dict(event.headers)[b":status"])
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    return status, body
            sock.sendall(conn.data_to_send())


def test_every_kind_of_content_is_recorded_as_it_was_meant(content_app, recording_proxy, tmp_path):
    proxy = recording_proxy("--upstream", content_app.base_url, "--out", "content.db")
    with httpx.Client(base_url=proxy.url) as client:
        for encoding in ("gzip", "br", "zstd"):
            assert client.get(f"/{encoding}").json() == json.loads(PAYLOAD)
        assert client.get("/binary").content == BINARY, "large bodies pass through whole"
        assert client.get("/events").text.count("data: tick") == 5
    with connect(f"ws://127.0.0.1:{proxy.port}/ws") as websocket:
        websocket.send("hello")
        assert websocket.recv() == "echo: hello"
    status, body = h2_get(proxy.port, "/gzip")
    assert (status, gzip.decompress(body)) == (200, PAYLOAD)
    code, _, err = proxy.stop()
    assert code == 0, err

    recording = Recording.open(tmp_path / "content.db")
    rows = {f"{r['path']} {r['http_version']}": r for r in recording.exchanges()}
    for encoding in ("gzip", "br", "zstd"):
        row = rows[f"/{encoding} HTTP/1.1"]
        assert json.loads(row["response_body"]) == json.loads(PAYLOAD), "stored decoded"
        assert dict(row["response_headers"])["Content-Encoding"] == encoding
    binary = rows["/binary HTTP/1.1"]
    assert binary["response_body"] is None and binary["response_body_size"] == len(BINARY)
    assert binary["response_body_blob"] == BINARY[:1_000_000], "kept up to the cap"
    assert binary["response_body_sha256"] == hashlib.sha256(BINARY).hexdigest(), "hash of the whole body"
    events = rows["/events HTTP/1.1"]
    assert events["response_streamed"] == 1 and "data: tick 4" in events["response_body"]
    upgrade = rows["/ws HTTP/1.1"]
    assert upgrade["status"] == 101
    messages = recording.websocket_messages(upgrade["flow_id"])
    assert [(m["from_client"], m["content"]) for m in messages] == [(1, "hello"), (0, "echo: hello")]
    assert json.loads(rows["/gzip HTTP/2.0"]["response_body"]) == json.loads(PAYLOAD)
