"""`replayqa demo`: the README's first command, end to end."""

from __future__ import annotations

import json

from replayqa.demo.bugs import BUGS


def test_demo_finds_every_planted_bug_with_request_and_response(cli):
    done = cli("demo", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["as_intended"] and not summary["unexpected_issues"]
    assert [b["bug"] for b in summary["bugs"] if b["found"]] == [b.key for b in BUGS]
    for bug in summary["bugs"]:
        issue = bug["issues"][0]
        assert (issue["journey"], issue["path"], issue["step"]) == (bug["journey"], bug["path"], bug["step"])
        assert issue["request"]["method"] and issue["request"]["url"].startswith("http://127.0.0.1:")
        assert issue["response"]["status"] in (200, 201)
        assert issue["logs"], "the app's log lines come with every issue"
        assert issue["suggestion"]
    declined = next(b for b in summary["bugs"] if b["bug"] == "declined_cart")["issues"][0]
    assert json.loads(declined["response"]["body"])["lines"] == []


def test_with_the_bugs_switched_off_the_demo_journeys_pass(cli):
    done = cli("demo", "--json", env={"REPLAYQA_DEMO_FIX_ALL": "1"})
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["passed"] and summary["as_intended"]
    assert not any(b["found"] for b in summary["bugs"])


def test_one_bug_switched_off_is_not_reported(cli):
    done = cli("demo", "--json", env={"REPLAYQA_DEMO_FIX_DOUBLE_CHARGE": "1"})
    summary = json.loads(done.stdout)
    found = {b["bug"]: b["found"] for b in summary["bugs"]}
    assert found == {
        "declined_cart": True,
        "double_charge": False,
        "deleted_item": True,
        "quantity_total": True,
    }
    assert done.returncode == 0


def test_demo_text_output_names_each_bug_and_fits_80_columns(cli):
    done = cli("demo")
    assert done.returncode == 0, done.stderr
    for bug in BUGS:
        assert f"found  {bug.title}" in done.stdout
    assert "request  GET /cart" in done.stdout
    assert all(len(line) <= 80 for line in done.stdout.splitlines())
    assert "report.md" in done.stdout
