"""The runner's semantics, on an in-memory app (MockTransport) and a recording state backend."""

from __future__ import annotations

import httpx
import pytest

from replayqa import (
    Branch,
    Check,
    Checkpoint,
    Client,
    Invariant,
    Journey,
    JourneyError,
    JourneyRunner,
    Path,
    RequestAction,
    Severity,
    Step,
)
from replayqa import events as ev


class Shop:
    """A counter app: POST /inc adds one, GET / reads; its state is a dict a fake backend restores."""

    def __init__(self):
        self.state = {"n": 0}

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/inc":
            self.state["n"] += 1
            return httpx.Response(201, json=dict(self.state), headers={"Set-Cookie": f"n={self.state['n']}"})
        if request.url.path == "/boom":
            return httpx.Response(500, text="Traceback: boom")
        return httpx.Response(200, json=dict(self.state))


class DictBackend:
    """A state backend over the Shop's dict, recording what the runner asked of it."""

    def __init__(self, shop: Shop):
        self.shop, self.saved, self.calls, self.connected = shop, {}, [], False

    def connect(self):
        self.connected = True

    def disconnect(self):
        self.connected = False

    def is_connected(self):
        return self.connected

    def checkpoint(self, name):
        self.calls.append(("checkpoint", name))
        self.saved[name] = dict(self.shop.state)

    def rollback(self, name):
        self.calls.append(("rollback", name))
        self.shop.state = dict(self.saved[name])

    def release(self, name):
        self.calls.append(("release", name))

    def reset(self):
        pass

    def query(self, sql, params=()):
        return [dict(self.shop.state)]

    def check_restore_allowed(self):
        pass


@pytest.fixture
def shop():
    return Shop()


@pytest.fixture
def client(shop):
    return Client("http://shop", transport=httpx.MockTransport(shop.handle))


def inc(name="inc", **kw):
    return Step(name, RequestAction("POST", "/inc"), **kw)


def read(name, n):
    return Step(name, RequestAction("GET", "/"), checks=[Check("equals", "n", n)])


def test_each_path_starts_from_the_checkpoint(shop, client):
    backend = DictBackend(shop)
    journey = Journey(
        "j",
        [
            inc(),
            Checkpoint("one"),
            Branch("one", [Path("a", [inc(), read("a_sees", 2)]), Path("b", [read("b_sees", 1), inc()])]),
        ],
    )
    result = JourneyRunner(client, backend).run([journey])
    assert result.passed, result.issues
    assert [p.path for p in result.journeys[0].paths] == ["a", "b"]
    # Path a ran first from a fresh checkpoint: no rollback was needed before it.
    assert backend.calls == [("checkpoint", "one"), ("rollback", "one"), ("release", "one")]


def test_context_and_cookies_are_restored_for_each_path(shop, client):
    def remember(label):
        def action(c, ctx):
            ctx.setdefault("seen", []).append(label)
            return c.post("/inc")

        return action

    def check_context(c, ctx):
        assert ctx["seen"] == ["trunk"], ctx["seen"]
        assert c.cookies.get("n") == "1"
        return c.get("/")

    journey = Journey(
        "j",
        [
            Step("trunk", remember("trunk")),
            Checkpoint("cp"),
            Branch("cp", [Path("a", [Step("a", remember("a"))]), Path("b", [Step("b", check_context)])]),
        ],
    )
    result = JourneyRunner(client, DictBackend(shop)).run([journey])
    assert result.passed, result.issues


def test_a_failing_step_ends_its_path_but_siblings_run(shop, client):
    journey = Journey(
        "j",
        [
            Checkpoint("cp"),
            Branch(
                "cp",
                [
                    Path("broken", [Step("boom", RequestAction("GET", "/boom")), inc("never")]),
                    Path("fine", [inc("ok")]),
                ],
            ),
        ],
    )
    result = JourneyRunner(client, DictBackend(shop)).run([journey]).journeys[0]
    assert [s.step for s in result.steps] == ["boom", "ok"]
    (issue,) = result.issues
    assert (issue.path, issue.step, issue.error) == ("broken", "boom", "status 500")
    assert issue.response.body == "Traceback: boom" and issue.request.url == "http://shop/boom"
    assert "log lines" in issue.suggestion
    assert [(p.path, p.passed) for p in result.paths] == [("broken", False), ("fine", True)]


