"""`replayqa synth` end to end: real apps, real databases, the real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from replayqa.config import Settings
from replayqa.demo.app import ADMIN_EMAIL, ADMIN_PASSWORD
from replayqa.demo.run import spec_path
from replayqa.demo.server import DemoServer
from replayqa.execute import run_journeys
from replayqa.synth import synthesize
from replayqa.synth.coverage import Coverage
from replayqa.synth.openapi import Api
from tests.support.apps import ChildApp
from tests.support.library_app import library_spec

RECORDING = Path(__file__).parents[2] / "recordings" / "demo-shop.db"
ADMIN = ("--var", f"email={ADMIN_EMAIL}", "--var", f"password={ADMIN_PASSWORD}")
FIXED = {"REPLAYQA_DEMO_FIX_ALL": "1"}


@pytest.fixture
def shop(tmp_path):
    with DemoServer(tmp_path / "shop") as server:
        yield server


@pytest.fixture
def fixed_shop(tmp_path):
    with DemoServer(tmp_path / "fixed", env=FIXED) as server:
        yield server


def issues_of(done) -> list[dict]:
    return [i for j in json.loads(done.stdout)["journeys"] for i in j["issues"]]


def test_synth_from_the_demo_spec_finds_every_planted_bug(cli, shop, tmp_path):
    app = ("--base-url", shop.base_url, "--db", shop.db_url)
    done = cli("synth", "--spec", str(spec_path()), "--out", "journeys", *ADMIN, *app)
    assert done.returncode == 1, done.stdout + done.stderr  # it found issues, and kept those journeys
    assert "Quality gate (3 runs)" in done.stdout and "found:" in done.stdout
    ran = cli("run", "journeys", "--json", *ADMIN, *app)
    assert ran.returncode == 1, ran.stderr
    issues = issues_of(ran)
    text = [f"{i['path']} {i['step']} {i['error']}" for i in issues]

    def found(*needles: str) -> bool:
        return any(all(n in t for n in needles) for t in text)

    assert found("twice", "checkout_cart_again", "changed the database again: orders/")  # double charge
    assert found("example_declined", "402", "cart_lines/")  # a declined payment emptied the cart
    assert found("update_cart_quantity", "again", "carts/", "total_cents")  # total wrong after an update
    assert found("deleted resources are gone", "still refers to deleted item")  # item left in carts
    for issue in issues:  # every issue carries the evidence
        assert issue["request"] and issue["response"] and issue["suggestion"]


def test_synth_from_the_demo_spec_passes_on_the_fixed_shop_and_reaches_every_operation(fixed_shop, tmp_path):
    result = synthesize(spec_path(), variables=["email", "password"])
    settings = Settings(
        base_url=fixed_shop.base_url,
        db=fixed_shop.db_url,
        vars={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        report_dir=str(tmp_path / "reports"),
        store=str(tmp_path / "runs.db"),
    )
    outcome = run_journeys(result.journeys, settings)
    assert outcome.result.passed, [i.error for i in outcome.result.issues]
    coverage = Coverage(Api.load(spec_path()))
    coverage.add_run(outcome.result)
    assert [r["operation"] for r in coverage.rows() if not r["reached_2xx"]] == []
    names = {j.name for j in result.journeys}
    assert {"item_lifecycle", "cart_lifecycle", "order_lifecycle", "every_operation"} <= names


def top_level(journey_file: Path) -> dict:
    return yaml.safe_load(journey_file.read_text())


def test_synth_from_recordings_shares_a_trunk_and_passes_where_recorded(cli, fixed_shop, tmp_path):
    app = ("--base-url", fixed_shop.base_url, "--db", fixed_shop.db_url)
    done = cli(
        "synth",
        "--spec",
        str(spec_path()),
        str(RECORDING),
        "--out",
        "journeys",
        "--var",
        f"password={ADMIN_PASSWORD}",
        *app,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 flaky" in done.stdout and "exposing 0" in done.stdout
    files = sorted((tmp_path / "journeys").glob("*.yaml"))
    merged = [top_level(f) for f in files if any("branch" in n for n in top_level(f)["steps"])]
    trunk = merged[0]["steps"]
    names = [n["name"] for n in trunk if "name" in n]
    assert names[:2] == ["register_user", "login"]  # the shared start runs once
    last = trunk[-1]["branch"]
    assert trunk[-2] == {"checkpoint": last["checkpoint"]}
    assert {p["name"] for p in last["paths"]} == {"declined_payment", "double_submit", "quantity_update"}
    login = next(n for n in trunk if n.get("name") == "login")
    assert login["request"]["json"]["email"] == "{{ steps.register_user.body.email }}"  # traced, not copied
    assert "{{ password }}" in json.dumps(trunk)  # the redacted secret is a run-time value
    relations = [i for i in merged[0]["invariants"] if i["kind"] == "relation"]
    assert any(i["expression"] == "total_cents == sum(lines[*].line_total_cents)" for i in relations)

    before = {f.name: f.read_text() for f in files}
    again = cli("synth", "--spec", str(spec_path()), str(RECORDING), "--out", "journeys")
    assert again.returncode == 0
    assert {f.name: f.read_text() for f in sorted((tmp_path / "journeys").glob("*.yaml"))} == before


def test_synth_from_recordings_alone_without_a_spec_passes_where_recorded(cli, fixed_shop, tmp_path):
    """Many apps publish no spec: what each request needs is still traced from earlier responses."""
    app = ("--base-url", fixed_shop.base_url, "--db", fixed_shop.db_url)
    secret = ("--var", f"password={ADMIN_PASSWORD}")
    done = cli("synth", str(RECORDING), "--out", "journeys", *secret, *app)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 flaky" in done.stdout and "exposing 0" in done.stdout, done.stdout
    written = "".join(f.read_text() for f in (tmp_path / "journeys").glob("*.yaml"))
    assert "{{ steps.register_user.body.email }}" not in written  # no spec, so no operation names
    assert "body.email }}" in written  # but the login's email is still traced to the response
    nothing = cli("synth", "--out", "journeys")
    assert nothing.returncode == 2 and "give --spec SPEC, recordings, or both" in nothing.stderr


def test_recorded_journeys_catch_the_bugs_the_recordings_walked_past(cli, shop, tmp_path):
    made = cli("synth", "--spec", str(spec_path()), str(RECORDING), "--out", "journeys")
    assert made.returncode == 0, made.stderr
    ran = cli(
        "run",
        "journeys",
        "--json",
        "--base-url",
        shop.base_url,
        "--db",
        shop.db_url,
        "--var",
        f"password={ADMIN_PASSWORD}",
    )
    text = [f"{i['path']} {i['step']} {i['error']}" for i in issues_of(ran)]
    assert any("double_submit checkout_cart_2 expected status 409, got 201" in t for t in text)
    assert any("total_cents == sum(lines[*].line_total_cents) does not hold" in t for t in text)


def test_export_pytest_runs_the_journeys_under_pytest(cli, fixed_shop, tmp_path):
    assert cli("synth", "--spec", str(spec_path()), "--out", "journeys", *ADMIN).returncode == 0
    done = cli("export", "pytest", "journeys", "-o", "exported")
    assert done.returncode == 0, done.stderr
    env = {
        **os.environ,
        "REPLAYQA_BASE_URL": fixed_shop.base_url,
        "REPLAYQA_DB": fixed_shop.db_url,
        "REPLAYQA_VAR_EMAIL": ADMIN_EMAIL,
        "REPLAYQA_VAR_PASSWORD": ADMIN_PASSWORD,
    }
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "exported"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert "4 passed" in tests.stdout or "5 passed" in tests.stdout


def test_coverage_of_a_recording(cli):
    done = cli("coverage", "--spec", str(spec_path()), str(RECORDING), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    rows = {r["operation"]: r for r in report["operations"]}
    assert rows["checkoutCart"]["statuses_seen"] == ["201", "402", "409"]
    assert "404" in rows["checkoutCart"]["documented_missed"]
    assert not rows["listItems"]["exercised"]
    assert report["summary"]["exercised"] == sum(r["exercised"] for r in rows.values())
    table = cli("coverage", "--spec", str(spec_path()), str(RECORDING), "--missing")
    assert "Operations exercised: 9/14" in table.stdout


@pytest.fixture
def library(tmp_path):
    app = ChildApp("library_app.py", str(tmp_path / "library-test.db"))
    yield app, tmp_path / "library-test.db"
    app.stop()


def synth_library(cli, folder: Path, base_url: str, db: Path):
    spec = folder / "library.json"
    spec.write_text(json.dumps(library_spec()))
    return spec, cli(
        "synth", "--spec", str(spec), "--out", "journeys", "--base-url", base_url, "--db", f"sqlite:///{db}"
    )


def test_synth_on_a_third_party_style_spec(cli, library, tmp_path):
    app, db = library
    spec, done = synth_library(cli, tmp_path, app.base_url, db)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "exposing 0" in done.stdout and "0 flaky" in done.stdout
    settings = Settings(
        base_url=app.base_url,
        db=f"sqlite:///{db}",
        report_dir=str(tmp_path / "r"),
        store=str(tmp_path / "s.db"),
    )
    outcome = run_journeys(synthesize(spec).journeys, settings)
    coverage = Coverage(Api.load(spec))
    coverage.add_run(outcome.result)
    assert coverage.summary()["operations"] == 53
    assert [r["operation"] for r in coverage.rows() if not r["reached_2xx"]] == []
    # the link from createAuthor was followed: getAuthor reads the author just made
    lifecycle = yaml.safe_load((tmp_path / "journeys" / "author_lifecycle.yaml").read_text())
    read = next(s for s in lifecycle["steps"] if s.get("name") == "read_author")
    assert read["request"]["path"] == "/api/v2/authors/{{ author_id }}"


def test_server_errors_are_found_once_each(cli, tmp_path):
    app = ChildApp("library_app.py", str(tmp_path / "library-test.db"), "--server-errors")
    try:
        _, done = synth_library(cli, tmp_path, app.base_url, tmp_path / "library-test.db")
    finally:
        app.stop()
    assert done.returncode == 1, done.stdout + done.stderr
    found = [line for line in done.stdout.replace("\n  ", "\n\t").split("\n\t") if line.startswith("found:")]
    server_errors = [f for f in found if ": 500 " in f]
    assert len(server_errors) == 2, done.stdout  # search, and a book's pages: not one per request
    assert any("seen" in f and "times" in f for f in server_errors)


def test_the_fuzz_phase_finds_a_server_error_only_a_boundary_value_reaches(cli, tmp_path):
    db = tmp_path / "library-test.db"
    app = ChildApp("library_app.py", str(db), "--server-errors")
    try:
        spec = tmp_path / "library.json"
        spec.write_text(json.dumps(library_spec()))
        done = cli(
            "synth", "--spec", str(spec), "--out", "journeys", "--base-url", app.base_url,
            "--db", f"sqlite:///{db}", "--max-time", "60",
        )  # fmt: skip
        assert done.returncode == 1, done.stdout + done.stderr
        text = " ".join(done.stdout.split())
        # The quality gate's journeys never send a NUL character; the fuzz phase does, one field at
        # a time, and keeps the request that made the 500 as a journey that makes it again.
        assert "answered 500 to body" in text and "a NUL character" in text, text
        # a value outside an enum gets 501 here, on purpose: a deliberate 5xx is no finding
        assert "answered 501" not in text, text
        reproducers = tmp_path / "journeys" / "server_errors.yaml"
        assert reproducers.exists()
        ran = cli("run", str(reproducers), "--base-url", app.base_url, "--db", f"sqlite:///{db}", "--json")
        assert ran.returncode == 1, ran.stderr
        statuses = {i["response"]["status"] for i in issues_of(ran)}
        assert statuses == {500}, issues_of(ran)
        # coverage counts what the app answered, from the run store synth filled (gate and fuzz)
        table = cli("coverage", "--spec", str(spec), ".replayqa/runs.db", "--json")
        assert table.returncode == 0, table.stderr
        # all 53 operations but the search, which answers 500 to everything in this mode
        assert json.loads(table.stdout)["summary"]["reached_2xx"] == 52
    finally:
        app.stop()


def test_a_cookie_session_app_with_csrf_is_synthesized_from_its_login_form(cli, tmp_path):
    """The spec declares no security; every API call needs the session cookie and every change
    the CSRF token echoed. Without a way to log in, all of it answers 403; with --auth form:/login,
    synth logs in once per journey and reports nothing false."""
    db = tmp_path / "notes-test.db"
    app = ChildApp("session_app.py", str(db))
    try:
        spec = f"{app.base_url}/openapi.json"
        login = ("--auth", "form:/login", "--var", "username=admin", "--var", "password=s3cret-pass")
        where = ("--base-url", app.base_url, "--db", f"sqlite:///{db}")
        done = cli("synth", "--spec", spec, "--out", "journeys", *login, *where, "--max-time", "40")
        assert done.returncode == 0, done.stdout + done.stderr
        text = " ".join(done.stdout.split())
        assert "exposing 0" in text and "0 flaky" in text, text
        # all but the edit, which wants an If-Match the spec does not mention: that one is only
        # checked for server errors, not reported as failing. The file a PUT makes at a name the
        # client chose is made first wherever a read or a delete names it.
        assert "7 of 8 operations answered 2xx" in text, text
        ran = cli(
            "run", "journeys", *where, "--var", "username=admin", "--var", "password=s3cret-pass", "--json"
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr
        steps = [s for j in json.loads(ran.stdout)["journeys"] for s in j["steps"]]
        statuses = [(s["exchange"]["request"]["method"], s["exchange"]["response"]["status"]) for s in steps]
        assert ("DELETE", 204) in statuses and ("POST", 201) in statuses, statuses
        assert all(status != 403 for _, status in statuses)  # logged in, and every change had its token
        # Without a way to log in, every call answers 403; the probe reaches nothing, so no
        # step expects a 2xx and nothing false is reported.
        bare = cli("synth", "--spec", spec, "--out", "bare", *where, "--max-time", "20")
        assert bare.returncode == 0, bare.stdout + bare.stderr
        assert "exposing 0" in " ".join(bare.stdout.split())
    finally:
        app.stop()


def test_synth_from_a_cookie_and_csrf_recording_runs_and_passes(cli, recording_proxy, tmp_path):
    """A browser-style session: the login page's CSRF cookie, the form post, then API changes
    repeating the token in X-CSRFToken. The recording redacts the token; the journeys synth
    writes from it must not ask for it, since the app hands a new one out every run."""
    import httpx

    db = tmp_path / "notes-test.db"
    app = ChildApp("session_app.py", str(db))
    try:
        proxy = recording_proxy("--upstream", app.base_url, "--out", "rec.db", "--db", f"sqlite:///{db}")
        with httpx.Client(base_url=proxy.url) as browser:
            browser.get("/login")
            token = browser.cookies["csrftoken"]
            csrf = {"X-CSRFToken": token}
            browser.post("/login", data={"username": "admin", "password": "s3cret-pass"}, headers=csrf)
            made = browser.post("/api/notes", json={"text": "buy milk"}, headers=csrf).json()
            read = browser.get(f"/api/notes/{made['id']}")
            assert read.status_code == 200
            # an edit guarded by the ETag the read handed out: a new one every run
            fresh = {**csrf, "If-Match": read.headers["etag"]}
            assert (
                browser.patch(
                    f"/api/notes/{made['id']}", json={"text": "oat milk"}, headers=fresh
                ).status_code
                == 200
            )
            assert browser.delete(f"/api/notes/{made['id']}", headers=csrf).status_code == 204
            # a file at a name the client chose: made (201), saved again (200), read, deleted
            saved = [browser.put("/api/files/todo.txt", json={"text": t}, headers=csrf) for t in "ab"]
            assert [r.status_code for r in saved] == [201, 200]
            assert browser.get("/api/files/todo.txt").json() == {"text": "b"}
            assert browser.delete("/api/files/todo.txt", headers=csrf).status_code == 204
        code, _, err = proxy.stop()
        assert code == 0, err
        spec = f"{app.base_url}/openapi.json"
        where = ("--base-url", app.base_url, "--db", f"sqlite:///{db}")
        secret = ("--var", "password=s3cret-pass")
        done = cli("synth", "--spec", spec, "rec.db", "--out", "journeys", *secret, *where)
        assert done.returncode == 0, done.stdout + done.stderr
        written = "".join(p.read_text() for p in (tmp_path / "journeys").glob("*.yaml"))
        assert "csrf" not in written.lower()  # no {{ x_csrftoken }} to ask for: the client echoes the cookie
        ran = cli("run", "journeys", *where, *secret, "--json")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        again = cli("run", "journeys", *where, *secret, "--json")  # each run makes its own file
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        app.stop()
