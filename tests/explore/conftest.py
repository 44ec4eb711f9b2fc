from __future__ import annotations

from collections.abc import Iterator

import pytest

from replayqa.client import Client
from tests.support.apps import ChildApp


@pytest.fixture
def orders_app() -> Iterator[ChildApp]:
    """The in-memory order API whose second refund refunds again."""
    app = ChildApp("orders_app.py")
    yield app
    app.stop()


@pytest.fixture
def client(orders_app: ChildApp) -> Iterator[Client]:
    with Client(orders_app.base_url) as http:
        yield http
