"""MySQL and MariaDB: snapshot tables beside the app's, restore only what changed.

Chosen with ``mysql://`` or ``mariadb://`` URLs. How it works, and why:

* On connect, row triggers on every app table append the table's name to
  ``replayqa_writes`` whenever the app (or anyone) writes to it. MySQL has
  no statement triggers, and foreign-key cascades and TRUNCATE fire no
  triggers at all, so a table is also counted as written when a table whose
  deletes or updates cascade into it was written, or when its InnoDB table
  id changed (TRUNCATE makes a new one).
* A checkpoint holds ``LOCK TABLES ... READ`` on the app's tables (waiting
  for the app's open write transactions to finish, so it sees a consistent
  state) while it notes a mark on the write log, copies each table into a
  ``replayqa_snap_N`` table and reads every ``AUTO_INCREMENT`` value. A
  table not written since an earlier checkpoint shares that one's copy.
* A rollback holds ``LOCK TABLES ... WRITE`` and, with foreign-key checks
  off, deletes and re-inserts only the tables written since the mark, then
  puts each ``AUTO_INCREMENT`` back with ALTER TABLE. The app's connections
  stay open; its statements wait for the restore.

Measured against a row-level undo log (``bench/restore_mysql.py``): the undo
log restores a 100k-row table about 100 times faster when a session changes
few rows, but InnoDB fires no trigger for cascaded foreign-key actions or
TRUNCATE, so an undo log fed by triggers misses those rows; snapshots do not.
Snapshots were chosen for exactness; see docs/state.md.

Everything replayqa makes is named ``replayqa_*`` in the app's own database
(no second database, so no rights beyond the app's own are needed); disconnect
drops it, and the next connect drops a crashed run's leftovers.
"""

from __future__ import annotations

import datetime
import decimal
import json
import re
import time
import zlib
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql
import pymysql.cursors

from replayqa.errors import ConfigError, RestoreBlockedError, StateError
from replayqa.model import DatabaseCapture
from replayqa.state.base import (
    MIGRATION_TABLES,
    TEST_WORDS,
    ColumnRedaction,
    check_capture_backend,
    require_test_database,
)

PREFIX = "replayqa_"
WRITES = "replayqa_writes"
SCHEMES = ("mysql", "mariadb", "mysql+pymysql")
_LOCK_WAIT = {1205, 3572}  # lock wait timeout (row or metadata), NOWAIT
_BINARY_TYPE = re.compile(r"^(tiny|medium|long)?blob|^(var)?binary|^bit\b|^geometry|^point|^polygon", re.I)
_TEXT_TYPE = re.compile(r"^(tiny|medium|long)?text\b|^(var)?char\((\d+)\)", re.I)


def ident(name: str) -> str:
    """A MySQL identifier, quoted: the one place identifiers enter SQL text."""
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]  # insertable columns (no generated ones), in order
    types: tuple[str, ...] = ()  # their COLUMN_TYPE, as information_schema spells it
    primary_key: tuple[str, ...] = ()

    @property
    def ident(self) -> str:
        return ident(self.name)

    @property
    def column_list(self) -> str:
        return ", ".join(ident(c) for c in self.columns)


@dataclass
class _Checkpoint:
    mark: int
    snapshots: dict[str, str]  # table -> snapshot table
    auto_increments: dict[str, int | None]
    identities: dict[str, int] = field(default_factory=dict)  # table -> InnoDB table id


@dataclass(frozen=True)
class ConnectionInfo:
    host: str
    port: int
    user: str
    password: str
    database: str
    unix_socket: str | None = None

    @classmethod
    def from_url(cls, url: str) -> ConnectionInfo:
        parts = urlsplit(url)
        if parts.scheme.lower() not in SCHEMES:
            raise ConfigError(f"not a MySQL URL: {url!r}; use mysql://user:password@host:3306/dbname")
        database = unquote(parts.path.lstrip("/"))
        if not database:
            raise ConfigError(f"no database in MySQL URL {url!r}: use mysql://user:password@host:3306/dbname")
        try:
            port = parts.port or 3306
        except ValueError as exc:
            raise ConfigError(f"bad port in MySQL URL {url!r}: {exc}") from None
        socket = parse_qs(parts.query).get("unix_socket", [None])[0]
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=port,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            database=database,
            unix_socket=socket,
        )


