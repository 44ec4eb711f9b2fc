"""PostgreSQL, undo-log: restores that cost what a session changed, not what the database holds.

Chosen with ``postgresql+undo://...``. How it works:

* On connect, a row-level trigger on every app table records each change in
  ``replayqa_undo.log``: the row's old image for updates and deletes, its new
  image for inserts and updates (``to_jsonb``). A BEFORE TRUNCATE trigger
  logs the whole table. The functions are SECURITY DEFINER, so the app's
  role needs no rights on replayqa's schema.
* A checkpoint is a mark on the log (taken under a brief SHARE lock, so app
  writes in flight land on the right side of it) and the sequences' values.
  It copies nothing.
* A rollback locks the tables in EXCLUSIVE mode (readers go on) and, in one
  transaction with foreign-key triggers off, applies the entries newer than
  the mark in reverse, through static SQL generated per table at connect (so
  plpgsql plans each statement once) that finds rows by primary key; then it
  drops those entries and puts the sequences
  back. Checkpoints taken after the target are gone, as with SAVEPOINTs.
  The app keeps its connections throughout.

Every app table needs a primary key (the undo log finds rows by it); connect
says which table lacks one. Logical decoding (wal_level=logical) could feed
the same log without triggers, but needs server settings that users of a
shared test server often cannot change; triggers need only table rights.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from replayqa.errors import ConfigError, StateError
from replayqa.model import DatabaseCapture
from replayqa.state.postgres import PostgresBackend, Table, read_sequences

UNDO_SCHEMA = "replayqa_undo"

_FUNCTIONS = """
CREATE TABLE replayqa_undo.log (
    seq bigint PRIMARY KEY DEFAULT nextval('replayqa_undo.clock'),
    relid oid NOT NULL,
    op "char" NOT NULL,
    old_image jsonb,
    new_image jsonb
);

CREATE FUNCTION replayqa_undo.record() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO replayqa_undo.log (relid, op, new_image) VALUES (TG_RELID, 'I', to_jsonb(NEW));
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO replayqa_undo.log (relid, op, old_image, new_image)
    VALUES (TG_RELID, 'U', to_jsonb(OLD), to_jsonb(NEW));
  ELSE
    INSERT INTO replayqa_undo.log (relid, op, old_image) VALUES (TG_RELID, 'D', to_jsonb(OLD));
  END IF;
  RETURN NULL;
END
$fn$;

CREATE FUNCTION replayqa_undo.record_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
BEGIN
  EXECUTE format(
    'INSERT INTO replayqa_undo.log (relid, op, old_image) SELECT %s, ''D'', to_jsonb(t) FROM %s t',
    TG_RELID, TG_RELID::regclass);
  RETURN NULL;
END
$fn$;

