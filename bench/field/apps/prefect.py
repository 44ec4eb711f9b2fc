"""Prefect's server: FastAPI on SQLite, an OpenAPI 3.1 spec of 188 operations, no auth by default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from bench.field.accesslog import REQUEST_LINE
from bench.field.apps.base import DatabaseServer, FieldApp, Instance
from bench.field.env import Process, Venv, free_port, wait_http


class Prefect(FieldApp):
    name = "prefect"
    package = "prefect"
    stack = "FastAPI, SQLite"
    # prefect 3.9.1 and the versions its resolver picked on 2026-11-30, pinned so a later release
    # of one of them cannot change the figures
    requirements = (
        "prefect==3.9.1",
        "fastapi==0.150.0",
        "starlette==1.10.0",
        "pydantic==2.14.4",
        "pydantic-core==2.50.5",
        "uvicorn==0.54.0",
        "sqlalchemy==2.1.9",
        "aiosqlite==0.22.1",
        "alembic==1.20.1",
    )
    log_pattern = REQUEST_LINE

    def start(self, venv: Venv, work: Path, postgres: DatabaseServer) -> Instance:
        work.mkdir(parents=True, exist_ok=True)
        database = work / "prefect_qa.db"
        for leftover in work.glob("prefect_qa.db*"):
            leftover.unlink()
        env = {
            "PREFECT_HOME": str(work / "home"),
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{database}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_UI_ENABLED": "false",
            "PREFECT_SERVER_LOGGING_LEVEL": "INFO",  # its access log
            "PREFECT__SERVER_WEBSERVER_ONLY": "1",  # no background services: they write on their own
        }
        port = free_port()
        command = [
            venv.python, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
            "--host", "127.0.0.1", "--port", str(port),
        ]  # fmt: skip
        log = work / "access.log"
        server = Process(command, log, env).start()
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/api/health", server, timeout=180)
        return Instance(base, log, [server], db_url=f"sqlite:///{database}", spec=f"{base}/api/openapi.json")

    def session(self, instance: Instance, proxy: str) -> None:
        with httpx.Client(base_url=f"{proxy}/api", timeout=60) as client:

            def call(method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
                response = client.request(method, path, json=body)
                if expect is not None:
                    assert response.status_code == expect, response.text
                else:
                    response.raise_for_status()
                return (
                    response.json()
                    if response.headers.get("content-type", "").startswith("application/json")
                    else None
                )

            call("GET", "/health")
            flow = call("POST", "/flows/", {"name": "etl-flow", "tags": ["qa"]})
            call("GET", f"/flows/{flow['id']}")
            call("GET", "/flows/name/etl-flow")
            call("PATCH", f"/flows/{flow['id']}", {"tags": ["qa", "v2"]})
            call("POST", "/flows/filter", {"flows": {"name": {"any_": ["etl-flow"]}}, "limit": 10})
            deployment = call(
                "POST", "/deployments/", {"name": "nightly", "flow_id": flow["id"], "parameters": {"x": 1}}
            )
            call("GET", f"/deployments/{deployment['id']}")
            run = call("POST", f"/deployments/{deployment['id']}/create_flow_run", {"parameters": {"x": 2}})
            manual = call(
                "POST",
                "/flow_runs/",
                {"flow_id": flow["id"], "name": "manual-run", "state": {"type": "PENDING"}},
            )
            call("GET", f"/flow_runs/{run['id']}")
            call(
                "POST",
                f"/flow_runs/{manual['id']}/set_state",
                {"state": {"type": "RUNNING", "name": "Running"}},
            )
            call(
                "POST",
                f"/flow_runs/{manual['id']}/set_state",
                {"state": {"type": "COMPLETED", "name": "Completed"}},
            )
            call(
                "POST",
                "/flow_runs/filter",
                {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}, "limit": 5},
            )
            variable = call("POST", "/variables/", {"name": "qa_var", "value": {"a": 1}, "tags": ["x"]})
            call("GET", "/variables/name/qa_var")
            call("PATCH", f"/variables/{variable['id']}", {"value": "updated"})
            call("GET", f"/variables/{variable['id']}")
            call("DELETE", f"/variables/{variable['id']}")
            call("GET", f"/variables/{variable['id']}", expect=404)
            call("POST", "/work_pools/", {"name": "qa-pool", "type": "process"})
            call("GET", "/work_pools/qa-pool")
            call("DELETE", f"/flow_runs/{run['id']}")
            call("DELETE", f"/deployments/{deployment['id']}")
