"""Fault injection: every kind of fault in a real app is caught by replay; the unchanged app is clean."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_replay import RECORDING, SECRET
from tests.support.apps import ChildApp
from tests.support.faulty_shop import DATABASE_FAULTS, FAULTS


@pytest.mark.parametrize("fault", FAULTS)
def test_replay_catches_the_fault(cli, tmp_path, fault):
    db = tmp_path / "faulty_test.db"
    app = ChildApp("faulty_shop.py", str(db), fault)
    try:
        done = cli(
            "replay", str(RECORDING), "--base-url", app.base_url, "--db", f"sqlite:///{db}", *SECRET, "--json"
        )
    finally:
        app.stop()
    summary = json.loads(done.stdout)
    issues = [i for j in summary["journeys"] for i in j["issues"]]
    if fault == "none":
        assert done.returncode == 0 and issues == [], [i["error"] for i in issues]
        return
    assert done.returncode == 1, f"{fault} went unnoticed"
    if fault in DATABASE_FAULTS:
        assert any(i["kind"] == "db-regression" for i in issues), [i["error"] for i in issues]


def test_the_suite_has_at_least_fifteen_kinds_of_fault():
    assert len(FAULTS) - 1 >= 15
