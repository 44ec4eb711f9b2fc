"""A tiny notes API on MySQL/MariaDB, run as its own process, holding one connection for its life.

``python mysql_notes_app.py mysql://... [PORT]`` prints ``listening on URL``. Each note keeps
a ``created_at DATETIME(6)``, so replays meet MySQL's own timestamp format. With
``NOTES_FAULT=shout`` the app stores the text upper-cased while answering with it as sent:
a fault only the database shows.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pymysql

url = urlsplit(sys.argv[1])
conn = pymysql.connect(
    host=url.hostname,
    port=url.port or 3306,
    user=url.username or "root",
    password=url.password or "",
    database=url.path.lstrip("/"),
    autocommit=True,
    charset="utf8mb4",
)
lock = threading.Lock()
with conn.cursor() as setup:
    setup.execute(
        "CREATE TABLE IF NOT EXISTS notes (id INT AUTO_INCREMENT PRIMARY KEY, text VARCHAR(200) NOT NULL, "
        "created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))"
    )
SHOUT = os.environ.get("NOTES_FAULT") == "shout"


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, payload: object) -> None:
        data = json.dumps(payload, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        with lock, conn.cursor() as cursor:
            cursor.execute("SELECT id, created_at FROM notes ORDER BY id")
            rows = cursor.fetchall()
        self._send(200, [{"id": i, "created_at": at} for i, at in rows])

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        text = body["text"].upper() if SHOUT else body["text"]
        with lock, conn.cursor() as cursor:
            cursor.execute("INSERT INTO notes (text) VALUES (%s)", (text,))
            cursor.execute("SELECT id, created_at FROM notes WHERE id = LAST_INSERT_ID()")
            note_id, created = cursor.fetchone()
        self._send(201, {"id": note_id, "text": body["text"], "created_at": created})

    def do_DELETE(self) -> None:
        with lock, conn.cursor() as cursor:
            cursor.execute("DELETE FROM notes WHERE id = %s", (self.path.rpartition("/")[2],))
        self._send(200 if cursor.rowcount else 404, {"deleted": cursor.rowcount})

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(format % args + "\n")


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0), Handler)
print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
server.serve_forever()
