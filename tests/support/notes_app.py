"""A tiny notes API on PostgreSQL, run as its own process, holding one connection for its life.

``python notes_app.py DSN [PORT]`` prints ``listening on URL``. It exists so end-to-end
tests can show restores acting on an app that never reconnects.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg

conn = psycopg.connect(sys.argv[1], autocommit=True)
lock = threading.Lock()
conn.execute("CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, text text NOT NULL)")


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        with lock:
            rows = conn.execute("SELECT id, text FROM notes ORDER BY id").fetchall()
        self._send(200, [{"id": i, "text": t} for i, t in rows])

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path.startswith("/notebooks/"):  # a table per notebook, as headless CMSs make one per type
            name = "notebook_" + self.path.rpartition("/")[2]
            try:
                with lock:
                    conn.execute(f'CREATE TABLE "{name}" (id serial PRIMARY KEY, text text)')
            except psycopg.errors.DuplicateTable:
                self._send(409, {"error": f"{name} already exists"})
                return
            self._send(201, {"table": name})
            return
        with lock:
            insert = "INSERT INTO notes (text) VALUES (%s) RETURNING id"
            row = conn.execute(insert, (body["text"],)).fetchone()
        self._send(201, {"id": row[0], "text": body["text"]})

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(format % args + "\n")


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0), Handler)
print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
server.serve_forever()