def test_a_step_marked_continue_on_failure_reports_and_lets_its_path_go_on(shop, client):
    """What a replay needs: one differing response is a finding, and the rest still run."""
    boom = Step("boom", RequestAction("GET", "/boom"), continue_on_failure=True)
    result = JourneyRunner(client, DictBackend(shop)).run([Journey("j", [boom, inc("after")])]).journeys[0]
    assert [(s.step, s.passed) for s in result.steps] == [("boom", False), ("after", True)]
    assert [i.step for i in result.issues] == ["boom"]
    assert shop.state == {"n": 1}
    assert [(p.path, p.passed) for p in result.paths] == [("main", False)]


def test_a_non_blocking_check_reports_its_miss_and_the_step_still_saves_and_passes(shop, client):
    """A create answering 201 where 200 was expected: one finding, and the journey goes on."""
    create = Step(
        "create",
        RequestAction("POST", "/inc"),
        checks=[Check("status", value=200, blocking=False)],
        save={"n": "n"},
    )
    later = Step("later", RequestAction("GET", "/"), checks=[Check("equals", "n", "{{ n }}")])
    result = JourneyRunner(client, DictBackend(shop)).run([Journey("j", [create, later])]).journeys[0]
    assert [(s.step, s.passed) for s in result.steps] == [("create", True), ("later", True)]
    (issue,) = result.issues
    assert (issue.step, issue.kind, issue.error) == ("create", "check", "expected status 200, got 201")
    assert issue.response.status == 201
    # A step that fails says so once: its non-blocking misses are not repeated beside it.
    checks = [Check("status", value="2xx"), Check("status", value=200, blocking=False)]
    refused = Step("refused", RequestAction("GET", "/boom"), checks=checks)
    (failed,) = JourneyRunner(client, DictBackend(shop)).run([Journey("k", [refused])]).journeys[0].issues
    assert (failed.kind, failed.error) == ("step", "expected status 2xx, got 500")


def test_expect_failure_inverts_the_verdict(client):
    refused = Step("refused", RequestAction("GET", "/boom"), expect_failure=True)
    accepted = Step("accepted", RequestAction("POST", "/inc"), expect_failure=True)
    result = JourneyRunner(client).run([Journey("j", [refused, accepted])]).journeys[0]
    assert [s.passed for s in result.steps] == [True, False]
    assert result.issues[0].error == "expected this step to fail, but it passed (status 201)"
    assert "should refuse" in result.issues[0].suggestion


def test_steps_after_a_branch_continue_from_the_checkpoint(shop, client):
    journey = Journey(
        "j",
        [inc(), Checkpoint("cp"), Branch("cp", [Path("a", [inc(), inc("again")])]), read("after", 1)],
    )
    result = JourneyRunner(client, DictBackend(shop)).run([journey]).journeys[0]
    assert result.passed, result.issues
    assert [p.path for p in result.paths] == ["a", "main"]


def test_nested_branches(shop, client):
    inner = Branch("inner", [Path("x", [read("x_sees", 2)]), Path("y", [inc(), read("y_sees", 3)])])
    journey = Journey(
        "j",
        [
            Checkpoint("outer"),
            Branch(
                "outer",
                [Path("deep", [inc(), inc(), Checkpoint("inner"), inner]), Path("flat", [read("f", 0)])],
            ),
        ],
    )
    result = JourneyRunner(client, DictBackend(shop)).run([journey]).journeys[0]
    assert result.passed, result.issues
    assert [p.path for p in result.paths] == ["deep/x", "deep/y", "flat"]


def test_invariants_run_after_every_step_and_report_once(shop, client):
    def at_most_two(client, ctx, db):
        n = db.query("SELECT n")[0]["n"]
        return True if n <= 2 else f"counter is {n}"

    journey = Journey("j", [inc("one"), inc("two"), inc("three"), inc("four")])
    runner = JourneyRunner(
        client, DictBackend(shop), invariants=[Invariant("max two", at_most_two, Severity.CRITICAL)]
    )
    result = runner.run([journey]).journeys[0]
    assert len(result.steps) == 4, "an invariant violation does not stop the path"
    violations = [i for i in result.issues if i.kind == "invariant"]
    assert [(i.step, i.error, i.severity) for i in violations] == [
        ("three", "invariant 'max two': counter is 3", Severity.CRITICAL),
        ("four", "invariant 'max two': counter is 4", Severity.CRITICAL),
    ]


