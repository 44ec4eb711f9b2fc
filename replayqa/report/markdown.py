"""The Markdown report: a summary a person reads first, then every issue in full."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from replayqa.model import HttpRequest, HttpResponse, Issue, IssueStatus, RunResult, plural
from replayqa.redact import Redactor
from replayqa.report.serialize import summary

_MAX_BODY = 4000


def write_markdown(run: RunResult, path: Path, redactor: Redactor) -> Path:
    path.write_text(render_markdown(run, redactor), encoding="utf-8")
    return path


def render_markdown(run: RunResult, redactor: Redactor) -> str:
    counts = summary(run)
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.started_at))
    verdict = "PASSED" if run.passed else "FAILED"
    lines = [
        f"# replayqa run {run.run_id}",
        "",
        f"**{verdict}**: {counts['paths_passed']} of {counts['paths']} paths passed, "
        f"{plural(counts['issues'], 'issue')}, {plural(counts['steps'], 'step')} "
        f"in {run.duration_ms / 1000:.1f}s "
        f"against {run.base_url or 'the app'} (started {started}).",
        "",
        "| Journey | Path | Result | Steps |",
        "|---|---|---|---|",
    ]
    for journey in run.journeys:
        for result in journey.paths:
            mark = "passed" if result.passed else "**failed**"
            lines.append(f"| {journey.journey} | {result.path} | {mark} | {len(result.steps)} |")
    if run.issues:
        lines += ["", "## Issues", ""]
        for number, issue in enumerate(run.issues, 1):
            known = f" (known: {issue.status})" if issue.status != IssueStatus.NEW else ""
            lines += [
                f"### {number}. {issue.journey} › {issue.path} › {issue.step}{known}",
                "",
                issue_markdown(issue, redactor),
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


def issue_markdown(issue: Issue, redactor: Redactor) -> str:
    issue = redactor.issue(issue)
    parts = [
        f"- **Severity:** {issue.severity.value} ({issue.kind}), fingerprint `{issue.fingerprint or '-'}`",
        f"- **Error:** {issue.error}",
        f"- **Suggestion:** {issue.suggestion}",
    ]
    request, response = issue.request, issue.response
    if request:
        parts += ["", "Request:", "", "```http", _request_text(request), "```"]
    if response:
        parts += [
            "",
            f"Response: {response.status}",
            "",
            f"```{_fence(response)}",
            _body(response.body),
            "```",
        ]
    if issue.expected is not None:
        recorded = issue.expected
        parts += [
            "",
            f"Recorded response: {recorded.status}",
            "",
            f"```{_fence(recorded)}",
            _body(recorded.body),
            "```",
        ]
    if issue.diff:
        parts += ["", "Differences:", ""]
        parts += [f"- `{d['where']} {d['path']}`: {d['kind']} {_pair(d)}" for d in issue.diff[:50]]
    if issue.logs:
        parts += ["", f"App log (last {len(issue.logs)} lines):", "", "```", *issue.logs, "```"]
    return "\n".join(parts)


def _pair(difference: dict[str, Any]) -> str:
    old, new = json.dumps(difference.get("old")), json.dumps(difference.get("new"))
    short = [text if len(text) <= 60 else text[:57] + "..." for text in (old, new)]
    return f"{short[0]} → {short[1]}"


def issue_text(issue: Issue, redactor: Redactor) -> str:
    """Plain text for places without Markdown, such as a JUnit failure body."""
    issue = redactor.issue(issue)
    request, response = issue.request, issue.response
    lines = [f"{issue.step}: {issue.error}", f"suggestion: {issue.suggestion}"]
    if request:
        lines += ["", _request_text(request)]
    if response:
        lines += ["", f"response {response.status}:", _body(response.body)]
    if issue.logs:
        lines += ["", "app log:", *issue.logs]
    return "\n".join(lines)


def _request_text(request: HttpRequest) -> str:
    shown = {
        k: v
        for k, v in request.headers.items()
        if k.lower() in {"authorization", "content-type", "cookie", "accept"}
    }
    head = [f"{request.method} {request.url}", *(f"{k}: {v}" for k, v in shown.items())]
    return "\n".join(head + (["", _body(request.body)] if request.body else []))


def _fence(response: HttpResponse) -> str:
    content_type = next((v for k, v in response.headers.items() if k.lower() == "content-type"), "")
    return "json" if "json" in content_type else ""


def _body(body: str | None) -> str:
    if not body:
        return ""
    try:
        text = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        text = body
    return text if len(text) <= _MAX_BODY else text[:_MAX_BODY] + f"\n... ({len(text)} characters)"