"""


@dataclass
class _Mark:
    seq: int
    sequences: list[tuple[str, int, bool]]


class UndoLogBackend(PostgresBackend):
    """Checkpoints are marks; rollbacks undo only what changed since."""

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url.replace("postgresql+undo://", "postgresql://", 1), **options)
        self._marks: dict[str, _Mark] = {}
        #: Rows the last rollback undid (a measure of its cost).
        self.last_undone = 0

    # -- protocol ------------------------------------------------------------

    def connect(self) -> None:
        self._require_test_database("install an undo log in")  # before connecting: nothing runs there
        self.track_changes = False  # the parent's statement-level tracking is not needed here
        super().connect()
        try:
            with self._transaction("set up the undo log on"):
                self._drop_undo()
                missing = [t.label for t in self.tables if not t.primary_key]
                if missing:
                    raise ConfigError(
                        f"table {missing[0]} has no primary key, which the undo-log backend needs to find "
                        "rows: add one, or use the snapshot backend (postgresql://...)"
                    )
                self._install()
        except BaseException:
            self.disconnect()
            raise

    def disconnect(self) -> None:
        conn = self._conn
        if conn is not None and not conn.closed:
            try:
                with conn.transaction():
                    conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(self._timeout_literal()))
                    _drop_undo(conn)
            except psycopg.Error:
                pass  # the next connect drops the leftovers
        self._marks.clear()
        super().disconnect()

    def checkpoint(self, name: str) -> None:
        conn = self._require()
        with self._transaction(f"take checkpoint {name!r} of"):
            self._lock_tables("SHARE")
            row = conn.execute("SELECT nextval('replayqa_undo.clock') AS v").fetchone()
            assert row is not None
            sequences = read_sequences(conn)
        self._marks[name] = _Mark(int(row["v"]), sequences)

    def rollback(self, name: str) -> None:
        self.check_restore_allowed()
        conn = self._require()
        mark = self._marks.get(name)
        if mark is None:
            raise StateError(
                f"no checkpoint named {name!r} to restore (a rollback to an earlier checkpoint undoes the "
                f"later ones); live: {sorted(self._marks)}"
            )
        with self._transaction(f"restore checkpoint {name!r} into"):
            self._lock_tables("EXCLUSIVE")
            self._disable_fk_triggers()  # also silences the undo triggers while undoing
            row = conn.execute("SELECT replayqa_undo.rollback_to(%s) AS n", (mark.seq,)).fetchone()
            for sequence, value, is_called in mark.sequences:
                conn.execute("SELECT setval(%s::regclass, %s, %s)", (sequence, value, is_called))
        self.last_undone = int(row["n"]) if row else 0
        self._marks = {n: m for n, m in self._marks.items() if m.seq <= mark.seq}

    def release(self, name: str) -> None:
        self._marks.pop(name, None)

    def restore_capture(
        self, capture: DatabaseCapture, *, drop: Collection[str] = (), create: Collection[str] = ()
    ) -> None:
        super().restore_capture(capture, drop=drop, create=create)
        self._require().execute("DELETE FROM replayqa_undo.log")
        self._marks.clear()  # the restored state is no checkpoint's

    # -- setup ---------------------------------------------------------------

    def _install(self) -> None:
        conn = self._require()
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(UNDO_SCHEMA)))
        conn.execute("CREATE SEQUENCE replayqa_undo.clock")
        conn.execute(_FUNCTIONS)
        for table in self.tables:
            conn.execute(
                sql.SQL(
                    "CREATE TRIGGER replayqa_undo AFTER INSERT OR UPDATE OR DELETE ON {} "
                    "FOR EACH ROW EXECUTE FUNCTION replayqa_undo.record()"
                ).format(table.ident)
            )
            conn.execute(
                sql.SQL(
                    "CREATE TRIGGER replayqa_undo_truncate BEFORE TRUNCATE ON {} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION replayqa_undo.record_truncate()"
                ).format(table.ident)
            )
        conn.execute(_rollback_function(self.tables))

    def _drop_undo(self) -> None:
        _drop_undo(self._require())


def _rollback_function(tables: list[Table]) -> sql.Composed:
    """The undo loop, written out per table with static SQL, so plpgsql plans each statement once."""
    branches = []
    for table in tables:
        keys = sql.SQL(", ").join(sql.Identifier(c) for c in table.primary_key)
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)

        def image(field: str, table: Table = table) -> sql.Composed:
            return sql.SQL("jsonb_populate_record(NULL::{}, entry.{})").format(table.ident, sql.SQL(field))

        branches.append(
            sql.SQL(
                """
    WHEN {oid} THEN
      IF entry.op IN ('I', 'U') THEN
        DELETE FROM {table} WHERE ({keys}) = (SELECT {keys} FROM {new});
      END IF;
      IF entry.op IN ('U', 'D') THEN
        INSERT INTO {table} ({columns}) OVERRIDING SYSTEM VALUE SELECT {columns} FROM {old};
      END IF;"""
            ).format(
                oid=sql.Literal(table.oid),
                table=table.ident,
                keys=keys,
                columns=columns,
                new=image("new_image"),
                old=image("old_image"),
            )
        )
    cases = (
        sql.SQL("\n    CASE entry.relid{}\n    END CASE;").format(sql.SQL("").join(branches))
        if branches
        else sql.SQL("")
    )
    return sql.SQL(
        """
CREATE FUNCTION replayqa_undo.rollback_to(mark bigint) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog AS $fn$
DECLARE
  entry record;
  undone bigint := 0;
BEGIN
  FOR entry IN
    SELECT relid, op, old_image, new_image FROM replayqa_undo.log WHERE seq > mark ORDER BY seq DESC
  LOOP{cases}
    undone := undone + 1;
  END LOOP;
  DELETE FROM replayqa_undo.log WHERE seq > mark;
  RETURN undone;
END
$fn$
"""
    ).format(cases=cases)


def _drop_undo(conn: psycopg.Connection[Any]) -> None:
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(UNDO_SCHEMA)))
