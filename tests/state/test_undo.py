"""The undo-log backend, tested with random sessions against a real server and a separate app process.

Hypothesis draws sessions of inserts, updates, deletes and truncates across
tables linked by foreign keys (identity and serial keys, a composite key,
nullable, JSON and array columns), written by the app stand-in between
checkpoints, and rollbacks to random live checkpoints, out of order. After
every rollback, table contents and sequence values must equal the checkpoint's.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replayqa.errors import ConfigError, StateError
from replayqa.state import open_state

SCHEMA = """
DROP TABLE IF EXISTS links, children, parents CASCADE;
CREATE TABLE parents (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    meta jsonb,
    tags text[],
    shout text GENERATED ALWAYS AS (upper(name)) STORED
);
CREATE TABLE children (
    id serial PRIMARY KEY,
    parent_id bigint REFERENCES parents(id) ON DELETE CASCADE,
    note text,
    doc json
);
CREATE TABLE links (
    parent_id bigint REFERENCES parents(id) ON DELETE CASCADE,
    child_id int REFERENCES children(id) ON DELETE CASCADE,
    weight numeric,
    PRIMARY KEY (parent_id, child_id)
);
INSERT INTO parents (name, meta, tags) VALUES ('seed', '{"n": 1}', '{a,b}');
INSERT INTO children (parent_id, note, doc) VALUES (1, 'first', '{"k": [1, 2]}');
"""

texts = st.text(alphabet="abcxyz' \\\"é", max_size=6)
picks = st.integers(min_value=0, max_value=4)
maybe_json = st.none() | st.dictionaries(st.sampled_from("abc"), st.integers(-5, 5), max_size=2)
operations = st.one_of(
    st.tuples(
        st.just("INSERT INTO parents (name, meta, tags) VALUES (%s, %s, %s)"),
        st.tuples(
            texts,
            maybe_json.map(lambda v: None if v is None else json.dumps(v)),
            st.none() | st.lists(texts, max_size=2),
        ),
    ),
    st.tuples(
        st.just(
            "INSERT INTO children (parent_id, note, doc) SELECT id, %s, %s FROM parents "
            "ORDER BY id OFFSET %s LIMIT 1"
        ),
        st.tuples(st.none() | texts, maybe_json.map(lambda v: None if v is None else json.dumps(v)), picks),
    ),
    st.tuples(
        st.just(
            "INSERT INTO links SELECT p.id, c.id, %s FROM (SELECT id FROM parents ORDER BY id OFFSET %s "
            "LIMIT 1) p, (SELECT id FROM children ORDER BY id OFFSET %s LIMIT 1) c ON CONFLICT DO NOTHING"
        ),
        st.tuples(st.none() | st.decimals(-100, 100, places=2).map(str), picks, picks),
    ),
    st.tuples(
        st.just(
            "UPDATE parents SET name = %s, meta = coalesce(meta, '{}'::jsonb) || '{\"t\": true}' "
            "WHERE id = (SELECT id FROM parents ORDER BY id OFFSET %s LIMIT 1)"
        ),
        st.tuples(texts, picks),
    ),
    st.tuples(
        st.just(
            "UPDATE children SET note = NULL, doc = '[1, 2]' "
            "WHERE id = (SELECT id FROM children ORDER BY id OFFSET %s LIMIT 1)"
        ),
        st.tuples(picks),
    ),
    st.tuples(
        st.just("DELETE FROM parents WHERE id = (SELECT id FROM parents ORDER BY id OFFSET %s LIMIT 1)"),
        st.tuples(picks),
    ),
    st.tuples(
        st.just("DELETE FROM children WHERE id = (SELECT id FROM children ORDER BY id OFFSET %s LIMIT 1)"),
        st.tuples(picks),
    ),
    st.tuples(st.just("TRUNCATE links"), st.just(())),
)
# A session: write batches by the app, checkpoints, and rollbacks to a live checkpoint chosen by index.
actions = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.lists(operations, min_size=1, max_size=4)),
        st.tuples(st.just("checkpoint"), st.just(None)),
        st.tuples(st.just("rollback"), st.integers(min_value=0, max_value=5)),
    ),
    min_size=1,
    max_size=12,
)


def state_of(conn: psycopg.Connection) -> tuple:
    tables = tuple(
        conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in ("parents", "children", "links")
    )
    sequences = tuple(
        conn.execute(f"SELECT last_value, is_called FROM {s}").fetchone()
        for s in ("parents_id_seq", "children_id_seq")
    )
    return tables, sequences


@pytest.fixture
def undo_db(make_pg_database):
    url = make_pg_database("undo_test")
    return url, url.replace("postgresql://", "postgresql+undo://")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(session=actions)
def test_random_sessions_roll_back_exactly(undo_db, app_connections, session):
    url, undo_url = undo_db
    with psycopg.connect(url, autocommit=True) as observer:
        observer.execute(SCHEMA)
        app = app_connections("postgres", url)  # the app: its own process and connection, open throughout
        backend = open_state(undo_url)
        backend.connect()
        try:
            live: list[tuple[str, tuple]] = []
            for number, (kind, argument) in enumerate(session):
                if kind == "write":
                    for statement, params in argument:
                        app.execute(statement, *params)
                elif kind == "checkpoint":
                    name = f"cp{number}"
                    backend.checkpoint(name)
                    live.append((name, state_of(observer)))
                elif live:
                    index = argument % len(live)
                    name, expected = live[index]
                    backend.rollback(name)
                    assert state_of(observer) == expected
                    del live[index + 1 :]  # later checkpoints are undone with it
            app.execute("INSERT INTO parents (name) VALUES ('the app still writes')")
        finally:
            backend.disconnect()
            app.close()


def test_rolling_back_to_an_undone_checkpoint_is_a_clear_error(undo_db, app_connections):
    url, undo_url = undo_db
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)
    backend = open_state(undo_url)
    backend.connect()
    try:
        backend.checkpoint("outer")
        backend.checkpoint("inner")
        backend.rollback("outer")
        with pytest.raises(StateError, match="undoes the later ones"):
            backend.rollback("inner")
    finally:
        backend.disconnect()


def test_tables_need_a_primary_key(make_pg_database):
    url = make_pg_database("nokey_test")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE events (at timestamptz, what text)")
    with pytest.raises(ConfigError, match="table events has no primary key"):
        open_state(url.replace("postgresql://", "postgresql+undo://")).connect()


CRASHING_RUNNER = """
import sys, time
from replayqa.state import open_state
backend = open_state(sys.argv[1])
backend.connect()
backend.checkpoint("start")
print("ready", flush=True)
time.sleep(60)
"""


def test_a_runner_killed_mid_session_leaves_nothing_the_next_connect_cannot_clean(undo_db, app_connections):
    url, undo_url = undo_db
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)
        runner = subprocess.Popen(
            [sys.executable, "-c", CRASHING_RUNNER, undo_url], stdout=subprocess.PIPE, text=True
        )
        assert runner.stdout is not None and runner.stdout.readline().strip() == "ready"
        app = app_connections("postgres", url)
        app.execute("INSERT INTO parents (name) VALUES ('mid-session')")
        runner.send_signal(signal.SIGKILL)
        runner.wait()
        assert conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'replayqa%'").fetchone()[0] > 0

        backend = open_state(undo_url)
        backend.connect()  # drops the dead run's triggers and log, installs fresh ones
        before = state_of(conn)
        backend.checkpoint("again")
        app.execute("DELETE FROM children")
        backend.rollback("again")
        assert state_of(conn) == before
        backend.disconnect()
        assert (
            conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'replayqa%'").fetchone()[0] == 0
        )
        assert (
            conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'replayqa%'").fetchone()[0]
            == 0
        )
