"""A self-contained HTML report: summary, then each issue with recorded and replayed side by side.

One file, no scripts, no external styles, so it opens from a CI artifact as is.
Everything shown is redacted.
"""

from __future__ import annotations

import json
import time
from html import escape
from pathlib import Path
from typing import Any

from replayqa.model import HttpRequest, HttpResponse, Issue, RunResult, plural
from replayqa.redact import Redactor
from replayqa.report.serialize import summary

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:78rem;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2.5rem;border-top:1px solid #ddd;padding-top:1rem}
table{border-collapse:collapse}td,th{padding:.25rem .75rem;border-bottom:1px solid #eee;text-align:left}
.passed{color:#1a7f37}.failed{color:#cf222e;font-weight:600}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
pre{background:#f6f8fa;padding:.75rem;overflow:auto;max-height:28rem;font-size:12.5px;margin:.25rem 0}
.diff li{font-family:ui-monospace,monospace;font-size:12.5px}.old{background:#ffebe9}.new{background:#dafbe1}
.meta{color:#57606a}
"""


def write_html(run: RunResult, path: Path, redactor: Redactor) -> Path:
    path.write_text(render_html(run, redactor), encoding="utf-8")
    return path


def render_html(run: RunResult, redactor: Redactor) -> str:
    counts = summary(run)
    verdict = "passed" if run.passed else "failed"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.started_at))
    rows = "".join(
        f"<tr><td>{escape(j.journey)}</td><td>{escape(p.path)}</td>"
        f"<td class={'passed' if p.passed else 'failed'}>{'passed' if p.passed else 'failed'}</td>"
        f"<td>{len(p.steps)}</td></tr>"
        for j in run.journeys
        for p in j.paths
    )
    issues = "".join(_issue(number, issue, redactor) for number, issue in enumerate(run.issues, 1))
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>replayqa {escape(run.run_id)}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>replayqa run {escape(run.run_id)}</h1>"
        f"<p class={verdict}>{verdict.upper()}: {counts['paths_passed']} of {counts['paths']} paths passed, "
        f"{plural(counts['issues'], 'issue')}, {plural(counts['steps'], 'step')} "
        f"in {run.duration_ms / 1000:.1f}s</p>"
        f"<p class=meta>against {escape(run.base_url or 'the app')}, started {started}</p>"
        f"<table><tr><th>Journey</th><th>Path</th><th>Result</th><th>Steps</th></tr>{rows}</table>"
        f"{issues}</body></html>\n"
    )


def _issue(number: int, issue: Issue, redactor: Redactor) -> str:
    issue = redactor.issue(issue)
    where = " › ".join(escape(part) for part in (issue.journey, issue.path, issue.step))
    parts = [
        f"<h2 id=issue-{number}>{number}. {where}</h2>",
        f"<p><b>{escape(issue.severity.value)}</b> ({escape(issue.kind)}): {escape(issue.error)}</p>",
        f"<p class=meta>Suggestion: {escape(issue.suggestion)}</p>",
    ]
    request = issue.request
    if request is not None:
        parts.append(f"<h3>Request</h3><pre>{escape(_request(request))}</pre>")
    replayed, recorded = issue.response, issue.expected
    if recorded is not None:
        parts.append(
            "<div class=pair>"
            f"<div><h3>Recorded: {recorded.status}</h3><pre>{escape(_body(recorded))}</pre></div>"
            f"<div><h3>Replayed: {replayed.status if replayed else '—'}</h3>"
            f"<pre>{escape(_body(replayed) if replayed else '')}</pre></div></div>"
        )
    elif replayed is not None:
        parts.append(f"<h3>Response: {replayed.status}</h3><pre>{escape(_body(replayed))}</pre>")
    if issue.diff:
        items = "".join(
            f"<li>{escape(d['where'])} <b>{escape(d['path'])}</b> {escape(d['kind'])}: "
            f"<span class=old>{escape(_short(d.get('old')))}</span> → "
            f"<span class=new>{escape(_short(d.get('new')))}</span></li>"
            for d in issue.diff[:200]
        )
        parts.append(f"<h3>Differences</h3><ul class=diff>{items}</ul>")
    if issue.logs:
        parts.append(f"<h3>App log</h3><pre>{escape(chr(10).join(issue.logs))}</pre>")
    return "".join(parts)


def _request(request: HttpRequest) -> str:
    head = [f"{request.method} {request.url}"]
    head += [
        f"{k}: {v}"
        for k, v in request.headers.items()
        if k.lower() in ("authorization", "content-type", "cookie")
    ]
    return "\n".join(head) + (f"\n\n{_pretty(request.body)}" if request.body else "")


def _body(response: HttpResponse) -> str:
    return _pretty(response.body)


def _pretty(text: str | None) -> str:
    if not text:
        return ""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)[:20000]
    except ValueError:
        return text[:20000]


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."
