"""The demo shop on MariaDB: its journeys, through the real CLI, find the same 4 planted bugs.

The shop runs in its own process with ``--db mysql://...``; ``replayqa run
--db mysql://...`` checkpoints and restores it with the MySQL backend. Each
planted bug is "found" as in tests/e2e/test_demo.py: an issue at the bug's
own journey, path and step, and no other issue. A branch that started from
the wrong state would fail at another step, so this also shows the restores
between paths worked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pymysql

from replayqa.demo.bugs import BUGS
from replayqa.demo.run import journeys_dir
from replayqa.demo.server import DemoServer

FIXED = {"REPLAYQA_DEMO_FIX_ALL": "1"}


def run_journeys(cli, shop: DemoServer) -> tuple[int, dict[str, Any]]:
    done = cli("run", str(journeys_dir()), "--base-url", shop.base_url, "--db", shop.db_url, "--json")
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def issues(summary: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((j["name"], i["path"], i["step"]) for j in summary["journeys"] for i in j["issues"])


def bugs_found(summary: dict[str, Any]) -> tuple[set[str], list[tuple[str, str, str]]]:
    """The planted bugs with an issue at their step, and the issues that match no bug."""
    where = {(b.journey, b.path, b.step): b.key for b in BUGS}
    found = {where[i] for i in issues(summary) if i in where}
    return found, [i for i in issues(summary) if i not in where]


def shop_tables(url: str) -> set[str]:
    from replayqa.state.mysql import ConnectionInfo

    info = ConnectionInfo.from_url(url)
    conn = pymysql.connect(host=info.host, port=info.port, user=info.user, database=info.database)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SHOW TABLES")
            return {row[0] for row in cursor.fetchall()}
    finally:
        conn.close()


def test_demo_journeys_find_the_4_planted_bugs_with_the_shop_on_mariadb(
    cli, make_mysql_database, demo_shop, tmp_path: Path
):
    url = make_mysql_database()
    with DemoServer(tmp_path / "on-mariadb", db=url) as shop:
        assert shop.db_url == url
        code, summary = run_journeys(cli, shop)
    assert code == 1, "the planted bugs fail the run"
    found, unexpected = bugs_found(summary)
    assert found == {b.key for b in BUGS}, summary
    assert not unexpected, unexpected
    assert not (tmp_path / "on-mariadb" / "replayqa-demo-shop.db").exists(), "no SQLite file was used"
    assert {"users", "carts", "orders", "payments"} <= shop_tables(url)

    _, on_sqlite = run_journeys(cli, demo_shop)
    assert issues(summary) == issues(on_sqlite), "the same issues, at the same steps, as on SQLite"
    errors = sorted(i["error"] for j in summary["journeys"] for i in j["issues"])
    assert errors == sorted(i["error"] for j in on_sqlite["journeys"] for i in j["issues"])


def test_with_the_bugs_fixed_the_demo_journeys_pass_on_mariadb(cli, make_mysql_database, tmp_path: Path):
    with DemoServer(tmp_path / "fixed", env=FIXED, db=make_mysql_database()) as shop:
        code, summary = run_journeys(cli, shop)
    assert code == 0, summary
    assert summary["passed"] and not issues(summary)
    assert summary["summary"]["paths"] == summary["summary"]["paths_passed"] == 6
