"""Shared fixtures: real PostgreSQL and MariaDB servers, fresh databases, the demo shop."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import psycopg
import pytest

from replayqa.demo.server import DemoServer
from tests.support.apps import AppConnection, ChildApp
from tests.support.mariadb import MariaDBServer, start_mariadb
from tests.support.postgres import PostgresServer, start_postgres
from tests.support.redis_server import RedisServer, start_redis

_names = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """Started from the machine's binaries; a missing server fails the run, it never skips."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_pg_database(postgres: PostgresServer) -> Callable[..., str]:
    """A new, empty database; returns its URL. The name says 'test' unless told otherwise."""

    def make(prefix: str = "shop_test") -> str:
        name = f"{prefix}_{next(_names)}"
        with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return postgres.dsn(name)

    return make


@pytest.fixture
def pg_url(make_pg_database: Callable[..., str]) -> str:
    return make_pg_database()


@pytest.fixture
def app_connections() -> Iterator[Callable[[str, str], AppConnection]]:
    opened: list[AppConnection] = []

    def open_connection(kind: str, target: str) -> AppConnection:
        connection = AppConnection(kind, target)
        opened.append(connection)
        return connection

    yield open_connection
    for connection in opened:
        connection.close()


@pytest.fixture
def demo_shop(tmp_path) -> Iterator[DemoServer]:
    with DemoServer(tmp_path) as server:
        yield server


@pytest.fixture
def notes_app(pg_url):
    """A notes API on PostgreSQL that holds one connection for its whole life."""
    app = ChildApp("notes_app.py", pg_url)
    yield app, pg_url
    app.stop()


@pytest.fixture
def content_app():
    """An upstream serving compressed, binary, streamed and WebSocket content."""
    app = ChildApp("content_app.py")
    yield app
    app.stop()


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDBServer]:
    """Started from Debian's mariadb-server; a missing server fails the run, it never skips."""
    server = start_mariadb()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_mysql_database(mariadb: MariaDBServer) -> Callable[..., str]:
    """A new, empty MariaDB database; returns its mysql:// URL."""

    def make(prefix: str = "shop_test") -> str:
        name = f"{prefix}_{next(_names)}"
        with mariadb.admin() as admin, admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}`")
        return mariadb.dsn(name)

    return make


@pytest.fixture
def mysql_url(make_mysql_database: Callable[..., str]) -> str:
    return make_mysql_database()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """Started from Debian's redis-server; a missing server fails the run, it never skips."""
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()
