"""`replayqa run` against real apps: reports, exit codes, path isolation on both databases."""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET

from replayqa.demo.run import journeys_dir

NOTES_JOURNEY = """
name: notes_isolation
steps:
  - name: seed
    request: {method: POST, path: /notes, json: {text: seed}}
    expect: {status: 201}
  - checkpoint: seeded
  - branch:
      checkpoint: seeded
      paths:
        - name: first
          steps:
            - name: write
              request: {method: POST, path: /notes, json: {text: from-first}}
              expect:
                status: 201
                body: [{path: id, equals: 2}]
            - name: sees_own_write
              request: {method: GET, path: /notes}
              expect:
                body: [{path: "[1].text", equals: from-first}]
        - name: second
          steps:
            - name: sees_only_seed
              request: {method: GET, path: /notes}
              expect:
                status: 200
                body:
                  - {path: "[0].text", equals: seed}
                  - {path: "[1]", exists: false}
            - name: write_gets_the_same_id
              request: {method: POST, path: /notes, json: {text: from-second}}
              expect:
                body: [{path: id, equals: 2}]
"""


def test_paths_do_not_see_each_others_writes_on_postgres(cli, notes_app, tmp_path):
    app, dsn = notes_app
    (tmp_path / "notes.yaml").write_text(NOTES_JOURNEY)
    done = cli("run", "notes.yaml", "--base-url", app.base_url, "--db", dsn)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2/2 paths passed" in done.stdout


def test_paths_do_not_see_each_others_writes_on_sqlite(cli, demo_shop, tmp_path):
    journey = """
name: cart_isolation
steps:
  - name: login
    request: {method: POST, path: /auth/login, json: {email: admin@shop.test, password: admin-pass}}
    save: {token: token}
  - checkpoint: empty_cart
  - branch:
      checkpoint: empty_cart
      paths:
        - name: fills_cart
          steps:
            - name: add
              request:
                method: POST
                path: /cart/items
                headers: {Authorization: "Bearer {{ token }}"}
                json: {item_id: 2, quantity: 5}
              expect: {status: 201}
        - name: sees_empty_cart
          steps:
            - name: cart
              request: {method: GET, path: /cart, headers: {Authorization: "Bearer {{ token }}"}}
              expect:
                body: [{path: total_cents, equals: 0}, {path: "lines[0]", exists: false}]
"""
    (tmp_path / "cart.yaml").write_text(journey)
    done = cli("run", "cart.yaml", "--base-url", demo_shop.base_url, "--db", demo_shop.db_url)
    assert done.returncode == 0, done.stdout + done.stderr


def test_run_writes_reports_store_and_junit_and_exits_1_on_issues(cli, demo_shop, tmp_path):
    done = cli(
        "run",
        str(journeys_dir()),
        "--base-url",
        demo_shop.base_url,
        "--db",
        demo_shop.db_url,
        "--log-file",
        str(demo_shop.log_path),
        "--junit",
        "out/junit.xml",
    )
    assert done.returncode == 1, done.stderr
    assert "FAILED" in done.stdout

    suites = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    cases = {(c.get("classname"), c.get("name")): c for c in suites.iter("testcase")}
    assert set(cases) == {
        ("checkout_payment", "approved"),
        ("checkout_payment", "declined"),
        ("checkout_payment", "double_submit"),
        ("quantity_update", "main"),
        ("item_removal", "admin_deletes_item"),
        ("item_removal", "shopper_buys_item"),
    }
    assert cases[("checkout_payment", "approved")].find("failure") is None
    assert "expected status 409, got 201" in cases[("checkout_payment", "double_submit")].find("failure").get(
        "message"
    )

    report_dir = next((tmp_path / ".replayqa" / "reports").iterdir())
    markdown = (report_dir / "report.md").read_text()
    assert "POST http://127.0.0.1" in markdown and "Response: 201" in markdown
    assert "payment declined for order" in markdown  # the app's own log line
    assert "Bearer [redacted]" in markdown
    assert "admin-pass" not in markdown and "shopper-pass" not in markdown

    store = sqlite3.connect(tmp_path / ".replayqa" / "runs.db")
    runs = store.execute("SELECT passed, issues, paths FROM runs").fetchall()
    assert runs == [(0, 5, 6)]
    stored = " ".join(r[0] for r in store.execute("SELECT request FROM issues"))
    assert "[redacted]" in stored and "shopper-pass" not in stored


