"""Reports: what a reader sees, and that no secret reaches the file."""

import json
import xml.etree.ElementTree as ET

from replayqa.model import (
    HttpRequest,
    HttpResponse,
    Issue,
    JourneyResult,
    PathResult,
    RunResult,
    Severity,
    StepResult,
)
from replayqa.redact import Redactor
from replayqa.report import write_reports
from replayqa.report.markdown import render_markdown


def make_run() -> RunResult:
    request = HttpRequest(
        "POST",
        "http://app/pay",
        {"authorization": "Bearer secret-token"},
        '{"card_number": "4000000000000002", "password": "pw-123456"}',
    )
    response = HttpResponse(500, {"content-type": "application/json"}, '{"error": "boom"}')
    issue = Issue(
        "checkout",
        "declined",
        "pay",
        "status 500",
        Severity.HIGH,
        "step",
        request,
        response,
        ["ERROR payment failed", "Traceback ..."],
        "Look at the log",
    )
    ok = StepResult("checkout", "approved", "pay", True)
    bad = StepResult("checkout", "declined", "pay", False, error="status 500")
    journey = JourneyResult(
        "checkout",
        [PathResult("checkout", "approved", [ok]), PathResult("checkout", "declined", [bad], [issue])],
        [ok, bad],
        [issue],
    )
    return RunResult("run-1", [journey], started_at=0, duration_ms=1234, base_url="http://app")


def test_markdown_has_a_summary_then_each_issue_in_full():
    text = render_markdown(make_run(), Redactor())
    assert "**FAILED**: 1 of 2 paths passed, 1 issue, 2 steps" in text
    assert "| checkout | declined | **failed** | 1 |" in text
    assert "### 1. checkout › declined › pay" in text
    for part in (
        "POST http://app/pay",
        "Response: 500",
        '"error": "boom"',
        "Traceback ...",
        "Look at the log",
    ):
        assert part in text


def test_every_report_file_is_redacted(tmp_path):
    paths = write_reports(make_run(), tmp_path, Redactor())
    for path in paths.values():
        text = path.read_text()
        assert "secret-token" not in text and "pw-123456" not in text and "4000000000000002" not in text
        assert "0002" in text  # the card's last four stay, to tell test cards apart


def test_junit_has_one_testcase_per_path(tmp_path):
    junit = write_reports(make_run(), tmp_path, Redactor())["junit"]
    root = ET.parse(junit).getroot()
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert cases["approved"].find("failure") is None
    assert cases["declined"].find("failure").get("message") == "pay: status 500"


def test_json_report_round_trips(tmp_path):
    data = json.loads(write_reports(make_run(), tmp_path, Redactor())["json"].read_text())
    assert data["summary"] == {
        "journeys": 1,
        "journeys_passed": 0,
        "paths": 2,
        "paths_passed": 1,
        "steps": 2,
        "issues": 1,
    }
    assert data["journeys"][0]["issues"][0]["logs"] == ["ERROR payment failed", "Traceback ..."]


def test_html_report_is_self_contained_with_recorded_and_replayed_side_by_side(tmp_path):
    run = make_run()
    issue = run.issues[0]
    issue.expected = HttpResponse(200, {"content-type": "application/json"}, '{"status": "paid"}')
    issue.diff = [{"where": "status", "path": "status", "kind": "changed", "old": 200, "new": 500}]
    html = write_reports(run, tmp_path, Redactor())["html"].read_text()
    assert html.startswith("<!doctype html>") and "<script" not in html and "http-equiv" not in html
    assert "Recorded: 200" in html and "Replayed: 500" in html and "class=pair" in html
    assert "<b>status</b> changed" in html and "Traceback ..." in html
    assert "secret-token" not in html and "pw-123456" not in html
