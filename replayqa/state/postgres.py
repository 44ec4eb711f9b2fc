"""PostgreSQL: snapshot tables into a side schema, restore only what changed.

How it works, and why:

* On connect, a statement-level trigger on every app table appends the
  table's oid to ``replayqa_state.writes`` whenever the app (or anyone)
  writes to it. The trigger function is SECURITY DEFINER, so the app's role
  needs no rights on replayqa's schema. ``pg_stat_user_tables`` is not used:
  it lags by up to ten seconds.
* A checkpoint locks the tables in SHARE mode (waiting for in-flight app
  writes to commit), notes a mark on the write clock, and copies each table
  into ``replayqa_snap`` -- unless an earlier checkpoint's copy is still
  current, in which case it is shared.
* A rollback locks the tables in EXCLUSIVE mode (readers go on), asks the
  write log which tables changed since the mark, and in one transaction
  deletes and re-inserts only those, with foreign-key triggers off
  (``session_replication_role = replica``), identity values kept with
  ``OVERRIDING SYSTEM VALUE``, then puts every sequence back with setval.
  The app keeps its connections; readers see the old rows until commit.
* Everything lives in two schemas that disconnect drops; a crashed run's
  leftovers are dropped by the next connect.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import time
import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row, tuple_row

from replayqa.errors import ConfigError, RestoreBlockedError, StateError
from replayqa.model import DatabaseCapture
from replayqa.state.base import (
    MIGRATION_TABLES,
    TEST_WORDS,
    ColumnRedaction,
    check_capture_backend,
    require_test_database,
)

STATE_SCHEMA = "replayqa_state"
SNAP_SCHEMA = "replayqa_snap"
_ADVISORY_KEY = 0x7265706C6179  # "replay": one replayqa per database at a time

_USER_SCHEMAS = """
    n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    AND n.nspname NOT LIKE 'pg\\_%%' AND n.nspname NOT LIKE 'replayqa\\_%%'
