"""MLflow tracking server: Flask under uvicorn, on MariaDB through SQLAlchemy, a REST API with no spec.

The one app of the corpus on MySQL/MariaDB: its ids are 32-hex run ids and
AUTO_INCREMENT experiment ids sent as strings, its times are epoch
milliseconds in BIGINT columns, and every write goes through SQLAlchemy's
own connection pool, in a process replayqa never touches.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pymysql

from bench.field.accesslog import REQUEST_LINE
from bench.field.apps.base import DatabaseServer, FieldApp, Instance
from bench.field.env import Process, Venv, free_port, wait_http

# The client's own times (a training script sends them), fixed so the session is the same every run.
START_MS = 1_767_225_600_000
_databases = itertools.count(1)


class MLflow(FieldApp):
    name = "mlflow"
    package = "mlflow"
    stack = "Flask (uvicorn), MariaDB"
    requirements = ("mlflow==3.17.2", "PyMySQL==1.1.2")
    log_pattern = REQUEST_LINE
    has_spec = False  # the REST API is documented in prose only; no OpenAPI document ships
    database = "mariadb"

    def start(self, venv: Venv, work: Path, server: DatabaseServer) -> Instance:
        work.mkdir(parents=True, exist_ok=True)
        database = f"mlflow_{next(_databases)}_qa"
        admin = urlsplit(server.dsn("mysql"))
        with (
            pymysql.connect(
                host=admin.hostname,
                port=admin.port or 3306,
                user=admin.username,
                password=admin.password or "",
            ) as connection,
            connection.cursor() as cursor,
        ):
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
            # utf8mb4, as Debian's server config makes the default (the suite's server runs --no-defaults)
            cursor.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
        url = server.dsn(database)
        port = free_port()
        command = [
            venv.bin("mlflow"),
            "server",
            "--backend-store-uri",
            url.replace("mysql://", "mysql+pymysql://", 1),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        log = work / "access.log"
        # Artifacts go to ./mlartifacts, MLflow's default, in the instance's own folder.
        process = Process(command, log, cwd=work).start()
        base = f"http://127.0.0.1:{port}"
        # It creates its ~60 tables (alembic) and starts its workers and job runner first: about 40 s.
        wait_http(f"{base}/health", process, timeout=300)
        return Instance(base, log, [process], db_url=url)

    def session(self, instance: Instance, proxy: str) -> None:
        """A training script's calls, then a tester's look at the results and a model registered from them."""
        with httpx.Client(base_url=f"{proxy}/api/2.0/mlflow", timeout=60) as client:

            def ok(response: httpx.Response) -> httpx.Response:
                response.raise_for_status()
                return response

            body: dict[str, Any] = {"name": "shop-ranking", "tags": [{"key": "team", "value": "search"}]}
            experiment = ok(client.post("/experiments/create", json=body)).json()["experiment_id"]
            ok(client.get("/experiments/get", params={"experiment_id": experiment}))
            runs = []
            for run_name, depth in (("baseline", "4"), ("deeper", "8")):
                body = {"experiment_id": experiment, "run_name": run_name, "start_time": START_MS}
                run = ok(client.post("/runs/create", json=body)).json()["run"]["info"]["run_id"]
                runs.append(run)
                ok(client.post("/runs/log-parameter", json={"run_id": run, "key": "depth", "value": depth}))
                for step, loss in enumerate((0.9, 0.6, 0.45) if depth == "4" else (0.8, 0.7)):
                    metric = {"key": "loss", "value": loss, "timestamp": START_MS + step * 1000, "step": step}
                    ok(client.post("/runs/log-metric", json={"run_id": run, **metric}))
            batch = {
                "run_id": runs[0],
                "metrics": [{"key": "auc", "value": 0.81, "timestamp": START_MS, "step": 0}],
                "params": [{"key": "learning_rate", "value": "0.1"}],
                "tags": [{"key": "stage", "value": "tuning"}],
            }
            ok(client.post("/runs/log-batch", json=batch))
            ok(
                client.post(
                    "/runs/update",
                    json={"run_id": runs[0], "status": "FINISHED", "end_time": START_MS + 60_000},
                )
            )
            ok(client.get("/metrics/get-history", params={"run_id": runs[0], "metric_key": "loss"}))
            ok(
                client.post(
                    "/runs/search", json={"experiment_ids": [experiment], "order_by": ["metrics.loss ASC"]}
                )
            )
            ok(client.post("/runs/delete", json={"run_id": runs[1]}))
            deleted = ok(client.get("/runs/get", params={"run_id": runs[1]})).json()["run"]["info"]
            assert deleted["lifecycle_stage"] == "deleted", deleted
            ok(client.post("/registered-models/create", json={"name": "shop-ranker"}))
            body = {"name": "shop-ranker", "source": f"runs:/{runs[0]}/model", "run_id": runs[0]}
            ok(client.post("/model-versions/create", json=body))
            ok(client.get("/runs/get", params={"run_id": runs[0]}))
            ok(client.get("/registered-models/get", params={"name": "shop-ranker"}))
            ok(
                client.post(
                    "/experiments/update", json={"experiment_id": experiment, "new_name": "shop-ranking-v2"}
                )
            )
            ok(client.get("/experiments/search", params={"max_results": 10}))
            missing = client.get("/experiments/get", params={"experiment_id": "999999"})
            assert missing.status_code == 404, missing.text
