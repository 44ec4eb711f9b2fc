"""Bad input gets one line naming the problem and the fix, and exit code 2."""

from __future__ import annotations

import shutil
import socket

import pytest

GOOD_STEP = """
  - name: health
    request: {method: GET, path: /health}
"""

CASES = {
    "branch_without_checkpoint": (
        "name: j\nsteps:" + GOOD_STEP + "  - branch:\n      checkpoint: nowhere\n      paths:\n"
        "        - {name: a, steps: []}\n",
        "Branch names checkpoint 'nowhere'",
    ),
    "malformed_yaml": ("name: j\nsteps:\n  - name: [unclosed\n", "malformed YAML"),
    "unknown_template_reference": (
        "name: j\nsteps:" + GOOD_STEP + "  - name: use\n    request: {method: GET, path: "
        '"/items/{{ steps.creat_item.body.id }}"}\n',
        "unknown template reference {{ steps.creat_item.body.id }}",
    ),
    "unknown_key": (
        "name: j\nsteps:\n  - name: s\n    request: {method: GET, path: /}\n    expct: {}\n",
        "unknown key 'expct'",
    ),
}


def assert_one_line_error(done, expected: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("replayqa: error: ")
    assert expected in lines[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_journey_files(cli, demo_shop, tmp_path, case):
    text, expected = CASES[case]
    (tmp_path / "bad.yaml").write_text(text)
    assert_one_line_error(cli("run", "bad.yaml", "--base-url", demo_shop.base_url), expected)


def test_unreachable_base_url(cli, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    (tmp_path / "ok.yaml").write_text("name: j\nsteps:" + GOOD_STEP)
    done = cli("run", "ok.yaml", "--base-url", f"http://127.0.0.1:{port}")
    assert_one_line_error(done, f"cannot reach the app at http://127.0.0.1:{port}")


def test_unknown_db_url_scheme(cli, demo_shop, tmp_path):
    (tmp_path / "ok.yaml").write_text("name: j\nsteps:" + GOOD_STEP)
    done = cli("run", "ok.yaml", "--base-url", demo_shop.base_url, "--db", "oracle://localhost/shop")
    assert_one_line_error(done, "unknown database URL scheme 'oracle'")


def test_non_test_database_needs_allow_restore(cli, demo_shop, tmp_path):
    production = tmp_path / "shop.db"
    shutil.copy(demo_shop.db_path, production)
    journey = (
        "name: j\nsteps:" + GOOD_STEP + "  - checkpoint: c\n  - branch:\n      checkpoint: c\n"
        "      paths:\n        - name: a\n          steps:"
        + GOOD_STEP.replace("\n  ", "\n            ")
        + "        - name: b\n          steps: []\n"
    )
    (tmp_path / "branchy.yaml").write_text(journey)
    url = f"sqlite:///{production}"
    done = cli("run", "branchy.yaml", "--base-url", demo_shop.base_url, "--db", url)
    assert_one_line_error(done, "refusing to restore or reset database 'shop.db'")
    assert not (tmp_path / ".replayqa").exists(), "nothing ran, nothing was written"

    allowed = cli("run", "branchy.yaml", "--base-url", demo_shop.base_url, "--db", url, "--allow-restore")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr


def test_missing_journey_file(cli, demo_shop):
    done = cli("run", "nope.yaml", "--base-url", demo_shop.base_url)
    assert_one_line_error(done, "no journey file nope.yaml")


def test_unknown_setting_in_config(cli, tmp_path):
    (tmp_path / "replayqa.toml").write_text('base_ur = "http://x"\n')
    assert_one_line_error(cli("list"), "unknown setting 'base_ur'")


@pytest.mark.parametrize("command", [[], ["run"], ["list"], ["demo"], ["explore"]])
def test_every_command_has_help_with_an_example(cli, command):
    done = cli(*command, "--help")
    assert done.returncode == 0
    assert "Example" in done.stdout


def test_malformed_har(cli, tmp_path):
    (tmp_path / "devtools.har").write_text('{"log": {"entries": [{"request": {"method": "GET"}}]}}')
    done = cli("import", "devtools.har", "--out", "rec.db")
    assert_one_line_error(done, "devtools.har: entry 1 is malformed")
    assert not (tmp_path / "rec.db").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["record"],
        ["session"],
        ["session", "start"],
        ["show"],
        ["import"],
        ["export"],
        ["replay"],
        ["infra"],
        ["issues"],
        ["issues", "list"],
        ["issues", "mark"],
        ["tui"],
    ],
)
def test_recording_commands_have_help_with_an_example(cli, command):
    done = cli(*command, "--help")
    assert done.returncode == 0 and "Example" in done.stdout


def test_infra_says_clearly_when_docker_cannot_run(cli, tmp_path):
    import shutil
    from pathlib import Path

    shutil.copy(Path(__file__).resolve().parents[2] / "docker-compose.qa.yml", tmp_path)
    done = cli("infra", "up")  # this machine has no Docker engine (and maybe no client)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "Docker is not installed here" in done.stderr or "engine is not running" in done.stderr
    import os
    import sys

    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)
    done = cli("infra", "up", env={"PATH": str(bare)})
    assert done.returncode == 2 and "Docker is not installed here" in done.stderr
    assert os.environ["PATH"]  # the rest of the suite keeps its PATH


def test_tui_bad_targets(cli, tmp_path):
    import sqlite3

    done = cli("tui", "missing.db")
    assert_one_line_error(done, "no file at missing.db")
    (tmp_path / "notes.txt").write_text("hello")
    assert_one_line_error(cli("tui", "notes.txt"), "not a replayqa run store or recording")
    with sqlite3.connect(tmp_path / "runs.db") as conn:
        conn.execute("CREATE TABLE runs (run_id TEXT)")
        conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")
        conn.execute("INSERT INTO meta VALUES ('format', 'replayqa-runs/9')")
    assert_one_line_error(cli("tui", "runs.db"), "newer than this replayqa reads")


BAD_SPECS = {
    "invalid_ref": (
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n"
        "        '200':\n          description: ok\n          content:\n            application/json:\n"
        "              schema: {$ref: '#/components/schemas/Missing'}\n",
        "$ref '#/components/schemas/Missing' at /paths/~1a/get/responses/200",
    ),
    "missing_paths": ("openapi: 3.0.3\ninfo: {title: t, version: '1'}\n", "no 'paths' at /paths"),
    "not_a_spec": ("just: text\n", "not an OpenAPI document"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_bad_specs(cli, tmp_path, case):
    text, expected = BAD_SPECS[case]
    (tmp_path / "spec.yaml").write_text(text)
    assert_one_line_error(cli("synth", "--spec", "spec.yaml", "--out", "journeys"), expected)
    assert not (tmp_path / "journeys").exists()  # nothing half-written
    assert_one_line_error(cli("coverage", "--spec", "spec.yaml"), expected)


def test_spec_url_that_does_not_answer(cli):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = cli("synth", "--spec", f"http://127.0.0.1:{port}/openapi.json")
    assert_one_line_error(done, f"cannot read OpenAPI spec http://127.0.0.1:{port}/openapi.json")


@pytest.mark.parametrize("command", [["synth"], ["coverage"], ["export"]])
def test_synth_commands_have_help_with_an_example(cli, command):
    done = cli(*command, "--help")
    assert done.returncode == 0
    assert "Example" in done.stdout
