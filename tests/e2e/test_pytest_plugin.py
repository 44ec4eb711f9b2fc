"""`pytest journeys/`: the plugin run by a real pytest, against the demo shop in its own process.

pytest runs in a subprocess with plugin autoloading off and ``-p
replayqa.pytest_plugin``, so the test runs this checkout's plugin whether or
not the installed replayqa registers its ``pytest11`` entry point.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import replayqa
from replayqa.demo.bugs import BUGS
from replayqa.demo.run import journeys_dir
from replayqa.demo.server import DemoServer
from tests.e2e.conftest import free_port

CHECKOUT_BUGS = {b.path: b for b in BUGS if b.journey == "checkout_payment"}
PATHS = ["approved", "declined", "double_submit"]


@pytest.fixture
def journeys(tmp_path: Path) -> Path:
    """The demo's YAML journey, beside YAML that is no journey (it has `steps:`, but not at the top)."""
    folder = tmp_path / "journeys"
    folder.mkdir()
    shutil.copyfile(journeys_dir() / "checkout_payment.yaml", folder / "checkout_payment.yaml")
    (folder / "workflow.yaml").write_text("jobs:\n  test:\n    steps:\n      - run: make\n")
    return folder


@pytest.fixture
def run_pytest(tmp_path: Path):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        checkout = str(Path(replayqa.__file__).parents[1])
        env = {
            **os.environ,
            "COLUMNS": "80",
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            "PYTHONPATH": os.pathsep.join([checkout, os.environ.get("PYTHONPATH", "")]),
        }
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "replayqa.pytest_plugin", "-p", "no:cacheprovider", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def outcomes(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Item name -> PASSED/FAILED, from ``-rA``'s short summary."""
    found = {}
    for line in done.stdout.splitlines():
        word, _, nodeid = line.partition(" ")
        if word in ("PASSED", "FAILED") and "::" in nodeid:
            found[nodeid.split("::")[-1].split(" ")[0]] = word
    return found


def test_each_path_is_an_item_and_the_planted_bugs_fail_with_their_evidence(journeys, run_pytest, tmp_path):
    with DemoServer(tmp_path / "shop") as shop:
        done = run_pytest(
            "journeys",
            "-rA",
            "--replayqa-base-url",
            shop.base_url,
            "--replayqa-db",
            shop.db_url,
            "--junitxml",
            "junit.xml",
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "collected 3 items" in done.stdout, "one item per path; workflow.yaml is no journey"
    assert outcomes(done) == {"approved": "PASSED", "declined": "FAILED", "double_submit": "FAILED"}
    failures = done.stdout.split("= FAILURES =")[1].split("generated xml file")[0]
    for bug in CHECKOUT_BUGS.values():
        assert f"checkout_payment › {bug.path} › {bug.step}  [new " in failures
    assert "request   GET /cart" in failures
    assert "response  200 {" in failures
    assert "expected status 409, got 201" in failures
    assert "suggest   The app accepted a request it should refuse" in failures
    assert all(len(line) <= 80 for line in failures.splitlines())

    cases = {c.get("name"): c for c in ET.parse(tmp_path / "junit.xml").iter("testcase")}
    assert sorted(cases) == PATHS
    assert cases["approved"].find("failure") is None
    for path, bug in CHECKOUT_BUGS.items():
        failure = cases[path].find("failure")
        assert failure is not None and bug.step in (failure.text or "") + failure.get("message", "")

    (report,) = (tmp_path / ".replayqa" / "reports").glob("*/report.json")
    assert sorted(p["path"] for j in json.loads(report.read_text())["journeys"] for p in j["paths"]) == PATHS
    assert (tmp_path / ".replayqa" / "runs.db").is_file(), "the run store keeps the run, as replayqa run does"
    assert f"markdown  .replayqa/reports/{report.parent.name}/report.md" in done.stdout


def test_deselected_paths_do_not_run(journeys, run_pytest, tmp_path):
    with DemoServer(tmp_path / "shop") as shop:
        done = run_pytest("journeys", "-k", "declined", "--replayqa-base-url", shop.base_url)
    assert "1 failed, 2 deselected" in done.stdout, done.stdout + done.stderr
    (report,) = (tmp_path / ".replayqa" / "reports").glob("*/report.json")
    assert [p["path"] for j in json.loads(report.read_text())["journeys"] for p in j["paths"]] == ["declined"]


def test_on_the_fixed_shop_every_path_passes_because_the_database_is_restored_between_paths(
    journeys, run_pytest, tmp_path
):
    with DemoServer(tmp_path / "restored", env={"REPLAYQA_DEMO_FIX_ALL": "1"}) as shop:
        restored = run_pytest(
            "journeys", "-rA", "--replayqa-base-url", shop.base_url, "--replayqa-db", shop.db_url
        )
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert outcomes(restored) == dict.fromkeys(PATHS, "PASSED")

    # Without --replayqa-db the paths share one database: the cart `approved` paid is gone for the others.
    with DemoServer(tmp_path / "shared", env={"REPLAYQA_DEMO_FIX_ALL": "1"}) as shop:
        shared = run_pytest("journeys", "-rA", "--replayqa-base-url", shop.base_url)
    assert "no --replayqa-db" in shared.stdout
    assert shared.returncode == 1
    assert outcomes(shared)["approved"] == "PASSED"
    assert "FAILED" in (outcomes(shared)["declined"], outcomes(shared)["double_submit"])


def test_no_base_url_is_a_one_line_usage_error(journeys, run_pytest):
    done = run_pytest("journeys")
    assert done.returncode == 4
    assert "ERROR: replayqa: no base URL: pass --replayqa-base-url" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_an_app_that_does_not_answer_is_a_one_line_usage_error(journeys, run_pytest):
    done = run_pytest("journeys", "--replayqa-base-url", f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 4
    assert "ERROR: replayqa: cannot reach the app at" in done.stderr
    assert "fix --replayqa-base-url" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_a_journey_that_does_not_load_is_a_one_line_collection_error(journeys, run_pytest):
    (journeys / "broken.yaml").write_text(
        "name: broken\nsteps:\n  - name: one\n    request: {method: GET, path: /}\n    expct: {status: 200}\n"
    )
    done = run_pytest("journeys", "--replayqa-base-url", "http://127.0.0.1:1")
    assert done.returncode == 2, done.stdout
    assert "unknown key 'expct'" in done.stdout
    assert "Traceback" not in done.stdout and "def collect" not in done.stdout


def test_the_journeys_an_exported_module_runs_are_not_collected_again(journeys, run_pytest, tmp_path, cli):
    assert cli("export", "pytest", "journeys/checkout_payment.yaml", "-o", "exported").returncode == 0
    done = run_pytest("exported", "--collect-only", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 test collected" in done.stdout, "the exported module's one test, no plugin items"