"""


@dataclass(frozen=True)
class Table:
    oid: int
    schema: str
    name: str
    columns: tuple[str, ...]  # insertable columns (no generated ones), in order
    types: tuple[str, ...] = ()  # their types, as format_type() spells them
    primary_key: tuple[str, ...] = ()

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    @property
    def label(self) -> str:
        return self.name if self.schema == "public" else f"{self.schema}.{self.name}"


@dataclass
class _Checkpoint:
    mark: int
    snapshots: dict[int, str]  # table oid -> snapshot table name
    sequences: list[tuple[str, int, bool]] = field(default_factory=list)


class PostgresBackend:
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
        self.track_changes = track_changes
        self.allow_restore = allow_restore
        self.test_words = tuple(test_words)
        self.exclude_tables = frozenset(exclude_tables) | MIGRATION_TABLES
        self.lock_timeout = lock_timeout
        self.tables: list[Table] = []
        #: Labels of the tables the last rollback rewrote (the others were clean).
        self.last_restored: list[str] = []
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._checkpoints: dict[str, _Checkpoint] = {}
        self._snapshot_refs: dict[str, int] = {}
        self._snapshot_counter = 0

    # -- protocol ------------------------------------------------------------

    def connect(self) -> None:
        """Refuses a database not named as a test one before connecting, when it would install triggers.

        Decided from the URL, so not one statement runs in a production database.
        """
        if self.track_changes:
            self._require_test_database("install change tracking in")
        try:
            conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row)
        except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:  # bad URL parameter: the latter
            # psycopg's message spans lines, the host and port on the first, a tab-indented hint after
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ConfigError(f"cannot connect to PostgreSQL ({reason}): check --db") from exc
        locked = conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (_ADVISORY_KEY,)).fetchone()
        if not locked or not locked["ok"]:
            conn.close()
            raise StateError(
                f"another replayqa is checkpointing database {conn.info.dbname!r}; "
                "wait for it to finish or use another database"
            )
        self._conn = conn
        try:
            with self._transaction("set up change tracking on"):
                self.tables = self._discover_tables()
                if self.track_changes:
                    self._drop_artifacts()
                    self._install_tracking()
        except BaseException:
            self.disconnect()
            raise

    def disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None or conn.closed:
            return
        try:
            if self.track_changes:
                with conn.transaction():
                    conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(self._timeout_literal()))
                    _drop_artifacts(conn)
        except psycopg.Error:
            pass  # the next connect drops the leftovers
        finally:
            self._checkpoints.clear()
            self._snapshot_refs.clear()
            conn.close()

    def is_connected(self) -> bool:
        return self._conn is not None and not self._conn.closed

    def checkpoint(self, name: str) -> None:
        conn = self._require()
        self.release(name)
        with self._transaction(f"take checkpoint {name!r} of"):
            self._lock_tables("SHARE")
            mark = self._tick()
            last_writes = self._last_writes()
            snapshots = {}
            for table in self.tables:
                snapshots[table.oid] = self._current_snapshot(table, last_writes) or self._copy(table)
                self._snapshot_refs[snapshots[table.oid]] = (
                    self._snapshot_refs.get(snapshots[table.oid], 0) + 1
                )
            sequences = read_sequences(conn)
        self._checkpoints[name] = _Checkpoint(mark, snapshots, sequences)

    def rollback(self, name: str) -> None:
        self.check_restore_allowed()
        conn = self._require()
        checkpoint = self._checkpoints.get(name)
        if checkpoint is None:
            raise StateError(f"no checkpoint named {name!r} to restore; taken: {sorted(self._checkpoints)}")
        by_oid = {t.oid: t for t in self.tables}
        with self._transaction(f"restore checkpoint {name!r} into"):
            self._lock_tables("EXCLUSIVE")
            rows = conn.execute(
                sql.SQL("SELECT DISTINCT relid FROM {} WHERE id > %s").format(_writes()),
                (checkpoint.mark,),
            ).fetchall()
            dirty = [by_oid[r["relid"]] for r in rows if r["relid"] in by_oid]
            self._disable_fk_triggers()
            for table in dirty:
                self._restore_table(table, checkpoint.snapshots[table.oid])
            for sequence, value, is_called in checkpoint.sequences:
                conn.execute("SELECT setval(%s::regclass, %s, %s)", (sequence, value, is_called))
            conn.execute(
                sql.SQL("INSERT INTO {} (relid) SELECT unnest(%s::oid[])").format(_writes()),
                ([t.oid for t in dirty],),
            )
            mark = self._tick()
        checkpoint.mark = mark
        self.last_restored = sorted(t.label for t in dirty)

    def release(self, name: str) -> None:
        checkpoint = self._checkpoints.pop(name, None)
        if checkpoint is None or not self.is_connected():
            return
        for snapshot in checkpoint.snapshots.values():
            self._snapshot_refs[snapshot] -= 1
            if self._snapshot_refs[snapshot] == 0:
                del self._snapshot_refs[snapshot]
                self._require().execute(
                    sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(SNAP_SCHEMA, snapshot))
                )

    def reset(self) -> None:
        self.check_restore_allowed()
        conn = self._require()
        tables = [t for t in self.tables if t.name not in self.exclude_tables]
        if not tables:
            return
        with self._transaction("reset"):
            try:
                conn.execute(
                    sql.SQL("TRUNCATE {} RESTART IDENTITY").format(
                        sql.SQL(", ").join(t.ident for t in tables)
                    )
                )
            except psycopg.errors.FeatureNotSupported as exc:
                raise StateError(
                    f"cannot reset: {exc.diag.message_primary}; "
                    "an excluded table references one that reset empties"
                ) from exc

    def capture(self, redact: ColumnRedaction | None = None) -> DatabaseCapture:
        """Every table as COPY text, and every sequence, from one consistent snapshot.

        REPEATABLE READ gives all tables as of one moment without locking the
        app out; nothing is written to the app's database.
        """
        conn = self._require()
        tables, counts = [], {}
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            for table in self._discover_tables():  # as they are now: a session may have made some
                columns = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
                query = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT").format(columns, table.ident)
                with conn.cursor().copy(query) as copy:
                    data = b"".join(bytes(chunk) for chunk in copy)
                if redact is not None:
                    data = _redact_copy(data, table, redact)
                tables.append(
                    {
                        "schema": table.schema,
                        "name": table.name,
                        "key": list(table.primary_key),
                        "columns": list(table.columns),
                        "types": list(table.types),
                        "copy": data.decode("utf-8"),
                    }
                )
                counts[table.label] = data.count(b"\n")
            sequences = read_sequences(conn)
        document = {"format": 1, "tables": tables, "sequences": sequences}
        payload = zlib.compress(json.dumps(document).encode("utf-8"), 6)
        return DatabaseCapture("postgresql", payload, counts, time.time())

    def restore_capture(
        self, capture: DatabaseCapture, *, drop: Collection[str] = (), create: Collection[str] = ()
    ) -> None:
        """Load a capture into this database (same schema), in one transaction.

        ``drop``: tables the recorded session created, which this state did
        not have yet; ``create``: tables the session dropped, made again from
        the capture's columns and types. Any other difference of schema is an
        error: the database must be migrated to the recorded schema first.
        """
        check_capture_backend(capture, "postgresql")
        self.check_restore_allowed()
        conn = self._require()
        document = json.loads(zlib.decompress(capture.data))
        with self._transaction("restore a capture into"):
            current = self._discover_tables()
            for table in (t for t in current if t.label in drop):
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(table.ident))
            present = {(t.schema, t.name) for t in current if t.label not in drop}
            for entry in document["tables"]:
                if (entry["schema"], entry["name"]) not in present and _label(entry) in create:
                    _create_table(conn, entry)
            current = self._discover_tables()
            plan = self._restore_plan(document, current)
            self._lock(current, "EXCLUSIVE")
            self._disable_fk_triggers()
            for table, entry in plan:
                conn.execute(sql.SQL("DELETE FROM {}").format(table.ident))
                columns = sql.SQL(", ").join(sql.Identifier(c) for c in entry["columns"])
                with conn.cursor().copy(
                    sql.SQL("COPY {} ({}) FROM STDIN").format(table.ident, columns)
                ) as copy:
                    copy.write(entry["copy"].encode("utf-8"))
            known = {name for name, _, _ in read_sequences(conn)}
            for sequence, value, is_called in document["sequences"]:
                if sequence in known:
                    conn.execute("SELECT setval(%s::regclass, %s, %s)", (sequence, value, is_called))
            tracked = {t.oid for t in self.tables}
            if self.track_changes:
                conn.execute(
                    sql.SQL("INSERT INTO {} (relid) SELECT unnest(%s::oid[])").format(_writes()),
                    ([t.oid for t, _ in plan if t.oid in tracked],),
                )

    def _restore_plan(self, document: dict[str, Any], current: list[Table]) -> list[tuple[Table, Any]]:
        by_name = {(t.schema, t.name): t for t in current}
        plan = []
        for entry in document["tables"]:
            table = by_name.get((entry["schema"], entry["name"]))
            if table is None:
                raise StateError(
                    f"cannot restore: the database has no table {entry['schema']}.{entry['name']}, "
                    "which the capture holds; migrate it to the recorded schema first"
                )
            missing = [c for c in entry["columns"] if c not in table.columns]
            if missing:
                raise StateError(
                    f"cannot restore: table {table.label} has no column {missing[0]!r}, "
                    "which the capture holds; migrate it to the recorded schema first"
                )
            plan.append((table, entry))
        return plan

    def row_counts(self) -> dict[str, int]:
        """Rows per table now, labelled as captures label them: one step's write effects are the change."""
        conn = self._require()
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                tables = self._discover_tables()
                if not tables:
                    return {}
                query = sql.SQL(" UNION ALL ").join(
                    sql.SQL("SELECT {}::text AS label, count(*) AS n FROM {}").format(
                        sql.Literal(t.label), t.ident
                    )
                    for t in tables
                )
                return {row["label"]: row["n"] for row in conn.execute(query).fetchall()}
        except psycopg.Error as exc:  # a dropped connection, a lock timeout: the caller decides
            raise StateError(f"cannot count the rows of the tables: {exc}") from exc

    def query(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return self._require().execute(query.encode(), params).fetchall()

    def check_restore_allowed(self) -> None:
        self._require_test_database("restore or reset")

    def _require_test_database(self, what: str) -> None:
        name = self._conn.info.dbname if self._conn else url_database(self.url)
        require_test_database(name, self.allow_restore, what, self.test_words)

    # -- setup ---------------------------------------------------------------

    def _discover_tables(self) -> list[Table]:
        conn = self._require()
        rows = conn.execute(
            f"""
            SELECT c.oid, n.nspname AS schema, c.relname AS name,
                   array_agg(a.attname::text ORDER BY a.attnum)
                     FILTER (WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '')
                     AS columns,
                   array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
                     FILTER (WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '')
                     AS types,
                   (SELECT array_agg(k.attname::text ORDER BY array_position(i.indkey::int2[], k.attnum))
                      FROM pg_index i JOIN pg_attribute k
                        ON k.attrelid = i.indrelid AND k.attnum = ANY(i.indkey::int2[])
                     WHERE i.indrelid = c.oid AND i.indisprimary) AS primary_key
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid
            WHERE c.relkind = 'r' AND {_USER_SCHEMAS}
            GROUP BY c.oid, n.nspname, c.relname
            ORDER BY n.nspname, c.relname
            """
        ).fetchall()
        return [
            Table(
                r["oid"],
                r["schema"],
                r["name"],
                tuple(r["columns"] or ()),
                tuple(r["types"] or ()),
                tuple(r["primary_key"] or ()),
            )
            for r in rows
            if r["name"] not in self.exclude_tables
            and f"{r['schema']}.{r['name']}" not in self.exclude_tables
        ]

    def _install_tracking(self) -> None:
        conn = self._require()
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(STATE_SCHEMA)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SNAP_SCHEMA)))
        conn.execute(sql.SQL("CREATE SEQUENCE {}").format(_clock()))
        conn.execute(
            sql.SQL("CREATE TABLE {} (id bigint NOT NULL DEFAULT nextval({}), relid oid NOT NULL)").format(
                _writes(), sql.Literal(f"{STATE_SCHEMA}.clock")
            )
        )
        conn.execute(
            sql.SQL(
                """
                CREATE FUNCTION {}() RETURNS trigger
                LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
                BEGIN
                  INSERT INTO replayqa_state.writes (relid) VALUES (TG_RELID);
                  RETURN NULL;
                END
                $fn$
                """
            ).format(sql.Identifier(STATE_SCHEMA, "record_write"))
        )
        for table in self.tables:
            conn.execute(
                sql.SQL(
                    "CREATE TRIGGER replayqa_track AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                    "ON {} FOR EACH STATEMENT EXECUTE FUNCTION {}()"
                ).format(table.ident, sql.Identifier(STATE_SCHEMA, "record_write"))
            )

    def _drop_artifacts(self) -> None:
        _drop_artifacts(self._require())

    # -- checkpoint and restore ----------------------------------------------

    def _tick(self) -> int:
        row = (
            self._require()
            .execute(sql.SQL("SELECT nextval({}) AS v").format(sql.Literal(f"{STATE_SCHEMA}.clock")))
            .fetchone()
        )
        assert row is not None
        return int(row["v"])

    def _last_writes(self) -> dict[int, int]:
        rows = (
            self._require()
            .execute(sql.SQL("SELECT relid, max(id) AS last FROM {} GROUP BY relid").format(_writes()))
            .fetchall()
        )
        return {r["relid"]: r["last"] for r in rows}

    def _current_snapshot(self, table: Table, last_writes: dict[int, int]) -> str | None:
        """An earlier checkpoint's copy of ``table``, if the table has not changed since."""
        last = last_writes.get(table.oid, 0)
        candidates = [c for c in self._checkpoints.values() if c.mark > last]
        if not candidates:
            return None
        return max(candidates, key=lambda c: c.mark).snapshots[table.oid]

    def _copy(self, table: Table) -> str:
        self._snapshot_counter += 1
        name = f"s{self._snapshot_counter}_{table.oid}"
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
        self._require().execute(
            sql.SQL("CREATE UNLOGGED TABLE {} AS SELECT {} FROM {}").format(
                sql.Identifier(SNAP_SCHEMA, name), columns, table.ident
            )
        )
        return name

    def _restore_table(self, table: Table, snapshot: str) -> None:
        conn = self._require()
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
        conn.execute(sql.SQL("DELETE FROM {}").format(table.ident))
        conn.execute(
            sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {}").format(
                table.ident, columns, columns, sql.Identifier(SNAP_SCHEMA, snapshot)
            )
        )

    def _disable_fk_triggers(self) -> None:
        try:
            self._require().execute("SET LOCAL session_replication_role = replica")
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StateError(
                "restoring needs foreign-key triggers off, which this role may not do: connect "
                "as a superuser, or run GRANT SET ON PARAMETER session_replication_role TO <role>"
            ) from exc

    def _lock_tables(self, mode: str) -> None:
        self._lock(self.tables, mode)

    def _lock(self, tables: list[Table], mode: str) -> None:
        if tables:
            self._require().execute(
                sql.SQL("LOCK TABLE {} IN " + mode + " MODE").format(
                    sql.SQL(", ").join(t.ident for t in tables)
                )
            )

    # -- plumbing ------------------------------------------------------------

    def _transaction(self, what: str) -> _Transaction:
        return _Transaction(self, what)

    def _timeout_literal(self) -> sql.Literal:
        return sql.Literal(f"{int(self.lock_timeout * 1000)}ms")

    def _require(self) -> psycopg.Connection[dict[str, Any]]:
        if self._conn is None or self._conn.closed:
            raise StateError("the PostgreSQL state backend is not connected")
        return self._conn

    def blockers(self) -> list[str]:
        """Sessions holding locks on the app's tables: what a blocked restore waits for."""
        conn = self._require()
        rows = conn.execute(
            """
            SELECT DISTINCT a.pid, a.state, left(regexp_replace(a.query, '\\s+', ' ', 'g'), 60) AS query,
                   extract(epoch FROM now() - a.xact_start)::int AS seconds
            FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.granted AND l.relation = ANY(%s) AND a.pid <> pg_backend_pid()
            """,
            ([t.oid for t in self.tables],),
        ).fetchall()
        return [f"pid {r['pid']} ({r['state']} for {r['seconds']}s: {r['query']})" for r in rows]


