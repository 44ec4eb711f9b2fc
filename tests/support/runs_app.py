"""A job-runs API on SQLite whose server names each run at random, as schedulers and CI systems do.

``python runs_app.py DB_PATH [BUG]`` prints ``listening on URL``. ``POST /runs``
creates a run named ``adjective-animal`` at random; ``GET /runs/ID`` (or
``/runs/NAME``) reads it.
With BUG ``renamed_on_read``, a read answers a fresh random name of the same
shape instead of the stored one: a regression no value format can reveal.
``GET /runs`` lists them, oldest first (newest first with BUG
``reversed_list``). ``DELETE /runs?job=NAME`` deletes a job's runs. With BUG ``created_twice``, a
create writes its row twice and answers as if once; deleting the job later
removes both, so the end state is as recorded.
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ADJECTIVES = ("melodic", "warping", "sensible", "curly", "granite", "literate", "brave", "quiet")
ANIMALS = ("gaur", "mongoose", "sawfish", "goose", "corgi", "weasel", "otter", "heron")
conn = sqlite3.connect(sys.argv[1], check_same_thread=False, isolation_level=None)
conn.execute(
    "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, name TEXT NOT NULL, job TEXT NOT NULL)"
)
BUG = sys.argv[2] if len(sys.argv) > 2 else ""
lock = threading.Lock()


def random_name() -> str:
    return f"{random.choice(ADJECTIVES)}-{random.choice(ANIMALS)}-{random.randint(100, 999)}"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        with lock:
            name = random_name()
            cursor = conn.execute("INSERT INTO runs (name, job) VALUES (?, ?)", (name, body["job"]))
            if BUG == "created_twice":
                conn.execute("INSERT INTO runs (name, job) VALUES (?, ?)", (name + "-copy", body["job"]))
        self._send(201, {"id": cursor.lastrowid, "name": name, "job": body["job"]})

    def do_DELETE(self) -> None:
        job = self.path.partition("?job=")[2]
        with lock:
            conn.execute("DELETE FROM runs WHERE job = ?", (job,))
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/runs":  # BUG reversed_list: the newest first, as some lists change to
            with lock:
                rows = conn.execute("SELECT id, name, job FROM runs ORDER BY id").fetchall()
            runs = [{"id": i, "name": n, "job": j} for i, n, j in rows]
            self._send(200, {"runs": runs[::-1] if BUG == "reversed_list" else runs})
            return
        run_id = self.path.rstrip("/").rpartition("/")[2]  # an id, or a run's name
        column = "id" if run_id.isdigit() else "name"
        with lock:
            row = conn.execute(f"SELECT id, name, job FROM runs WHERE {column} = ?", (run_id,)).fetchone()
        if row is None:
            self._send(404, {"detail": "no such run"})
            return
        name = random_name() if BUG == "renamed_on_read" else row[1]
        self._send(200, {"id": row[0], "name": name, "job": row[2]})


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
