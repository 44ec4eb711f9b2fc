"""Datasette 1.0 alpha: an ASGI app on SQLite with a JSON write API, Bearer tokens, and no OpenAPI spec."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from bench.field.accesslog import REQUEST_LINE
from bench.field.apps.base import DatabaseServer, FieldApp, Instance
from bench.field.env import Process, Venv, free_port, wait_http

SECRET = "field-signing-secret"


class Datasette(FieldApp):
    name = "datasette"
    package = "datasette"
    stack = "ASGI (uvicorn), SQLite"
    requirements = ("datasette==1.0a41",)
    log_pattern = REQUEST_LINE
    has_spec = False

    def start(self, venv: Venv, work: Path, postgres: DatabaseServer) -> Instance:
        work.mkdir(parents=True, exist_ok=True)
        database = work / "shop_qa.db"  # a test database's name, as replayqa's docs ask
        database.unlink(missing_ok=True)
        port = free_port()
        log = work / "access.log"
        command = [
            venv.bin("datasette"),
            "serve",
            str(database),
            "--create",
            "--root",  # the root actor may write, through tokens made for it
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ]
        server = Process(command, log, {"DATASETTE_SECRET": SECRET}).start()
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/-/versions.json", server)
        token = subprocess.run(
            [venv.bin("datasette"), "create-token", "root", "--secret", SECRET],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return Instance(base, log, [server], db_url=f"sqlite:///{database}", extra={"token": token})

    def session(self, instance: Instance, proxy: str) -> None:
        headers = {"Authorization": f"Bearer {instance.extra['token']}"}
        with httpx.Client(base_url=f"{proxy}/shop_qa", headers=headers, timeout=30) as client:

            def ok(method: str, path: str, **kw: object) -> httpx.Response:
                response = client.request(method, path, **kw)  # type: ignore[arg-type]
                response.raise_for_status()
                return response

            columns = [
                {"name": "id", "type": "integer"},
                {"name": "name", "type": "text"},
                {"name": "price", "type": "float"},
                {"name": "qty", "type": "integer"},
            ]
            ok("POST", "/-/create", json={"table": "items", "columns": columns, "pk": "id"})
            rows = [
                {"name": "kettle", "price": 25.0, "qty": 3},
                {"name": "teapot", "price": 40.0, "qty": 1},
                {"name": "mug", "price": 8.5, "qty": 12},
            ]
            inserted = ok("POST", "/items/-/insert", json={"rows": rows, "return": True}).json()["rows"]
            first, second = inserted[0]["id"], inserted[1]["id"]
            ok("GET", "/items.json", params={"_shape": "array"})
            ok("POST", f"/items/{first}/-/update", json={"update": {"qty": 5}, "return": True})
            ok("GET", f"/items/{first}.json")
            ok("POST", "/items/-/upsert", json={"rows": [{"id": second, "price": 42.0}], "return": True})
            ok("POST", f"/items/{inserted[2]['id']}/-/delete")
            ok("GET", "/items.json", params={"_shape": "array", "price__gt": 10, "_sort_desc": "price"})
            ok(
                "GET",
                "/-/query.json",
                params={"sql": "select name, qty from items order by id", "_shape": "array"},
            )
            gone = client.get(f"/items/{inserted[2]['id']}.json")
            assert gone.status_code == 404, gone.text

    def secrets(self, instance: Instance) -> list[str]:
        return [f"authorization=Bearer {instance.extra['token']}"]