class _Transaction:
    """One transaction with the lock timeout; a lock wait that times out names the blocker."""

    def __init__(self, backend: PostgresBackend, what: str) -> None:
        self.backend = backend
        self.what = what
        self._tx: Any = None

    def __enter__(self) -> None:
        conn = self.backend._require()
        self._tx = conn.transaction()
        self._tx.__enter__()
        conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(self.backend._timeout_literal()))

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._tx.__exit__(exc_type, exc, tb)
        if isinstance(exc, psycopg.errors.LockNotAvailable):
            blockers = "; ".join(self.backend.blockers()) or "another session"
            raise RestoreBlockedError(
                f"could not {self.what} the database within {self.backend.lock_timeout:g}s: "
                f"blocked by {blockers}; commit or close that transaction"
            ) from exc


def _writes() -> sql.Identifier:
    return sql.Identifier(STATE_SCHEMA, "writes")


def _clock() -> sql.Identifier:
    return sql.Identifier(STATE_SCHEMA, "clock")


def _drop_artifacts(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        sql.SQL("DROP SCHEMA IF EXISTS {}, {} CASCADE").format(
            sql.Identifier(STATE_SCHEMA), sql.Identifier(SNAP_SCHEMA)
        )
    )


def read_sequences(conn: psycopg.Connection[Any]) -> list[tuple[str, int, bool]]:
    """Every user sequence's (qualified name, last_value, is_called), to setval back later."""
    cursor = conn.cursor(row_factory=tuple_row)
    names = cursor.execute(
        f"""
        SELECT n.nspname, c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'S' AND {_USER_SCHEMAS}
        ORDER BY 1, 2
        """
    ).fetchall()
    if not names:
        return []
    union = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}, last_value, is_called FROM {}").format(
            sql.Literal(sql.Identifier(schema, name).as_string(conn)), sql.Identifier(schema, name)
        )
        for schema, name in names
    )
    return [(str(n), int(v), bool(c)) for n, v, c in cursor.execute(union).fetchall()]


