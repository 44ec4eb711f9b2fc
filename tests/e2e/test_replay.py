"""`replayqa replay` of the committed demo recording against real demo shops."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from replayqa.demo.bugs import BUGS
from replayqa.demo.server import DemoServer

RECORDING = Path(__file__).resolve().parents[2] / "recordings" / "demo-shop.db"
SECRET = ["--secret", "password=admin-pass"]


def record_gets(recording_proxy, app, out: str, *paths: str) -> None:
    """Record GETs of ``paths`` through a reverse proxy in front of ``app`` into ``out``."""
    import httpx

    proxy = recording_proxy("--upstream", app.base_url, "--out", out)
    with httpx.Client(base_url=proxy.url) as client:
        for path in paths:
            client.get(path)
    assert proxy.stop()[0] == 0


def replay_against(cli, tmp_path, env: dict[str, str], *extra: str):
    with DemoServer(tmp_path / f"shop-{len(list(tmp_path.iterdir()))}", env=env) as shop:
        done = cli(
            "replay",
            str(RECORDING),
            "--base-url",
            shop.base_url,
            "--db",
            shop.db_url,
            *SECRET,
            "--json",
            *extra,
        )
    return done, (json.loads(done.stdout) if done.stdout.startswith("{") else None)


def record_runs(recording_proxy, database: Path, session) -> None:
    """Record ``session(client)`` against the runs app on ``database`` into runs.db, with --db."""
    import httpx

    from tests.support.apps import ChildApp

    app = ChildApp("runs_app.py", str(database))
    try:
        proxy = recording_proxy(
            "--upstream", app.base_url, "--out", "runs.db", "--db", f"sqlite:///{database}"
        )
        with httpx.Client(base_url=proxy.url) as client:
            session(client)
        assert proxy.stop()[0] == 0
    finally:
        app.stop()


def replay_runs(cli, database: Path, *bug: str, json_output: bool = True):
    from tests.support.apps import ChildApp

    app = ChildApp("runs_app.py", str(database), *bug)
    try:
        db = f"sqlite:///{database}"
        return cli(
            "replay", "runs.db", "--base-url", app.base_url, "--db", db, *(["--json"] if json_output else [])
        )
    finally:
        app.stop()


def test_the_unchanged_app_replays_with_no_differences_three_times_in_a_row(cli, tmp_path):
    for _ in range(3):
        done, summary = replay_against(cli, tmp_path, {"REPLAYQA_DEMO_FIX_ALL": "1"})
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr
        # the 24 recorded requests, and each of the 4 session groups' database comparison
        assert summary["summary"]["issues"] == 0 and summary["summary"]["steps"] == 24 + 4


EXPECTED = {
    "declined_cart": ("declined-payment", "#5 GET /cart", "$.total_cents"),
    "double_charge": ("double-submit", "#10 POST /carts/2/checkout", "status"),
    "quantity_total": ("quantity-update", "#15 PATCH /cart/items/3", "$.total_cents"),
    "deleted_item": ("item-removal", "#24 GET /cart", "$.lines[0]"),
}


@pytest.mark.parametrize("bug", [b.key for b in BUGS])
def test_each_planted_bug_shows_as_a_diff(cli, tmp_path, bug):
    env = {"REPLAYQA_DEMO_FIX_ALL": "0", **{b.env: "1" for b in BUGS if b.key != bug}}
    done, summary = replay_against(cli, tmp_path, env)
    assert done.returncode == 1, done.stderr
    issues = [i for j in summary["journeys"] for i in j["issues"]]
    session, step, path = EXPECTED[bug]
    regression = next(i for i in issues if i["journey"] == session and i["step"] == step)
    assert path in [d["path"] for d in regression["diff"]]
    assert regression["expected"]["status"] and regression["response"]["status"]
    assert {i["journey"] for i in issues} == {session}, "the other sessions replay cleanly"
    if bug in ("declined_cart", "double_charge", "deleted_item"):
        assert any(i["kind"] == "db-regression" for i in issues), "the database effects differ too"


def test_one_session_by_name(cli, tmp_path):
    done, summary = replay_against(
        cli, tmp_path, {"REPLAYQA_DEMO_FIX_ALL": "1"}, "--session", "double-submit"
    )
    assert done.returncode == 0 and [j["name"] for j in summary["journeys"]] == ["double-submit"]


def test_bad_input(cli, tmp_path, demo_shop):
    base = ["--base-url", demo_shop.base_url]
    done = cli("replay", str(RECORDING), *base, "--session", "nope")
    assert done.returncode == 2 and "no session named nope" in done.stderr and "double-submit" in done.stderr

    newer = tmp_path / "newer.db"
    shutil.copy(RECORDING, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'format'", (json.dumps("replayqa-recording/2"),))
    done = cli("replay", str(newer), *base)
    assert done.returncode == 2 and "is a replayqa-recording/2 recording, newer than" in done.stderr
    assert "upgrade replayqa" in done.stderr

    done = cli("replay", str(RECORDING), *base, "--secret", "password")
    assert done.returncode == 2 and "NAME=VALUE" in done.stderr
    for result in (done,):
        assert "Traceback" not in result.stderr


def test_with_a_spec_every_replayed_response_is_validated(cli, tmp_path):
    from replayqa.demo.run import spec_path

    done, summary = replay_against(cli, tmp_path, {"REPLAYQA_DEMO_FIX_ALL": "1"}, "--spec", str(spec_path()))
    assert done.returncode == 0, done.stdout[-1500:]
    broken = tmp_path / "broken-spec.yaml"
    broken.write_text(
        spec_path().read_text().replace("total_cents: {type: integer}", "total_cents: {type: string}")
    )
    done, summary = replay_against(cli, tmp_path, {"REPLAYQA_DEMO_FIX_ALL": "1"}, "--spec", str(broken))
    assert done.returncode == 1
    errors = [i["error"] for j in summary["journeys"] for i in j["issues"]]
    assert any("does not match the OpenAPI spec" in e and "total_cents" in e for e in errors)


def test_a_spec_that_does_not_parse(cli, tmp_path, demo_shop):
    (tmp_path / "spec.yaml").write_text("openapi: [unclosed\n")
    done = cli("replay", str(RECORDING), "--base-url", demo_shop.base_url, "--spec", "spec.yaml")
    assert done.returncode == 2 and "not valid JSON or YAML" in done.stderr and "Traceback" not in done.stderr


def test_learned_noise_silences_what_differs_between_identical_replays(
    cli, content_app, recording_proxy, tmp_path
):
    record_gets(recording_proxy, content_app, "lucky.db", "/lucky", "/gzip")

    before = cli("replay", "lucky.db", "--base-url", content_app.base_url, "--json")
    assert before.returncode == 1, "an unrecognisable random value is a difference until learned"
    learned = cli("replay", "lucky.db", "--base-url", content_app.base_url, "--learn-noise")
    assert learned.returncode == 0 and "1 new noise rule" in learned.stdout
    assert "$.number  of GET /lucky" in learned.stdout, "what was learned is shown"
    rules = json.loads(cli("show", "lucky.db", "--json").stdout)["meta"]["noise_rules"]
    # per operation and per field, never the whole body or the status
    assert [(r["path"], r["operation"], r["kind"]) for r in rules] == [
        ("$.number", "GET /lucky", "generated")
    ]
    after = cli("replay", "lucky.db", "--base-url", content_app.base_url)
    assert after.returncode == 0, after.stdout


def test_start_and_health_run_the_app_for_the_replay_and_quote_its_log(cli, tmp_path):
    db = tmp_path / "ci_test.db"
    port = __import__("tests.e2e.conftest", fromlist=["free_port"]).free_port()
    start = f"python -m replayqa.demo --db {db} --port {port}"
    env_fixed = {"REPLAYQA_DEMO_FIX_ALL": "1"}
    base = ["--base-url", f"http://127.0.0.1:{port}", "--db", f"sqlite:///{db}", *SECRET]
    done = cli(
        "replay",
        str(RECORDING),
        *base,
        "--start",
        start,
        "--health",
        f"http://127.0.0.1:{port}/health",
        env=env_fixed,
    )
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr
    buggy = cli(
        "replay", str(RECORDING), *base, "--start", start, "--json", env={"REPLAYQA_DEMO_FIX_ALL": "0"}
    )
    assert buggy.returncode == 1
    issue = json.loads(buggy.stdout)["journeys"][0]["issues"][0]
    assert any("payment declined" in line for line in issue["logs"]), "the app's own output, captured"


def test_a_health_url_that_never_answers_shows_the_apps_last_log_lines(cli, tmp_path):
    done = cli(
        "replay",
        str(RECORDING),
        "--base-url",
        "http://127.0.0.1:9",
        "--health-timeout",
        "2",
        "--start",
        "echo 'listening on nothing'; echo 'config missing: DATABASE_URL'; sleep 30",
    )
    assert done.returncode == 2
    assert "the app did not answer at http://127.0.0.1:9 within 2s" in done.stderr
    assert "config missing: DATABASE_URL" in done.stderr and "Traceback" not in done.stderr


def test_shards_split_sessions_deterministically_and_completely(cli, tmp_path, demo_shop):
    seen = []
    for k in (1, 2, 3):
        done, summary = replay_against(cli, tmp_path, {"REPLAYQA_DEMO_FIX_ALL": "1"}, "--shard", f"{k}/3")
        assert done.returncode == 0, done.stderr
        seen.extend(j["name"] for j in summary["journeys"])
        _, repeat = replay_against(cli, tmp_path, {"REPLAYQA_DEMO_FIX_ALL": "1"}, "--shard", f"{k}/3")
        assert [j["name"] for j in repeat["journeys"]] == [j["name"] for j in summary["journeys"]]
    assert sorted(seen) == ["declined-payment", "double-submit", "item-removal", "quantity-update"]


def test_workers_replay_in_parallel_each_on_its_own_app_and_database_copy(cli, tmp_path):
    from replayqa.demo.app import init_db

    db = tmp_path / "parallel_test.db"
    init_db(db)
    start = "python -m replayqa.demo --db {db_path} --port {port}"
    done = cli(
        "replay",
        str(RECORDING),
        "--base-url",
        "http://127.0.0.1:1",
        "--db",
        f"sqlite:///{db}",
        *SECRET,
        "--workers",
        "2",
        "--start",
        start,
        "--health",
        "http://x/health",
        "--json",
        env={"REPLAYQA_DEMO_FIX_ALL": "1"},
    )
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr
    summary = json.loads(done.stdout)
    assert [j["name"] for j in summary["journeys"]] == [
        "declined-payment",
        "double-submit",
        "quantity-update",
        "item-removal",
    ]
    assert summary["summary"]["issues"] == 0
    assert sorted(p.name for p in tmp_path.glob("*.db*")) == ["parallel_test.db"], "worker copies are removed"


def test_workers_with_a_database_need_start(cli, tmp_path, demo_shop):
    done = cli(
        "replay", str(RECORDING), "--base-url", demo_shop.base_url, "--db", demo_shop.db_url, "--workers", "2"
    )
    assert done.returncode == 2 and "--workers with --db needs --start" in done.stderr


def test_workers_without_a_database_share_the_app(cli, tmp_path, content_app, recording_proxy):
    import httpx

    proxy = recording_proxy("--upstream", content_app.base_url, "--out", "many.db")
    for n in range(4):
        cli("session", "start", f"s{n}", "--proxy", proxy.url)
        with httpx.Client(base_url=proxy.url) as client:
            client.get("/gzip")
        cli("session", "end", "--proxy", proxy.url)
    assert proxy.stop()[0] == 0
    done = cli("replay", "many.db", "--base-url", content_app.base_url, "--workers", "3", "--json")
    assert done.returncode == 0, done.stderr
    assert sorted(j["name"] for j in json.loads(done.stdout)["journeys"]) == ["s0", "s1", "s2", "s3"]


def test_postgres_workers_each_get_a_template_copy(cli, notes_app, recording_proxy, tmp_path):
    import httpx
    import psycopg

    app, dsn = notes_app
    proxy = recording_proxy("--upstream", app.base_url, "--out", "notes.db", "--db", dsn)
    for n in range(3):
        cli("session", "start", f"writer-{n}", "--proxy", proxy.url)
        with httpx.Client(base_url=proxy.url) as client:
            client.post("/notes", json={"text": f"note {n}"})
            client.get("/notes")
        cli("session", "end", "--proxy", proxy.url)
    assert proxy.stop()[0] == 0
    app.stop()  # nothing may be connected to a template database
    script = Path(__file__).resolve().parents[1] / "support" / "notes_app.py"
    done = cli(
        "replay",
        "notes.db",
        "--base-url",
        "http://127.0.0.1:1",
        "--db",
        dsn,
        "--workers",
        "2",
        "--start",
        f"python {script} {{db_url}} {{port}}",
        "--health",
        "http://x/notes",
        "--json",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert sorted(j["name"] for j in json.loads(done.stdout)["journeys"]) == [
        "writer-0",
        "writer-1",
        "writer-2",
    ]
    with psycopg.connect(dsn.rsplit("/", 1)[0] + "/postgres") as admin:
        copies = admin.execute("SELECT datname FROM pg_database WHERE datname LIKE '%worker%'").fetchall()
    assert copies == [], "worker databases are dropped"


def test_binary_bodies_are_compared_by_hash_and_config_noise_rules_apply(
    cli, content_app, recording_proxy, tmp_path
):
    record_gets(recording_proxy, content_app, "mixed.db", "/binary", "/lucky")
    (tmp_path / "replayqa.toml").write_text(
        '[[noise_rules]]\npath = "$.number"\nreason = "a lucky number is random by design"\n'
    )
    done = cli("replay", "mixed.db", "--base-url", content_app.base_url)
    assert done.returncode == 0, done.stdout


def test_bad_noise_rules_in_the_config(cli, tmp_path, demo_shop):
    (tmp_path / "replayqa.toml").write_text('[[noise_rules]]\nwhere = "$.x"\n')
    done = cli("replay", str(RECORDING), "--base-url", demo_shop.base_url)
    assert done.returncode == 2 and "noise_rules in" in done.stderr and "Traceback" not in done.stderr


def test_names_the_server_makes_anew_are_learned_from_a_second_run_and_then_held(
    cli, recording_proxy, tmp_path
):
    """A random run name is no difference, but a read that answers another name than was made is."""
    import httpx

    from tests.support.apps import ChildApp

    database = tmp_path / "runs_test.db"
    app = ChildApp("runs_app.py", str(database))
    try:
        proxy = recording_proxy(
            "--upstream", app.base_url, "--out", "runs.db", "--db", f"sqlite:///{database}"
        )
        with httpx.Client(base_url=proxy.url) as client:
            for job in ("build", "deploy"):
                run = client.post("/runs", json={"job": job}).json()
                assert client.get(f"/runs/{run['id']}").json()["name"] == run["name"]
        assert proxy.stop()[0] == 0
        replayed = [cli("replay", "runs.db", "--base-url", app.base_url, "--db", f"sqlite:///{database}")]
        replayed.append(cli("replay", "runs.db", "--base-url", app.base_url, "--db", f"sqlite:///{database}"))
    finally:
        app.stop()
    for done in replayed:
        assert done.returncode == 0, done.stdout[-2000:]
        assert "values the server makes anew each run: $.name of POST /runs" in done.stdout

    buggy = ChildApp("runs_app.py", str(database), "renamed_on_read")
    try:
        done = cli(
            "replay", "runs.db", "--base-url", buggy.base_url, "--db", f"sqlite:///{database}", "--json"
        )
    finally:
        buggy.stop()
    assert done.returncode == 1
    issues = [i for j in json.loads(done.stdout)["journeys"] for i in j["issues"]]
    assert {i["step"].split(" ", 1)[1] for i in issues} == {"GET /runs/1", "GET /runs/2"}
    assert all(d["path"] == "$.name" for i in issues for d in i["diff"])


def test_secrets_come_from_the_environment_as_ci_systems_hand_them_over(cli, tmp_path):
    with DemoServer(tmp_path / "shop-env", env={"REPLAYQA_DEMO_FIX_ALL": "1"}) as shop:
        base = ["replay", str(RECORDING), "--base-url", shop.base_url, "--db", shop.db_url, "--json"]
        without = cli(*base)
        with_env = cli(*base, env={"REPLAYQA_SECRET_PASSWORD": SECRET[1].partition("=")[2]})
    assert without.returncode == 1, "a redacted password is sent as a placeholder: the login fails"
    assert with_env.returncode == 0, with_env.stdout[-1500:]


def test_a_table_the_session_created_is_gone_before_each_replay(cli, notes_app, recording_proxy):
    """Headless CMSs make a table per content type: a second replay must not find it there already."""
    import httpx

    app, dsn = notes_app
    proxy = recording_proxy("--upstream", app.base_url, "--out", "cms.db", "--db", dsn)
    with httpx.Client(base_url=proxy.url) as client:
        assert client.post("/notebooks/recipes").status_code == 201
        client.post("/notes", json={"text": "soup"})
    assert proxy.stop()[0] == 0
    for attempt in range(2):
        done = cli("replay", "cms.db", "--base-url", app.base_url, "--db", dsn, "--json")
        assert done.returncode == 0, f"replay {attempt + 1}: " + done.stdout[-2000:] + done.stderr


def test_a_spec_validates_only_the_exchanges_it_describes_and_counts_the_rest(cli, tmp_path):
    """A single-page app's HTML and public routes are not in its API spec: no reason to fail them."""
    import yaml

    from replayqa.demo.run import spec_path

    document = yaml.safe_load(spec_path().read_text())
    del document["paths"]["/cart"]  # the spec no longer describes GET /cart
    partial = tmp_path / "partial.yaml"
    partial.write_text(yaml.safe_dump(document))
    with DemoServer(tmp_path / "shop-spec", env={"REPLAYQA_DEMO_FIX_ALL": "1"}) as shop:
        done = cli(
            "replay", str(RECORDING), "--base-url", shop.base_url, "--db", shop.db_url, *SECRET,
            "--spec", str(partial),
        )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]
    assert "exchanges not in the spec, not validated" in done.stdout