class MySQLBackend:
    def __init__(
        self,
        url: str,
        *,
        allow_restore: bool = False,
        exclude_tables: tuple[str, ...] = (),
        lock_timeout: float = 5.0,
        track_changes: bool = True,
        test_words: Sequence[str] = TEST_WORDS,
    ) -> None:
        self.url = url
        self.info = ConnectionInfo.from_url(url)
        self.allow_restore = allow_restore
        self.test_words = tuple(test_words)
        self.exclude_tables = frozenset(exclude_tables) | MIGRATION_TABLES
        self.lock_timeout = lock_timeout
        self.track_changes = track_changes
        self.tables: list[Table] = []
        #: Tables the last rollback rewrote (the others were clean).
        self.last_restored: list[str] = []
        self._conn: pymysql.connections.Connection[Any] | None = None
        self._cascades: dict[str, set[str]] = {}  # table -> tables its deletes/updates cascade into
        self._checkpoints: dict[str, _Checkpoint] = {}
        self._snapshot_refs: dict[str, int] = {}
        self._snapshot_counter = 0

    # -- protocol ------------------------------------------------------------

    def connect(self) -> None:
        """Refuses a database not named as a test one before connecting, when it would install triggers."""
        if self.track_changes:
            self._require_test_database("install change tracking in")
        info = self.info
        try:
            conn = pymysql.connect(
                host=info.host,
                port=info.port,
                user=info.user,
                password=info.password,
                database=info.database,
                unix_socket=info.unix_socket,
                autocommit=True,
                charset="utf8mb4",
                cursorclass=pymysql.cursors.DictCursor,
                connect_timeout=10,
            )
        except pymysql.err.MySQLError as exc:
            raise ConfigError(f"cannot connect to MySQL ({_reason(exc)}): check --db") from exc
        self._conn = conn
        try:
            wait = max(1, round(self.lock_timeout))
            self._execute(f"SET SESSION lock_wait_timeout = {wait}, innodb_lock_wait_timeout = {wait}")
            # replayqa only copies rows back: an AUTO_INCREMENT key of 0 (an app's default row)
            # must stay 0, where the default mode would give it the next value.
            self._execute(
                "SET SESSION sql_mode = "
                "TRIM(BOTH ',' FROM CONCAT(@@SESSION.sql_mode, ',NO_AUTO_VALUE_ON_ZERO'))"
            )
            locked = self._one("SELECT GET_LOCK(%s, 0) AS ok", (f"replayqa:{info.database}",))
            if not locked["ok"]:
                raise StateError(
                    f"another replayqa is checkpointing database {info.database!r}; "
                    "wait for it to finish or use another database"
                )
            self.tables = self._discover_tables()
            if self.track_changes:
                self._drop_artifacts()
                self._install_tracking()
        except BaseException:
            self.disconnect()
            raise

    def disconnect(self) -> None:
        if self._conn is None:
            return
        try:
            if self.track_changes and self.is_connected():
                self._execute("UNLOCK TABLES")
                self._drop_artifacts()
        except pymysql.err.MySQLError:
            pass  # the next connect drops the leftovers
        finally:
            conn, self._conn = self._conn, None
            self._checkpoints.clear()
            self._snapshot_refs.clear()
            if conn.open:
                conn.close()

    def is_connected(self) -> bool:
        return self._conn is not None and self._conn.open

    def checkpoint(self, name: str) -> None:
        self._require()
        self.release(name)
        with self._errors(f"take checkpoint {name!r} of"):
            for _ in range(5):
                taken = self._try_checkpoint()
                if taken is not None:
                    self._checkpoints[name] = taken
                    return
        raise RestoreBlockedError(
            f"could not take checkpoint {name!r}: the app kept writing while it was taken; try again"
        )

    def rollback(self, name: str) -> None:
        self.check_restore_allowed()
        self._require()
        checkpoint = self._checkpoints.get(name)
        if checkpoint is None:
            raise StateError(f"no checkpoint named {name!r} to restore; taken: {sorted(self._checkpoints)}")
        with self._errors(f"restore checkpoint {name!r} into"), self._restoring():
            snapshots = sorted(set(checkpoint.snapshots.values()))
            self._lock_tables(write=[t.name for t in self.tables] + [WRITES], read=snapshots)
            dirty = self._dirty_since(checkpoint)
            for table in dirty:
                self._execute(f"DELETE FROM {table.ident}")
                self._execute(
                    f"INSERT INTO {table.ident} ({table.column_list}) "
                    f"SELECT {table.column_list} FROM {ident(checkpoint.snapshots[table.name])}"
                )
            self._execute("COMMIT")
            self._set_auto_increments(checkpoint.auto_increments)
            if dirty:
                self._execute(
                    f"INSERT INTO {ident(WRITES)} (tbl) VALUES " + ", ".join(["(%s)"] * len(dirty)),
                    tuple(t.name for t in dirty),
                )
            checkpoint.mark = self._mark()
            checkpoint.identities = self._identities()
            self._execute("COMMIT")
        self.last_restored = sorted(t.name for t in dirty)

    def release(self, name: str) -> None:
        checkpoint = self._checkpoints.pop(name, None)
        if checkpoint is None or not self.is_connected():
            return
        for snapshot in set(checkpoint.snapshots.values()):
            self._snapshot_refs[snapshot] -= 1
            if self._snapshot_refs[snapshot] == 0:
                del self._snapshot_refs[snapshot]
                self._execute(f"DROP TABLE IF EXISTS {ident(snapshot)}")

    def reset(self) -> None:
        self.check_restore_allowed()
        tables = [t for t in self.tables if t.name not in self.exclude_tables]
        with self._errors("reset"):
            self._execute("SET FOREIGN_KEY_CHECKS = 0")
            try:
                for table in tables:  # TRUNCATE empties the table and restarts its AUTO_INCREMENT
                    self._execute(f"TRUNCATE TABLE {table.ident}")
            finally:
                self._execute("SET FOREIGN_KEY_CHECKS = 1")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._errors("query"):
            return self._rows(sql, params)

    def _require_test_database(self, what: str) -> None:
        require_test_database(self.info.database, self.allow_restore, what, self.test_words)

    def check_restore_allowed(self) -> None:
        require_test_database(self.info.database, self.allow_restore, "restore or reset", self.test_words)

    def capture(self, redact: ColumnRedaction | None = None) -> DatabaseCapture:
        """Every table's rows as text, its CREATE TABLE and AUTO_INCREMENT, from one consistent snapshot."""
        tables, counts = [], {}
        with self._errors("capture"):
            self._execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            try:
                current = self._discover_tables()  # as they are now: a session may have made some
                for table in current:
                    rows = self._plain_rows(f"SELECT {table.column_list} FROM {table.ident}")
                    encoded = [[_text(v) for v in row] for row in rows]
                    if redact is not None:
                        _redact_rows(encoded, table, redact)
                    create = self._one(f"SHOW CREATE TABLE {table.ident}")["Create Table"]
                    tables.append(
                        {
                            "name": table.name,
                            "key": list(table.primary_key),
                            "columns": list(table.columns),
                            "types": list(table.types),
                            "create": create,
                            "rows": encoded,
                        }
                    )
                    counts[table.name] = len(rows)
                auto = self._auto_increments()
            finally:
                self._execute("COMMIT")
        document = {"format": 1, "tables": tables, "auto_increment": auto}
        payload = zlib.compress(json.dumps(document).encode("utf-8"), 6)
        return DatabaseCapture("mysql", payload, counts, time.time())

    def restore_capture(
        self, capture: DatabaseCapture, *, drop: Collection[str] = (), create: Collection[str] = ()
    ) -> None:
        """Load a capture into this database (same schema).

        ``drop``: tables the recorded session created; ``create``: tables it
        dropped, made again from the capture's CREATE TABLE. Any other
        difference of schema is an error: migrate the database first.
        """
        check_capture_backend(capture, "mysql")
        self.check_restore_allowed()
        document = json.loads(zlib.decompress(capture.data))
        with self._errors("restore a capture into"), self._restoring():
            current = {t.name for t in self._discover_tables()}
            for name in sorted(current & set(drop)):
                self._execute(f"DROP TABLE IF EXISTS {ident(name)}")
            for entry in document["tables"]:
                if (entry["name"] not in current or entry["name"] in drop) and entry["name"] in create:
                    self._execute(entry["create"])
            plan = self._restore_plan(document, self._discover_tables())
            self._lock_tables(write=[t.name for t, _ in plan] + ([WRITES] if self.track_changes else []))
            for table, entry in plan:
                self._execute(f"DELETE FROM {table.ident}")
                self._insert_rows(entry)
            self._execute("COMMIT")
            self._set_auto_increments(document["auto_increment"])
            if self.track_changes and plan:
                self._execute(
                    f"INSERT INTO {ident(WRITES)} (tbl) VALUES " + ", ".join(["(%s)"] * len(plan)),
                    tuple(t.name for t, _ in plan),
                )
            self._execute("COMMIT")

    def row_counts(self) -> dict[str, int]:
        """Rows per table now, labelled as captures label them: one step's write effects are the change."""
        try:
            tables = self._discover_tables()
            if not tables:
                return {}
            query = " UNION ALL ".join(f"SELECT %s AS label, COUNT(*) AS n FROM {t.ident}" for t in tables)
            rows = self._rows(query, tuple(t.name for t in tables))
            return {row["label"]: int(row["n"]) for row in rows}
        except pymysql.err.MySQLError as exc:  # a dropped connection, a lock timeout: the caller decides
            raise StateError(f"cannot count the rows of the tables: {_reason(exc)}") from exc

    # -- setup ---------------------------------------------------------------

    def _discover_tables(self) -> list[Table]:
        rows = self._rows(
            """
            SELECT c.TABLE_NAME AS tbl, c.COLUMN_NAME AS col, c.COLUMN_TYPE AS type, c.EXTRA AS extra,
                   k.ORDINAL_POSITION AS key_position
            FROM information_schema.COLUMNS c
            JOIN information_schema.TABLES t
              ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
            LEFT JOIN information_schema.KEY_COLUMN_USAGE k
              ON k.TABLE_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME
             AND k.COLUMN_NAME = c.COLUMN_NAME AND k.CONSTRAINT_NAME = 'PRIMARY'
            WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'
              AND c.TABLE_NAME NOT LIKE 'replayqa\\_%'
            ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION
            """
        )
        columns: dict[str, list[tuple[str, str]]] = {}
        keys: dict[str, list[tuple[int, str]]] = {}
        for row in rows:
            extra = str(row["extra"] or "").upper()
            if "VIRTUAL GENERATED" in extra or "STORED GENERATED" in extra or "PERSISTENT" in extra:
                continue
            columns.setdefault(row["tbl"], []).append((row["col"], row["type"]))
            if row["key_position"] is not None:
                keys.setdefault(row["tbl"], []).append((int(row["key_position"]), row["col"]))
        self._cascades = self._read_cascades()
        return [
            Table(
                name,
                tuple(c for c, _ in cols),
                tuple(t for _, t in cols),
                tuple(c for _, c in sorted(keys.get(name, []))),
            )
            for name, cols in columns.items()
            if name not in self.exclude_tables
        ]

    def _read_cascades(self) -> dict[str, set[str]]:
        rows = self._rows(
            """
            SELECT REFERENCED_TABLE_NAME AS parent, TABLE_NAME AS child
            FROM information_schema.REFERENTIAL_CONSTRAINTS
            WHERE CONSTRAINT_SCHEMA = DATABASE() AND UNIQUE_CONSTRAINT_SCHEMA = DATABASE()
              AND (DELETE_RULE IN ('CASCADE', 'SET NULL', 'SET DEFAULT')
                   OR UPDATE_RULE IN ('CASCADE', 'SET NULL', 'SET DEFAULT'))
            """
        )
        cascades: dict[str, set[str]] = {}
        for row in rows:
            cascades.setdefault(row["parent"], set()).add(row["child"])
        return cascades

    def _install_tracking(self) -> None:
        self._execute(
            f"CREATE TABLE {ident(WRITES)} (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
            "tbl VARCHAR(64) NOT NULL) ENGINE=InnoDB"
        )
        for number, table in enumerate(self.tables):
            for event in ("INSERT", "UPDATE", "DELETE"):
                # a restore sets @replayqa_restoring on its own session, so only others' writes count
                self._execute(
                    f"CREATE TRIGGER {ident(f'{PREFIX}{event.lower()}_{number}')} AFTER {event} "
                    f"ON {table.ident} FOR EACH ROW "
                    f"IF @replayqa_restoring IS NULL THEN "
                    f"INSERT INTO {ident(WRITES)} (tbl) VALUES ({_literal(table.name)}); END IF"
                )

    def _drop_artifacts(self) -> None:
        for row in self._rows(
            "SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS "
            "WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME LIKE 'replayqa\\_%'"
        ):
            self._execute(f"DROP TRIGGER IF EXISTS {ident(row['name'])}")
        names = [
            row["name"]
            for row in self._rows(
                "SELECT TABLE_NAME AS name FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'replayqa\\_%'"
            )
        ]
        if names:
            self._execute("DROP TABLE IF EXISTS " + ", ".join(ident(n) for n in names))

    # -- checkpoint and restore ----------------------------------------------

    def _try_checkpoint(self) -> _Checkpoint | None:
        """One attempt: None if the app wrote between planning the copies and locking."""
        planned_mark = self._mark()
        last_writes = self._last_writes()
        identities = self._identities()
        plan = {t.name: self._current_snapshot(t, last_writes, identities) for t in self.tables}
        fresh = {name: self._new_snapshot_table(name) for name, shared in plan.items() if shared is None}
        try:
            self._lock_tables(read=[t.name for t in self.tables] + [WRITES], write=list(fresh.values()))
            try:
                if self._mark() != planned_mark or self._identities() != identities:
                    raise _Retry
                for table in self.tables:
                    if table.name in fresh:
                        self._execute(
                            f"INSERT INTO {ident(fresh[table.name])} ({table.column_list}) "
                            f"SELECT {table.column_list} FROM {table.ident}"
                        )
                auto_increments = self._auto_increments()
            finally:
                self._execute("UNLOCK TABLES")
        except _Retry:
            self._drop_tables(fresh.values())
            return None
        except BaseException:
            self._drop_tables(fresh.values())
            raise
        snapshots = {name: shared or fresh[name] for name, shared in plan.items()}
        for snapshot in snapshots.values():
            self._snapshot_refs[snapshot] = self._snapshot_refs.get(snapshot, 0) + 1
        return _Checkpoint(planned_mark, snapshots, auto_increments, identities)

    def _new_snapshot_table(self, table: str) -> str:
        self._snapshot_counter += 1
        name = f"{PREFIX}snap_{self._snapshot_counter}"
        source = next(t for t in self.tables if t.name == table)
        self._execute(
            f"CREATE TABLE {ident(name)} ENGINE=InnoDB "
            f"SELECT {source.column_list} FROM {source.ident} LIMIT 0"
        )
        return name

    def _drop_tables(self, names: Collection[str]) -> None:
        if names:
            self._execute("DROP TABLE IF EXISTS " + ", ".join(ident(n) for n in names))

    def _current_snapshot(
        self, table: Table, last_writes: dict[str, int], identities: dict[str, int]
    ) -> str | None:
        """An earlier checkpoint's copy of ``table``, if the table has not changed since."""
        last = max((last_writes.get(t, 0) for t in self._written_with(table.name)), default=0)
        candidates = [
            c
            for c in self._checkpoints.values()
            if c.mark >= last and c.identities.get(table.name) == identities.get(table.name)
        ]
        if not candidates:
            return None
        return max(candidates, key=lambda c: c.mark).snapshots[table.name]

    def _written_with(self, name: str) -> set[str]:
        """The table and every table whose deletes or updates cascade into it, however far."""
        parents = {p for p, children in self._cascades.items() if name in children}
        found = {name}
        while parents - found:
            found |= parents
            parents = {p for p, children in self._cascades.items() if children & found}
        return found

    def _dirty_since(self, checkpoint: _Checkpoint) -> list[Table]:
        written = {
            row["tbl"]
            for row in self._rows(
                f"SELECT DISTINCT tbl FROM {ident(WRITES)} WHERE id > %s", (checkpoint.mark,)
            )
        }
        identities = self._identities()
        written |= {t for t, oid in checkpoint.identities.items() if identities.get(t) != oid}
        return [t for t in self.tables if self._written_with(t.name) & written]

    def _mark(self) -> int:
        return int(self._one(f"SELECT COALESCE(MAX(id), 0) AS m FROM {ident(WRITES)}")["m"])

    def _last_writes(self) -> dict[str, int]:
        rows = self._rows(f"SELECT tbl, MAX(id) AS last FROM {ident(WRITES)} GROUP BY tbl")
        return {r["tbl"]: int(r["last"]) for r in rows}

    def _identities(self) -> dict[str, int]:
        """InnoDB's id of each table: TRUNCATE makes a new one. Needs the PROCESS privilege; without
        it, TRUNCATE goes unnoticed."""
        try:
            rows = self._rows(
                "SELECT NAME AS name, TABLE_ID AS id FROM information_schema.INNODB_SYS_TABLES "
                "WHERE NAME LIKE %s",
                (self.info.database.replace("_", "\\_").replace("%", "\\%") + "/%",),
            )
        except pymysql.err.MySQLError:  # MySQL 8 names it INNODB_TABLES; no PROCESS privilege
            return {}
        names = {t.name for t in self.tables}
        ids = {str(r["name"]).split("/", 1)[1]: int(r["id"]) for r in rows}
        return {name: table_id for name, table_id in ids.items() if name in names}

    def _auto_increments(self) -> dict[str, int | None]:
        rows = self._rows(
            "SELECT TABLE_NAME AS name, AUTO_INCREMENT AS value FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT LIKE 'replayqa\\_%'"
        )
        return {r["name"]: (int(r["value"]) if r["value"] is not None else None) for r in rows}

    def _set_auto_increments(self, wanted: dict[str, int | None]) -> None:
        """ALTER TABLE only where the counter moved: it is DDL, and commits."""
        now = self._auto_increments()
        for name, value in sorted(wanted.items()):
            if value is not None and name in now and now[name] != value:
                self._execute(f"ALTER TABLE {ident(name)} AUTO_INCREMENT = {int(value)}")

    def _restore_plan(self, document: dict[str, Any], current: list[Table]) -> list[tuple[Table, Any]]:
        by_name = {t.name: t for t in current}
        plan = []
        for entry in document["tables"]:
            table = by_name.get(entry["name"])
            if table is None:
                raise StateError(
                    f"cannot restore: the database has no table {entry['name']}, "
                    "which the capture holds; migrate it to the recorded schema first"
                )
            missing = [c for c in entry["columns"] if c not in table.columns]
            if missing:
                raise StateError(
                    f"cannot restore: table {table.name} has no column {missing[0]!r}, "
                    "which the capture holds; migrate it to the recorded schema first"
                )
            plan.append((table, entry))
        return plan

    def _insert_rows(self, entry: dict[str, Any]) -> None:
        if not entry["rows"]:
            return
        binary = [bool(_BINARY_TYPE.match(t)) for t in entry.get("types") or [""] * len(entry["columns"])]
        values = "(" + ", ".join("UNHEX(%s)" if b else "%s" for b in binary) + ")"
        columns = ", ".join(ident(c) for c in entry["columns"])
        for start in range(0, len(entry["rows"]), 500):
            batch = entry["rows"][start : start + 500]
            self._execute(
                f"INSERT INTO {ident(entry['name'])} ({columns}) VALUES " + ", ".join([values] * len(batch)),
                tuple(v for row in batch for v in row),
            )

    # -- plumbing ------------------------------------------------------------

    def _lock_tables(self, *, read: Collection[str] = (), write: Collection[str] = ()) -> None:
        clauses = [f"{ident(n)} READ" for n in read] + [f"{ident(n)} WRITE" for n in write]
        if clauses:
            self._execute("LOCK TABLES " + ", ".join(clauses))

    @contextmanager
    def _restoring(self) -> Iterator[None]:
        """One transaction with foreign-key checks and replayqa's own write tracking off."""
        self._execute("SET @replayqa_restoring = 1, FOREIGN_KEY_CHECKS = 0, autocommit = 0")
        try:
            yield
        except BaseException:
            self._rollback_quietly()
            raise
        finally:
            if self.is_connected():
                self._execute("UNLOCK TABLES")
                self._execute("SET @replayqa_restoring = NULL, FOREIGN_KEY_CHECKS = 1, autocommit = 1")

    def _rollback_quietly(self) -> None:
        with suppress(pymysql.err.MySQLError):
            self._execute("ROLLBACK")

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Driver errors become one line: a lock wait names the sessions holding transactions open."""
        try:
            yield
        except pymysql.err.MySQLError as exc:
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
            if code in _LOCK_WAIT:
                blockers = "; ".join(self.blockers()) or "another session"
                raise RestoreBlockedError(
                    f"could not {what} the database within {self.lock_timeout:g}s: "
                    f"blocked by {blockers}; commit or close that transaction"
                ) from exc
            raise StateError(
                f"could not {what} MySQL database {self.info.database!r}: {_reason(exc)}"
            ) from exc

    def blockers(self) -> list[str]:
        """Open transactions of other sessions: what a blocked restore waits for."""
        try:
            rows = self._rows(
                """
                SELECT p.ID AS id, p.COMMAND AS command, p.TIME AS seconds,
                       LEFT(COALESCE(t.trx_query, p.INFO, ''), 60) AS query
                FROM information_schema.INNODB_TRX t
                JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
                WHERE p.ID <> CONNECTION_ID()
                """
            )
        except pymysql.err.MySQLError:
            return []
        return [
            f"connection {r['id']} ({'idle in transaction' if r['command'] == 'Sleep' else r['command']} "
            f"for {r['seconds']}s{': ' + r['query'] if r['query'] else ''})"
            for r in rows
        ]

    def _require(self) -> pymysql.connections.Connection[Any]:
        if self._conn is None or not self._conn.open:
            raise StateError("the MySQL state backend is not connected")
        return self._conn

    def _execute(self, sql: str, params: tuple[Any, ...] | None = None) -> None:
        with self._require().cursor() as cursor:
            cursor.execute(sql, params)

    def _rows(self, sql: str, params: tuple[Any, ...] | None = None) -> list[dict[str, Any]]:
        with self._require().cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def _plain_rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self._require().cursor(pymysql.cursors.Cursor) as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())

    def _one(self, sql: str, params: tuple[Any, ...] | None = None) -> dict[str, Any]:
        rows = self._rows(sql, params)
        if not rows:
            raise StateError(f"MySQL returned no row for {sql.split()[0]}")
        return rows[0]


class _Retry(Exception):
    pass


def _reason(exc: Exception) -> str:
    if len(exc.args) >= 2:
        return str(exc.args[1])
    return str(exc) or type(exc).__name__


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _text(value: Any) -> str | None:
    """A value as text, in MySQL's own formats: what a capture stores and replay compares."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.timedelta):  # TIME columns
        seconds = int(value.total_seconds())
        sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
        micro = f".{value.microseconds:06d}" if value.microseconds else ""
        return f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}{micro}"
    if isinstance(value, decimal.Decimal | datetime.date | int | float):
        return str(value)
    if isinstance(value, set):  # SET columns
        return ",".join(sorted(value))
    return str(value)


