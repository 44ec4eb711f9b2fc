from replayqa.store import RunStore
from tests.test_report import make_run


def test_runs_and_their_issues_are_kept_redacted(tmp_path):
    store = RunStore(tmp_path / ".replayqa" / "runs.db")
    store.save(make_run())
    (run,) = store.runs()
    assert (run["run_id"], run["passed"], run["paths"], run["issues"]) == ("run-1", 0, 2, 1)
    (issue,) = store.issues("run-1")
    assert issue["step"] == "pay" and "secret-token" not in issue["request"]
    assert sorted(store.db.table_names()) == ["issues", "runs", "steps"]
