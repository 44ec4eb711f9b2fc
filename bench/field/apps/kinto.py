"""Kinto: Pyramid on PostgreSQL, a Swagger 2.0 spec, HTTP Basic accounts, server-made UUIDs and ETags."""

from __future__ import annotations

import base64
import itertools
from pathlib import Path

import httpx
import psycopg

from bench.field.accesslog import REQUEST_LINE
from bench.field.apps.base import DatabaseServer, FieldApp, Instance
from bench.field.env import Process, Venv, free_port, wait_http

PASSWORD = "field-s3cret-pass"
_databases = itertools.count(1)


class Kinto(FieldApp):
    name = "kinto"
    package = "kinto"
    stack = "Pyramid, PostgreSQL"
    requirements = ("kinto[postgresql]==26.5.0",)
    log_pattern = REQUEST_LINE
    synth_auth = "basic"  # its spec declares no security scheme

    def start(self, venv: Venv, work: Path, postgres: DatabaseServer) -> Instance:
        work.mkdir(parents=True, exist_ok=True)
        database = f"kinto_{next(_databases)}_qa"
        with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
            admin.execute(f'CREATE DATABASE "{database}"')
            admin.execute(f"ALTER DATABASE \"{database}\" SET timezone TO 'UTC'")
        url = postgres.dsn(database)
        env = {"KINTO_STORAGE_URL": url, "KINTO_CACHE_URL": url, "KINTO_PERMISSION_URL": url}
        ini = work / "kinto.ini"
        if not ini.exists():
            init = [
                venv.bin("kinto"),
                "init",
                "--ini",
                str(ini),
                "--backend",
                "postgresql",
                "--cache-backend",
                "postgresql",
                "--host",
                "127.0.0.1",
            ]
            Process(init, work / "init.log", env).start().popen.wait(60)  # type: ignore[union-attr]
        migrate = Process([venv.bin("kinto"), "migrate", "--ini", str(ini)], work / "init.log", env).start()
        if migrate.popen.wait(60) != 0:  # type: ignore[union-attr]
            raise RuntimeError(f"kinto migrate failed:\n{migrate.tail()}")
        port = free_port()
        log = work / "access.log"
        server = Process(
            [venv.bin("kinto"), "start", "--ini", str(ini), "--port", str(port)], log, env
        ).start()
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/v1/", server)
        return Instance(base, log, [server], db_url=url, spec=f"{base}/v1/__api__")

    def prepare(self, instance: Instance) -> None:
        # The tester's account exists before the session, as it would on a staging server.
        response = httpx.put(f"{instance.base_url}/v1/accounts/admin", json={"data": {"password": PASSWORD}})
        response.raise_for_status()

    def session(self, instance: Instance, proxy: str) -> None:
        with httpx.Client(base_url=f"{proxy}/v1", auth=("admin", PASSWORD), timeout=30) as client:

            def ok(response: httpx.Response) -> httpx.Response:
                response.raise_for_status()
                return response

            ok(client.get("/"))
            ok(client.put("/buckets/shop", json={"data": {"title": "Shop"}}))
            ok(client.put("/buckets/shop/collections/items", json={"data": {"title": "Items"}}))
            ids = []
            for name, price in (("kettle", 25), ("teapot", 40), ("mug", 8)):
                body = {"data": {"name": name, "price": price, "tags": ["kitchen", name]}}
                ids.append(
                    ok(client.post("/buckets/shop/collections/items/records", json=body)).json()["data"]["id"]
                )
            ok(client.get("/buckets/shop/collections/items/records", params={"_sort": "price"}))
            record = ok(client.get(f"/buckets/shop/collections/items/records/{ids[0]}"))
            etag = record.headers["ETag"]
            ok(
                client.patch(
                    f"/buckets/shop/collections/items/records/{ids[0]}",
                    json={"data": {"price": 30}},
                    headers={"If-Match": etag},
                )
            )
            stale = client.patch(
                f"/buckets/shop/collections/items/records/{ids[0]}",
                json={"data": {"price": 31}},
                headers={"If-Match": etag},
            )
            assert stale.status_code == 412, stale.text
            ok(client.delete(f"/buckets/shop/collections/items/records/{ids[2]}"))
            gone = client.get(f"/buckets/shop/collections/items/records/{ids[2]}")
            assert gone.status_code == 404, gone.text
            ok(client.get("/buckets/shop/collections/items/records", params={"_limit": 1, "_sort": "name"}))
            ok(client.put("/buckets/shop/groups/staff", json={"data": {"members": ["account:admin"]}}))
            ok(client.get("/buckets/shop/collections/items/records", params={"price": 40}))

    def secrets(self, instance: Instance) -> list[str]:
        token = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
        return [f"authorization=Basic {token}"]

    def synth_vars(self, instance: Instance) -> list[str]:
        return [f"basic_auth={base64.b64encode(f'admin:{PASSWORD}'.encode()).decode()}"]

    def schemathesis_args(self, instance: Instance) -> list[str]:
        return ["--auth", f"admin:{PASSWORD}"]
