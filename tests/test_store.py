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


def test_steps_keep_their_exchange_id_and_older_stores_read_it_from_the_step_name(tmp_path):
    import sqlite3

    from replayqa.model import Exchange, HttpRequest, Issue, JourneyResult, RunResult, StepResult

    def replayed(run_id: str, exchange_id: int | None) -> RunResult:
        step = StepResult("orders", "main", "#24 GET /cart", False, exchange_id=exchange_id)
        step.exchange = Exchange(HttpRequest("GET", "http://shop.test/cart"))
        issue = Issue("orders", "main", "#24 GET /cart", "boom", exchange_id=exchange_id)
        written = StepResult("orders", "main", "#7 is only a name", True)
        return RunResult(run_id, [JourneyResult("orders", steps=[step, written], issues=[issue])])

    path = tmp_path / "runs.db"
    RunStore(path).save(replayed("new", 24), Redactor())
    store = RunStore(path)
    assert [s["exchange_id"] for s in store.steps("new")] == [24, None]
    assert [i["exchange_id"] for i in store.issues("new")] == [24]

    # A store written before steps carried the id: the name is all there is.
    old = tmp_path / "old.db"
    RunStore(old).save(replayed("old", 24), Redactor())
    with sqlite3.connect(old) as conn:
        for table in ("steps", "issues"):
            conn.execute(f"ALTER TABLE {table} DROP COLUMN exchange_id")
    store = RunStore(old)
    assert [s["exchange_id"] for s in store.steps("old")] == [24, 7]
    assert [i["exchange_id"] for i in store.issues("old")] == [24]
    # Saving to it adds the column and fills it for the older rows, as an integer.
    store.save(replayed("new", 24), Redactor())
    assert [s["exchange_id"] for s in store.steps("old")] == [24, 7]
    assert [s["exchange_id"] for s in store.steps("new")] == [24, None]
    assert store.db.table("steps").columns_dict["exchange_id"] is int