def test_retries_rerun_a_failing_step(client):
    attempts = []

    def flaky(c, ctx):
        attempts.append(1)
        return c.get("/boom" if len(attempts) < 3 else "/")

    result = JourneyRunner(client).run([Journey("j", [Step("flaky", flaky, retries=2)])]).journeys[0]
    assert result.passed and result.steps[0].attempts == 3


def test_python_assertions_fail_the_step_with_their_message(client):
    def check(c, ctx):
        response = c.get("/")
        assert response.json()["n"] == 99, "n should be 99"
        return response

    result = JourneyRunner(client).run([Journey("j", [Step("check", check)])]).journeys[0]
    # (pytest rewrites asserts in this module and appends its own detail after the message)
    assert result.issues[0].error.startswith("assertion failed: n should be 99")
    assert result.issues[0].response.status == 200


def test_saved_values_and_step_results_feed_later_templates(shop, client):
    journey = Journey(
        "j",
        [
            Step("create", RequestAction("POST", "/inc"), save={"count": "n"}),
            Step("use", RequestAction("GET", "/x/{{ count }}/{{ steps.create.body.n }}")),
        ],
    )
    JourneyRunner(client).run([journey])
    assert client.last_exchange.request.url == "http://shop/x/1/1"


def test_a_save_ending_in_a_question_mark_saves_only_what_the_answer_has(shop, client):
    journey = Journey(
        "j",
        [
            Step("read", RequestAction("GET", "/"), save={"count": "n?", "id": "id?"}),
            Step("strict", RequestAction("GET", "/"), save={"id": "id"}),
        ],
    )
    runner = JourneyRunner(client)
    result = runner.run_journey(journey)
    assert runner.context["count"] == 0 and "id" not in runner.context
    assert [s.passed for s in result.steps] == [True, False]
    assert result.steps[1].error.startswith("cannot save 'id'")


def test_a_branch_naming_a_missing_checkpoint_is_rejected_before_anything_runs(client):
    journey = Journey("j", [inc(), Branch("nowhere", [Path("a", [inc()])])])
    with pytest.raises(JourneyError, match="Branch names checkpoint 'nowhere'"):
        JourneyRunner(client).run([journey])
    assert client.history == []


def test_each_journey_starts_from_the_same_database_state(shop, client):
    first = Journey("first", [inc(), inc()])
    second = Journey("second", [read("sees_start", 0)])
    result = JourneyRunner(client, DictBackend(shop)).run([first, second])
    assert result.passed, result.issues


def test_events_describe_the_run(shop, client):
    seen = []
    journey = Journey("j", [inc(), Checkpoint("cp"), Branch("cp", [Path("a", [inc()]), Path("b", [inc()])])])
    JourneyRunner(client, DictBackend(shop), listeners=[seen.append]).run([journey])
    kinds = [type(e).__name__ for e in seen]
    assert kinds[:2] == ["RunStarted", "JourneyStarted"] and kinds[-2:] == ["JourneyFinished", "RunFinished"]
    assert kinds.count("PathFinished") == 2 and kinds.count("StateRestored") == 2
    finished = [e.result.step for e in seen if isinstance(e, ev.StepFinished)]
    assert finished == ["inc", "inc", "inc"]


def test_a_settled_journey_reaches_listeners_only_as_judged(shop, client):
    """A replay judges a group after it ran (a second run, noise learned): no verdict is heard twice."""
    heard: list[ev.Event] = []
    runner = JourneyRunner(client, listeners=[heard.append])
    journey = Journey("j", [Step("boom", RequestAction("GET", "/boom"), checks=[Check("status", value=200)])])
    journey.setup = lambda: shop.state.update(n=41)  # every run of the journey starts here

    def settle(journey, result, events):
        assert [type(e) for e in heard] == [ev.RunStarted], "nothing of the journey is out yet"
        assert runner.run_journey(journey).steps[0].passed is False, "the journey can run again"
        result.issues.clear()
        result.paths[0].issues.clear()
        result.steps[0].passed = True
        events[:] = [e for e in events if not isinstance(e, ev.IssueFound)]

    run = runner.run([journey], "run-1", settle=settle)
    assert run.passed and shop.state["n"] == 41
    finished = [e.result for e in heard if isinstance(e, ev.PathFinished)]
    assert [p.passed for p in finished] == [True] and not any(isinstance(e, ev.IssueFound) for e in heard)