def url_database(url: str) -> str:
    """The database a URL connects to, as libpq decides: its dbname, else PGDATABASE, else the user."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"bad PostgreSQL URL ({str(exc).strip()}): check --db") from None
    user = params.get("user") or os.environ.get("PGUSER") or getpass.getuser()
    return str(params.get("dbname") or os.environ.get("PGDATABASE") or user)


def _placeholder_column(column_type: str) -> tuple[bool, int | None] | None:
    """Whether a placeholder can stand in a column of this type: (is JSON, length limit), or None."""
    if column_type in ("text", "citext", "character varying"):
        return False, None
    if column_type in ("json", "jsonb"):
        return True, None
    match = re.fullmatch(r"character(?: varying)?\((\d+)\)", column_type)
    return (False, int(match.group(1))) if match else None


def _redact_copy(data: bytes, table: Table, redact: ColumnRedaction) -> bytes:
    """Replace credential columns in COPY text (tab-separated, backslash escapes, \\N for NULL)."""
    targets = {
        i: fit
        for i, (column, column_type) in enumerate(zip(table.columns, table.types, strict=True))
        if redact.wants(column) and (fit := _placeholder_column(column_type)) is not None
    }
    if not targets or not data:
        return data
    lines = []
    for line in data.decode("utf-8").split("\n"):
        if line:
            fields = line.split("\t")
            for index, (json_column, length) in targets.items():
                if fields[index] != "\\N":
                    column = table.columns[index]
                    fields[index] = redact.replace_in(fields[index], column, json_column, length)
            line = "\t".join(fields)
        lines.append(line)
    return "\n".join(lines).encode("utf-8")


_COPY_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|(.))")
_COPY_CHARS = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _copy_field(text: str) -> str | None:
    if text == "\\N":
        return None
    return _COPY_ESCAPE.sub(
        lambda m: chr(int(m.group(1), 8)) if m.group(1) else _COPY_CHARS.get(m.group(2), m.group(2)), text
    )


def _label(entry: dict[str, Any]) -> str:
    return entry["name"] if entry["schema"] == "public" else f"{entry['schema']}.{entry['name']}"


def _create_table(conn: psycopg.Connection[Any], entry: dict[str, Any]) -> None:
    """A table a session dropped, made again from its capture: columns, types, primary key."""
    types = entry.get("types") or []
    if len(types) != len(entry["columns"]):
        raise StateError(
            f"cannot restore table {_label(entry)}, which the session dropped: the recording is older "
            "than the column types it would need; record the session again"
        )
    parts = [
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t))
        for c, t in zip(entry["columns"], types, strict=True)
    ]
    if entry.get("key"):
        parts.append(
            sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(sql.Identifier(k) for k in entry["key"]))
        )
    conn.execute(
        sql.SQL("CREATE TABLE {} ({})").format(
            sql.Identifier(entry["schema"], entry["name"]), sql.SQL(", ").join(parts)
        )
    )


def capture_rows(capture: DatabaseCapture) -> dict[str, dict[str, dict[str, Any]]]:
    """A capture as rows: table -> primary key (as text) -> column -> value (as COPY text)."""
    document = json.loads(zlib.decompress(capture.data))
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in document["tables"]:
        label = _label(entry)
        key_columns = entry.get("key") or entry["columns"]
        rows: dict[str, dict[str, Any]] = {}
        for line in entry["copy"].split("\n"):
            if not line:
                continue
            row = dict(zip(entry["columns"], (_copy_field(f) for f in line.split("\t")), strict=True))
            rows["|".join(str(row[c]) for c in key_columns)] = row
        result[label] = rows
    return result