def test_a_write_the_session_undid_later_is_still_seen_at_its_step(cli, recording_proxy, tmp_path):
    """A create that writes twice leaves the end state as recorded once the job is deleted."""

    def session(client):
        run = client.post("/runs", json={"job": "build"}).json()
        client.get(f"/runs/{run['id']}")
        client.delete("/runs?job=build")

    database = tmp_path / "runs_test.db"
    record_runs(recording_proxy, database, session)
    clean = replay_runs(cli, database, json_output=False)
    assert clean.returncode == 0, clean.stdout[-2000:]
    done = replay_runs(cli, database, "created_twice")
    assert done.returncode == 1
    issues = [i for j in json.loads(done.stdout)["journeys"] for i in j["issues"]]
    assert [(i["step"], [(d["path"], d["old"], d["new"]) for d in i["diff"]]) for i in issues] == [
        ("#1 POST /runs", [("runs/rows written", 1, 2)]),
        ("#3 DELETE /runs", [("runs/rows written", -1, -2)]),
    ]


def test_a_login_without_its_secret_is_one_issue_that_names_the_secret(cli, tmp_path):
    """A 401 where the recording logged in leaves nothing to build on: one issue, not a cascade."""
    with DemoServer(tmp_path / "shop-nosecret", env={"REPLAYQA_DEMO_FIX_ALL": "1"}) as shop:
        base = ["replay", str(RECORDING), "--base-url", shop.base_url, "--db", shop.db_url]
        done = cli(*base, "--session", "item-removal")  # logs in as the seeded admin first
        summary = json.loads(cli(*base, "--session", "item-removal", "--json").stdout)
    assert done.returncode == 1
    assert "database not compared: the chain broke at #18 POST /auth/login" in done.stdout
    issues = [i for j in summary["journeys"] for i in j["issues"]]
    assert len(issues) == 1 and issues[0]["response"]["status"] == 401
    assert '--secret "password=VALUE"' in issues[0]["suggestion"]


