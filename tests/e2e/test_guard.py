"""The test-database guard: a database not named as a test one sees no statement from replayqa.

Checked on a real PostgreSQL server that logs every statement run in the
database (``log_statement = 'all'`` set on that database only).
"""

from __future__ import annotations

import time

import psycopg
import pytest

from tests.e2e.test_errors import GOOD_STEP, assert_one_line_error

LINEAR = "name: linear\nsteps:" + GOOD_STEP
BRANCHING = (
    "name: branchy\nsteps:" + GOOD_STEP + "  - checkpoint: c\n  - branch:\n      checkpoint: c\n"
    "      paths:\n        - name: a\n          steps:"
    + GOOD_STEP.replace("\n  ", "\n            ")
    + "        - name: b\n          steps: []\n"
)


def logged_statements(postgres, offset: int) -> list[str]:
    time.sleep(0.3)  # the logging collector writes asynchronously
    text = (postgres.root / "server.log").read_bytes()[offset:].decode("utf-8", "replace")
    return [line for line in text.splitlines() if "statement: " in line]


@pytest.mark.parametrize("journey", [LINEAR, BRANCHING], ids=["linear", "branching"])
def test_no_statement_runs_in_a_database_not_named_as_a_test_one(
    cli, demo_shop, tmp_path, postgres, make_pg_database, journey
):
    url = make_pg_database("production")
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE \"{name}\" SET log_statement = 'all'")
    (tmp_path / "journey.yaml").write_text(journey)
    offset = (postgres.root / "server.log").stat().st_size

    done = cli("run", "journey.yaml", "--base-url", demo_shop.base_url, "--db", url)

    assert_one_line_error(done, f"refusing to install change tracking in database '{name}'")
    assert logged_statements(postgres, offset) == [], "replayqa ran statements in the production database"
    with psycopg.connect(url) as probe:  # the check can fail: a statement there is logged
        probe.execute("SELECT 'guard-probe'")
    assert any("guard-probe" in line for line in logged_statements(postgres, offset))


def test_a_configured_word_marks_a_test_database(cli, demo_shop, tmp_path, make_pg_database):
    url = make_pg_database("shop_staging")
    (tmp_path / "journey.yaml").write_text(BRANCHING)
    refused = cli("run", "journey.yaml", "--base-url", demo_shop.base_url, "--db", url)
    assert_one_line_error(refused, "test_database_words")
    (tmp_path / "replayqa.toml").write_text('test_database_words = ["test", "staging"]\n')
    allowed = cli("run", "journey.yaml", "--base-url", demo_shop.base_url, "--db", url)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