def test_run_json_summary(cli, demo_shop):
    yaml_journey = str(journeys_dir() / "checkout_payment.yaml")
    done = cli("run", yaml_journey, "--base-url", demo_shop.base_url, "--db", demo_shop.db_url, "--json")
    summary = json.loads(done.stdout)
    assert done.returncode == 1
    assert summary["summary"]["paths"] == 3 and summary["summary"]["paths_passed"] == 1
    assert {i["step"] for j in summary["journeys"] for i in j["issues"]} == {
        "cart_kept_after_decline",
        "second_checkout_refused",
    }


def test_settings_come_from_replayqa_toml_and_flags_override(cli, demo_shop, tmp_path):
    (tmp_path / "journeys").mkdir()
    source = (journeys_dir() / "checkout_payment.yaml").read_text()
    (tmp_path / "journeys" / "checkout.yaml").write_text(source)
    (tmp_path / "replayqa.toml").write_text(
        f'base_url = "http://127.0.0.1:1"\ndb = "{demo_shop.db_url}"\nreport_dir = "qa-reports"\n'
    )
    done = cli("run", "--base-url", demo_shop.base_url)
    assert done.returncode == 1, done.stderr
    assert (tmp_path / "qa-reports").is_dir()


def test_list_shows_journeys_with_their_paths(cli):
    done = cli("list", str(journeys_dir()))
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line.split()[1:3] for line in done.stdout.splitlines()[1:]}
    assert lines["checkout_payment"] == ["3", "10"]
    assert lines["item_removal"] == ["2", "9"]
    assert lines["quantity_update"] == ["1", "6"]


def test_known_issues_pass_with_fail_on_new(cli, demo_shop, tmp_path):
    base = ["run", str(journeys_dir()), "--base-url", demo_shop.base_url, "--db", demo_shop.db_url]
    assert cli(*base).returncode == 1
    remembered = json.loads(cli("issues", "list", "--json").stdout)
    assert len(remembered) == 5 and all(r["occurrences"] == 1 and r["status"] == "new" for r in remembered)

    assert cli(*base).returncode == 1
    remembered = json.loads(cli("issues", "list", "--json").stdout)
    assert {r["occurrences"] for r in remembered} == {2}, "the same bugs, the same fingerprints"

    fingerprints = [r["fingerprint"] for r in remembered]
    for fp in fingerprints[1:]:
        assert cli("issues", "mark", fp, "known", "--reason", "ticket").returncode == 0
    assert cli(*base, "--fail-on", "new").returncode == 1, "one issue is still new"
    (tmp_path / "replayqa.toml").write_text(
        f'[[known_issues]]\nfingerprint = "{fingerprints[0]}"\nreason = "BUG-9"\n'
    )
    done = cli(*base, "--fail-on", "new", "--junit", "junit.xml")
    assert done.returncode == 0, done.stdout
    assert "PASSED" in done.stdout and "(5 known)" in done.stdout
    assert 'failures="0"' in (tmp_path / "junit.xml").read_text()
    assert cli(*base).returncode == 1, "--fail-on any (the default) still fails on known issues"


def test_repeat_marks_a_step_that_both_passes_and_fails_as_flaky(cli, content_app, tmp_path):
    (tmp_path / "flaky.yaml").write_text(
        "name: sometimes\nsteps:\n  - name: alternate\n    request: {method: GET, path: /alternate}\n"
        "    expect: {status: 200}\n"
    )
    base = ["run", "flaky.yaml", "--base-url", content_app.base_url, "--repeat", "2", "--json"]
    done = cli(*base)
    assert done.returncode == 1, "flaky still fails by default"
    (issue,) = [i for j in json.loads(done.stdout)["journeys"] for i in j["issues"]]
    assert issue["status"] == "flaky" and issue["suggestion"].startswith("Flaky:")
    assert cli(*base, "--fail-on", "new").returncode == 0
    once = cli("run", "flaky.yaml", "--base-url", content_app.base_url, "--json")
    assert [i["status"] for j in json.loads(once.stdout)["journeys"] for i in j["issues"]] in ([], ["new"])
    bad = cli("run", "flaky.yaml", "--base-url", content_app.base_url, "--repeat", "0")
    assert bad.returncode == 2 and "--repeat 0" in bad.stderr