def _placeholder_column(column_type: str) -> tuple[bool, int | None] | None:
    """Whether a placeholder can stand in a column of this type: (is JSON, length limit), or None."""
    if column_type.lower() == "json":
        return True, None
    match = _TEXT_TYPE.match(column_type)
    if match is None:
        return None
    return False, int(match.group(3)) if match.group(3) else None


def _redact_rows(rows: list[list[str | None]], table: Table, redact: ColumnRedaction) -> None:
    targets = {
        i: fit
        for i, (column, column_type) in enumerate(zip(table.columns, table.types, strict=True))
        if redact.wants(column) and (fit := _placeholder_column(column_type)) is not None
    }
    for row in rows:
        for index, (json_column, length) in targets.items():
            value = row[index]
            if value is not None:
                row[index] = redact.replace_in(value, table.columns[index], json_column, length)


def capture_rows(capture: DatabaseCapture) -> dict[str, dict[str, dict[str, Any]]]:
    """A capture as rows: table -> primary key (as text) -> column -> value (as text)."""
    document = json.loads(zlib.decompress(capture.data))
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in document["tables"]:
        key_columns = entry.get("key") or entry["columns"]
        rows: dict[str, dict[str, Any]] = {}
        for values in entry["rows"]:
            row = dict(zip(entry["columns"], values, strict=True))
            rows["|".join(str(row[c]) for c in key_columns)] = row
        result[entry["name"]] = rows
    return result