def test_each_database_cause_is_a_finding_of_its_own(cli, tmp_path):
    """Marking one database change known must leave the others standing: one fingerprint per cause."""
    done, summary = replay_against(cli, tmp_path, {"REPLAYQA_DEMO_FIX_ALL": "0"})
    assert done.returncode == 1
    found = [
        (j["name"], i["fingerprint"], {(d["path"].split("/")[0], d["kind"]) for d in i["diff"]})
        for j in summary["journeys"]
        for i in j["issues"]
        if i["kind"] == "db-regression"
    ]
    assert all(len(causes) == 1 for _, _, causes in found), "one table and kind of change per issue"
    double = [f for f in found if f[0] == "double-submit"]
    assert {c for _, _, causes in double for c in causes} == {("orders", "added"), ("payments", "added")}
    by_cause = {}
    for _, fingerprint, causes in found:
        by_cause.setdefault(fingerprint, set()).update(causes)
    assert all(len({k for _, k in causes}) == 1 for causes in by_cause.values()), "added is not removed"


def test_a_value_taken_from_a_list_comes_from_the_same_item_in_another_order(cli, recording_proxy, tmp_path):
    """The list's order change is one finding; the step that used an item's name must not be another."""

    def session(client):
        for job in ("build", "deploy"):
            client.post("/runs", json={"job": job})
        deploy = next(r for r in client.get("/runs").json()["runs"] if r["job"] == "deploy")
        client.get(f"/runs/{deploy['name']}")  # a name the server made: rebound from the list

    database = tmp_path / "runs_test.db"
    record_runs(recording_proxy, database, session)
    done = replay_runs(cli, database, "reversed_list")
    issues = [i for j in json.loads(done.stdout)["journeys"] for i in j["issues"]]
    assert [(i["step"], [d["path"] for d in i["diff"]]) for i in issues] == [("#3 GET /runs", ["$.runs"])]
