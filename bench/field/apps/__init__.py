"""The corpus: real third-party apps nobody here wrote, pinned, from several stacks."""

from __future__ import annotations

from bench.field.apps.base import FieldApp
from bench.field.apps.datasette import Datasette
from bench.field.apps.jupyter import JupyterServer
from bench.field.apps.kinto import Kinto
from bench.field.apps.mlflow import MLflow
from bench.field.apps.prefect import Prefect

APPS: dict[str, type[FieldApp]] = {
    app.name: app for app in (Kinto, JupyterServer, Datasette, Prefect, MLflow)
}
