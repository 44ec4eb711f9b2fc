import json

from replayqa.redact import Redactor
from replayqa.store import RunStore
from tests.test_report import make_run


def test_runs_and_their_issues_are_kept_redacted(tmp_path):
    store = RunStore(tmp_path / ".replayqa" / "runs.db")
    store.save(make_run(), Redactor())
    (run,) = store.runs()
    assert (run["run_id"], run["passed"], run["paths"], run["issues"]) == ("run-1", 0, 2, 1)
    (issue,) = store.issues("run-1")
    assert issue["step"] == "pay" and issue["request"]["method"] == "POST"
    assert "secret-token" not in json.dumps(issue)
    assert sorted(store.db.table_names()) == ["issues", "meta", "runs", "steps"]


def test_opening_a_store_to_read_it(tmp_path):
    import sqlite3

    import pytest

    from replayqa.errors import ConfigError

    with pytest.raises(ConfigError, match="no run store at"):
        RunStore.open_existing(tmp_path / "absent.db")
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)")
    with pytest.raises(ConfigError, match="is not a replayqa run store"):
        RunStore.open_existing(tmp_path / "other.db")
    RunStore(tmp_path / "runs.db").db.execute("UPDATE meta SET value = 'replayqa-runs/2'").connection.commit()
    with pytest.raises(ConfigError, match="newer than this replayqa reads"):
        RunStore.open_existing(tmp_path / "runs.db")


def test_marks_are_kept_as_plain_strings_and_read_back_as_statuses(tmp_path):
    from replayqa.model import IssueStatus

    store = RunStore(tmp_path / "runs.db")
    store.mark("3f2a9c1d0e4b", IssueStatus.FLAKY, "BUG-1")
    store.mark("0123456789ab", IssueStatus.FIXED, "deployed")
    # A store written before the enums holds the same text.
    old = "INSERT INTO known_issues VALUES ('aaaaaaaaaaaa', 'known', 'old', 0)"
    store.db.execute(old).connection.commit()
    assert [r["status"] for r in store.db.table("known_issues").rows] == ["flaky", "fixed", "known"]
    rules = {r.fingerprint: r.status for r in store.known_rules()}
    assert rules == {"3f2a9c1d0e4b": IssueStatus.FLAKY, "aaaaaaaaaaaa": IssueStatus.KNOWN}
    store.mark("3f2a9c1d0e4b", IssueStatus.NEW)
    assert [r.fingerprint for r in store.known_rules()] == ["aaaaaaaaaaaa"]
