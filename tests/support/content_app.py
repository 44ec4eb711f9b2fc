"""An upstream that serves every kind of content a recorder must handle.

``python content_app.py`` prints ``listening on URL``. Endpoints: ``/gzip``,
``/br``, ``/zstd`` (JSON, compressed), ``/binary`` (2 MB of bytes),
``/events`` (a server-sent event stream), ``/empty`` (an empty JSON list),
``/ws`` (a WebSocket echo) and ``PUT /once/KEY`` (201, then 409: state in memory).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import brotli
import zstandard
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

PAYLOAD = json.dumps({"items": [{"id": n, "name": f"item {n}"} for n in range(50)]}).encode()
BINARY = b"".join(hashlib.sha256(str(n).encode()).digest() for n in range(65536))  # 2 MiB
ENCODERS = {"gzip": gzip.compress, "br": brotli.compress, "zstd": zstandard.ZstdCompressor().compress}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    calls = 0
    disable_nagle_algorithm = True  # keep-alive plus small writes would otherwise wait on delayed ACKs
    wbufsize = 65536  # one write per response; handle_one_request flushes

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    made: set[str] = set()  # kept in memory: no database restore reaches it

    def do_PUT(self) -> None:
        """``PUT /once/KEY`` makes KEY: 201 the first time, 409 after (like a file on disk)."""
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        known = self.path in Handler.made
        Handler.made.add(self.path)
        self.send_response(409 if known else 201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        name = self.path.strip("/")
        if name in ENCODERS:
            self._send(ENCODERS[name](PAYLOAD), "application/json", {"Content-Encoding": name})
        elif name == "binary":
            self._send(BINARY, "application/octet-stream")
        elif name == "events":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for n in range(5):
                self.wfile.write(f"data: tick {n}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.05)
            self.close_connection = True
        elif name == "lucky":  # differs on every call, in no format a tool could guess
            self._send(
                json.dumps({"number": random.randint(10, 10**9), "name": "lucky"}).encode(),
                "application/json",
            )
        elif name == "alternate":  # flaky by construction: odd calls fail, even calls succeed
            Handler.calls += 1
            if Handler.calls % 2:
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._send(b'{"ok": true}', "application/json")
        elif name == "empty":  # a listing with nothing in it
            self._send(b"[]", "application/json")
        elif name == "ws":
            self._websocket_echo()
        else:
            self._send(b'{"ok": true}', "application/json")

    def _websocket_echo(self) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        head = f"{self.requestline}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in self.headers.items()) + "\r\n"
        ws.receive_data(head.encode())
        for event in ws.events():
            if isinstance(event, Request):
                self.wfile.write(ws.send(AcceptConnection()))
                self.wfile.flush()
        self.close_connection = True
        while True:
            data = self.connection.recv(65536)
            if not data:
                return
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, TextMessage):
                    self.wfile.write(ws.send(TextMessage(data=f"echo: {event.data}")))
                elif isinstance(event, CloseConnection):
                    self.wfile.write(ws.send(event.response()))
                    self.wfile.flush()
                    return
            self.wfile.flush()


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
