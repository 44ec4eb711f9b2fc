"""`replayqa explore` end to end: real apps in their own processes, the real command, then `replayqa run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from replayqa.demo.app import ADMIN_EMAIL, ADMIN_PASSWORD
from replayqa.demo.run import spec_path
from replayqa.demo.server import DemoServer
from tests.support.apps import ChildApp

ADMIN = ("--var", f"email={ADMIN_EMAIL}", "--var", f"password={ADMIN_PASSWORD}")


@pytest.fixture
def shop(tmp_path):
    with DemoServer(tmp_path / "shop") as server:
        yield server


@pytest.fixture
def orders():
    app = ChildApp("orders_app.py")
    yield app
    app.stop()


@pytest.fixture
def fixed_orders():
    app = ChildApp("orders_app.py", "--fixed")
    yield app
    app.stop()


def explored(done) -> dict:
    assert done.stderr == "", done.stderr
    return json.loads(done.stdout)


def reproduced(cli, folder: Path, *args: str) -> list[str]:
    """The issues `replayqa run` finds running the violations' journeys."""
    ran = cli("run", str(folder), "--json", *args)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    return [i["error"] for j in json.loads(ran.stdout)["journeys"] for i in j["issues"]]


def test_explore_finds_the_demo_shops_four_bugs_in_at_most_four_actions(cli, shop, tmp_path):
    app = ("--base-url", shop.base_url, "--db", shop.db_url)
    done = cli("explore", "--spec", str(spec_path()), *app, *ADMIN, "--report-dir", "out", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    result = explored(done)
    assert result["restores"] > 0 and result["reexecutions"] == 0  # out-of-order restores, no replays
    violations = result["violations"]

    def found(*needles: str) -> dict:
        hits = [v for v in violations if all(n in v["error"] for n in needles)]
        assert hits, (needles, [v["error"] for v in violations])
        assert len(hits[0]["actions"]) <= 4, hits[0]["actions"]
        return hits[0]

    double = found("a repeated request changes state once", "POST /carts/")  # double charge
    assert double["actions"][-2:] == ["checkout_cart", "checkout_cart"]
    declined = found("a refused request changes nothing", "answered 402")  # declined cart emptied
    assert "checkout_cart_declined" in declined["actions"]
    deleted = found("still refers to deleted item")  # item left in another user's cart
    assert {"add_to_cart_as_other", "delete_item"} <= set(deleted["actions"])
    found("total_cents", "PATCH /cart/items/")  # total wrong after a quantity update
    folder = Path(violations[0]["journey"]).parent
    saved = (tmp_path / folder / "explore.json").read_text()
    assert "Bearer [redacted]" in saved and json.loads(saved)["violations"] == violations
    text = "".join(p.read_text() for p in (tmp_path / folder).glob("*.yaml"))
    assert ADMIN_PASSWORD not in text + saved and "{{ password }}" in text  # only the name reaches disk
    errors = reproduced(cli, folder, *app, *ADMIN)
    for needle in ("POST /carts/", "answered 402", "still refers to deleted item", "PATCH /cart/items/"):
        assert any(needle in e for e in errors), (needle, errors)


def test_explore_finds_a_double_refund_from_the_spec_alone_without_a_database(cli, orders, tmp_path):
    (tmp_path / "mine.yaml").write_text(
        "invariants:\n"
        "  - {kind: relation, name: refunds stay within the order, expression: refunded <= amount}\n"
    )
    app = ("--base-url", orders.base_url)
    spec = ("--spec", f"{orders.base_url}/openapi.json", "--invariants", "mine.yaml")
    done = cli("explore", *spec, *app, "--report-dir", "out", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    result = explored(done)
    assert result["reexecutions"] > 0 and result["restores"] == 0
    repeat, mine = result["violations"]
    assert (
        "a repeated request changes state once" in repeat["error"]
        and "refunded 100 -> 200" in repeat["error"]
    )
    assert "refunds stay within the order" in mine["error"] and "refunded = 200" in mine["error"]
    for violation in (repeat, mine):
        assert violation["actions"] == ["create_order", "refund_order", "refund_order"]
    errors = reproduced(cli, Path(repeat["journey"]).parent, *app)
    assert any("refunded 100 -> 200" in e for e in errors)
    assert any("refunds stay within the order" in e for e in errors)


def test_explore_passes_the_fixed_order_app_and_says_so(cli, fixed_orders):
    done = cli(
        "explore", "--spec", f"{fixed_orders.base_url}/openapi.json", "--base-url", fixed_orders.base_url
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No invariant was violated." in done.stdout
    assert all(len(line) <= 80 for line in done.stdout.splitlines())


def test_explore_without_a_spec_or_graph_is_a_one_line_error(cli):
    done = cli("explore", "--base-url", "http://127.0.0.1:9")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "replayqa: error: give either --spec SPEC or a state graph file (GRAPH.yaml), not both or none"
    )
    helped = cli("explore", "--help")
    assert "Example" in helped.stdout and "--max-depth" in helped.stdout


def test_a_bad_graph_file_is_a_one_line_error_naming_it(cli, tmp_path):
    (tmp_path / "graph.yaml").write_text(
        "name: g\nedges:\n  - name: pay\n    from: nowhere\n    request: {method: POST, path: /pay}\n"
    )
    done = cli("explore", "graph.yaml", "--base-url", "http://127.0.0.1:9")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "state graph 'g': no node 'nowhere'" in done.stderr
