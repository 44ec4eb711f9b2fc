"""Where the demo shop keeps its data: a SQLite file (the default) or MariaDB/MySQL.

The shop's SQL is written for SQLite: ``?`` placeholders, rows read by
column name. So that the same shop (and the same planted bugs) can run on
MariaDB, as many shops under test do, a MySQL connection here is made to
answer like SQLite's: placeholders are translated, rows are dicts, SUMs
come back as integers and DATETIME values as the ISO text SQLite's
``strftime`` default writes. A SQLite target gets a plain
:class:`sqlite3.Connection`, configured as the shop always did.
"""

from __future__ import annotations

import datetime
import decimal
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pymysql
import pymysql.converters
import pymysql.cursors
from pymysql.constants import FIELD_TYPE

from replayqa.errors import ConfigError

MYSQL_SCHEMES = ("mysql", "mariadb", "mysql+pymysql")

#: Raised by either database for a broken UNIQUE or foreign key constraint.
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, pymysql.err.IntegrityError)


def is_mysql(target: str | Path) -> bool:
    """A ``mysql://`` or ``mariadb://`` URL, as ``replayqa --db`` takes them; anything else is a file."""
    scheme, sep, _ = str(target).partition("://")
    return bool(sep) and scheme.lower() in MYSQL_SCHEMES


def sqlite_path(target: str | Path) -> Path:
    """The file of a SQLite target: a plain path, or a ``sqlite:///`` URL as ``--db`` takes it."""
    text = str(target)
    if text.startswith("sqlite:///"):
        return Path(text.removeprefix("sqlite://"))
    if "://" in text:
        raise ConfigError(
            f"the demo shop runs on a SQLite file or MariaDB/MySQL, not {text.split('://')[0]!r}: "
            "give a file path or mysql://user@host:3306/shop_test"
        )
    return Path(text)


def _mysql_text_datetime(text: str) -> str:
    """MySQL's ``2024-05-01 12:00:00.123456`` as SQLite's default wrote it: ``2024-05-01T12:00:00.123Z``."""
    return datetime.datetime.fromisoformat(text).isoformat(timespec="milliseconds") + "Z"


def _mysql_number(text: str) -> int | decimal.Decimal:
    """SUM() of integers is a DECIMAL in MySQL and an integer in SQLite; the shop expects the integer."""
    value = decimal.Decimal(text)
    return int(value) if value == value.to_integral_value() else value


_CONVERSIONS = {
    **pymysql.converters.conversions,
    FIELD_TYPE.DATETIME: _mysql_text_datetime,
    FIELD_TYPE.TIMESTAMP: _mysql_text_datetime,
    FIELD_TYPE.NEWDECIMAL: _mysql_number,
    FIELD_TYPE.DECIMAL: _mysql_number,
}


def _placeholders(sql: str) -> str:
    """SQLite's ``?`` as PyMySQL's ``%s`` (the shop's SQL has no ``?`` or ``%`` inside literals)."""
    return sql.replace("%", "%%").replace("?", "%s")


class MySQLConnection:
    """The few :class:`sqlite3.Connection` methods the shop uses, on a PyMySQL connection."""

    def __init__(self, url: str, timeout: float = 10) -> None:
        from replayqa.state.mysql import ConnectionInfo

        info = ConnectionInfo.from_url(url)
        self.raw = pymysql.connect(
            host=info.host,
            port=info.port,
            user=info.user,
            password=info.password,
            database=info.database,
            unix_socket=info.unix_socket,
            charset="utf8mb4",
            connect_timeout=int(max(timeout, 1)),
            cursorclass=pymysql.cursors.DictCursor,
            conv=_CONVERSIONS,
            # UTC, as SQLite's strftime('now') is; the timestamps are written with a 'Z'
            init_command="SET time_zone = '+00:00'",
        )

    def execute(self, sql: str, params: Sequence[Any] = ()) -> pymysql.cursors.DictCursor:
        cursor = self.raw.cursor()
        cursor.execute(_placeholders(sql), tuple(params))
        return cursor  # type: ignore[return-value]

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(_placeholders(sql), [tuple(r) for r in rows])

    def executescript(self, script: str) -> None:
        """Statements separated by ``;`` (the shop's schema has none inside literals)."""
        for statement in _statements(script):
            self.execute(statement)

    def commit(self) -> None:
        self.raw.commit()

    def rollback(self) -> None:
        self.raw.rollback()

    def close(self) -> None:
        self.raw.close()


def _statements(script: str) -> Iterator[str]:
    return (s.strip() for s in script.split(";") if s.strip())


def connect(target: str | Path, timeout: float = 10) -> Any:
    """A connection to the shop's database, rows readable by column name.

    Typed ``Any``: it is a :class:`sqlite3.Connection` or a
    :class:`MySQLConnection`, used only through the methods both have.
    """
    if is_mysql(target):
        return MySQLConnection(str(target), timeout)
    conn = sqlite3.connect(sqlite_path(target), timeout=timeout)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn
