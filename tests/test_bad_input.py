"""Bad input never ends in "internal error" or a traceback: a fuzz over what users hand replayqa.

Damaged recordings and run stores, YAML journeys of any shape, specs and
HAR files of any shape, non-UTF-8 bytes and recursive YAML go through the
real CLI, in process (click's CliRunner), about 600 cases in all. Each must
end in success or in exit 2 with one ``replayqa: error:`` line.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replayqa.cli import main
from replayqa.errors import ConfigError
from replayqa.model import RunResult
from replayqa.redact import Redactor
from replayqa.state import open_state
from replayqa.store import RunStore

SAMPLE = Path(__file__).parent.parent / "recordings" / "demo-shop.db"
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# JSON-like values, as YAML and JSON parsers hand them over.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


def keyed(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Mappings that use the format's own keys, with values of any type: the near misses."""
    return st.dictionaries(st.sampled_from(keys), values, max_size=len(keys))


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=True)


def assert_handled(result: Result) -> None:
    """Success, or exit 2 with one line naming the problem; never an internal error or a traceback."""
    output = result.output
    assert "internal error" not in output and "Traceback" not in output, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 2), (result.exit_code, output)
    if result.exit_code == 2:
        errors = [line for line in output.splitlines() if "error" in line.lower()]
        assert errors and (errors[0].startswith("replayqa: error: ") or errors[0].startswith("Error: ")), (
            output
        )


def damaged(original: bytes, cuts: list[tuple[int, bytes]], truncate: int | None) -> bytes:
    data = bytearray(original)
    for offset, junk in cuts:
        position = offset % len(data)
        data[position : position + len(junk)] = junk
    return bytes(data[:truncate] if truncate is not None else data)


byte_damage = st.tuples(
    st.lists(st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=64)), max_size=4),
    st.none() | st.integers(0, 80_000),
)


@FUZZ
@given(byte_damage)
def test_damaged_recording_files(damage: tuple[list[tuple[int, bytes]], int | None]) -> None:
    with CliRunner().isolated_filesystem():
        Path("rec.db").write_bytes(damaged(SAMPLE.read_bytes(), *damage))
        assert_handled(invoke("show", "rec.db", "--json"))
        assert_handled(invoke("export", "rec.db", "--har", "out.har"))


_COLUMNS = {
    "meta": "value",
    "exchanges": "request_headers",
    "sessions": "name",
    "checkpoints": "tables",
}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(_COLUMNS)), values, st.booleans())
def test_recordings_with_wrongly_typed_columns(table: str, value: Any, as_json: bool) -> None:
    with CliRunner().isolated_filesystem():
        shutil.copy(SAMPLE, "rec.db")
        stored = (
            json.dumps(value) if as_json else (value if isinstance(value, int | float | str) else repr(value))
        )
        with sqlite3.connect("rec.db") as conn:
            conn.execute(f'UPDATE "{table}" SET "{_COLUMNS[table]}" = ?', (stored,))
        before = Path("rec.db").read_bytes()
        assert_handled(invoke("show", "rec.db", "--json"))
        assert_handled(invoke("issues", "list", "--store", "rec.db"))
        assert Path("rec.db").read_bytes() == before, "reading a recording never writes to it"


def _run_store(path: Path) -> None:
    store = RunStore(path)
    store.save(RunResult(run_id="r1", base_url="http://app", started_at=1.0, journeys=[]), Redactor())
    store.mark("3f2a9c1d0e4b", "known", "ticket")
    store.db.close()


@settings(max_examples=60, deadline=None)
@given(byte_damage)
def test_damaged_run_stores(damage: tuple[list[tuple[int, bytes]], int | None]) -> None:
    with CliRunner().isolated_filesystem():
        _run_store(Path("good.db"))
        Path("runs.db").write_bytes(damaged(Path("good.db").read_bytes(), *damage))
        assert_handled(invoke("issues", "list", "--store", "runs.db", "--json"))
        assert_handled(invoke("issues", "mark", "3f2a9c1d0e4b", "fixed", "--store", "runs.db"))


_JOURNEY_KEYS = ["name", "description", "tags", "vars", "invariants", "steps"]
_STEP_KEYS = [
    "name",
    "request",
    "expect",
    "save",
    "expect_failure",
    "timeout",
    "retries",
    "checkpoint",
    "branch",
]
_REQUEST_KEYS = ["method", "path", "headers", "query", "json", "form", "body"]
steps = st.lists(
    keyed(_STEP_KEYS)
    | st.fixed_dictionaries(
        {"name": st.text(max_size=5), "request": keyed(_REQUEST_KEYS)},
        optional={"expect": keyed(["status", "body", "schema", "db"]) | values},
    ),
    max_size=3,
)
journeys = st.one_of(
    values,
    keyed(_JOURNEY_KEYS),
    st.fixed_dictionaries({"name": values, "steps": steps}, optional={"vars": values, "invariants": values}),
)
_RECURSIVE_YAML = "name: loop\nsteps: &s\n  - name: a\n    request: {method: GET, path: /}\n  - *s\n"


@settings(max_examples=150, deadline=None)
@given(journeys, st.sampled_from(["yaml", "recursive", "latin-1", "text"]), st.text(max_size=40))
def test_yaml_journeys_of_any_shape(document: Any, form: str, text: str) -> None:
    with CliRunner().isolated_filesystem():
        if form == "yaml":
            content = yaml.safe_dump(document, allow_unicode=True).encode()
        elif form == "recursive":
            content = _RECURSIVE_YAML.encode()
        elif form == "latin-1":
            content = "name: café\nsteps: []\n".encode("latin-1")
        else:
            content = text.encode()
        Path("journey.yaml").write_bytes(content)
        assert_handled(invoke("list", "journey.yaml"))
        assert_handled(invoke("run", "journey.yaml", "--base-url", "http://127.0.0.1:9"))


_SPEC_KEYS = ["openapi", "swagger", "info", "paths", "components", "servers", "definitions"]
specs = st.one_of(
    values,
    keyed(_SPEC_KEYS),
    st.fixed_dictionaries(
        {
            "openapi": st.sampled_from(["3.0.3", "3.1.0"]) | values,
            "info": st.just({"title": "t", "version": "1"}) | values,
            "paths": st.dictionaries(
                st.sampled_from(["/items", "/items/{id}", "items"]),
                st.dictionaries(st.sampled_from(["get", "post", "parameters"]), values, max_size=2),
                max_size=2,
            )
            | values,
        },
        optional={"components": st.just({"schemas": {"A": {"$ref": "#/components/schemas/A"}}}) | values},
    ),
)
_RECURSIVE_SPEC = "openapi: 3.0.3\ninfo: &i {title: t, version: '1', more: [*i]}\npaths: {}\n"


@settings(max_examples=80, deadline=None)
@given(specs, st.sampled_from(["yaml", "json", "recursive", "latin-1"]))
def test_specs_of_any_shape(document: Any, form: str) -> None:
    with CliRunner().isolated_filesystem():
        if form == "recursive":
            content = _RECURSIVE_SPEC.encode()
        elif form == "latin-1":
            content = "openapi: 3.0.3\ninfo: {title: é, version: '1'}\n".encode("latin-1")
        elif form == "json":
            content = json.dumps(document).encode()
        else:
            content = yaml.safe_dump(document, allow_unicode=True).encode()
        Path("spec.yaml").write_bytes(content)
        assert_handled(invoke("coverage", "--spec", "spec.yaml"))
        assert_handled(invoke("synth", "--spec", "spec.yaml", "--out", "journeys"))


_ENTRY = {
    "startedDateTime": "2026-01-01T00:00:00Z",
    "request": {"method": "GET", "url": "http://shop.test/items", "headers": [], "httpVersion": "HTTP/1.1"},
    "response": {"status": 200, "statusText": "OK", "headers": [], "content": {"mimeType": "", "text": ""}},
}
entries = st.one_of(
    values,
    keyed(list(_ENTRY)),
    st.builds(lambda key, value: {**_ENTRY, key: value}, st.sampled_from(list(_ENTRY)), values),
    st.builds(
        lambda part, key, value: {**_ENTRY, part: {**_ENTRY[part], key: value}},  # type: ignore[dict-item]
        st.sampled_from(["request", "response"]),
        st.sampled_from(["method", "url", "headers", "status", "content", "postData"]),
        values,
    ),
)
hars = st.one_of(
    values,
    st.fixed_dictionaries({"log": values}),
    st.fixed_dictionaries(
        {"log": st.fixed_dictionaries({"version": values, "entries": st.lists(entries, max_size=3)})}
    ),
)


@settings(max_examples=120, deadline=None)
@given(hars, st.booleans())
def test_har_files_of_any_shape(document: Any, latin1: bool) -> None:
    with CliRunner().isolated_filesystem():
        text = json.dumps(document, ensure_ascii=False)
        Path("in.har").write_bytes(text.encode("latin-1", "replace") if latin1 else text.encode())
        result = invoke("import", "in.har", "--out", "rec.db")
        assert_handled(result)
        if result.exit_code == 0:  # what was accepted reads back as a recording
            assert_handled(invoke("show", "rec.db", "--json"))


# -- each class the fuzz covers, once by name: the line a user sees -----------------------------

_STEP = "  - name: s\n    request: {method: GET, path: /}\n"
_CASES: dict[str, tuple[dict[str, bytes | str], list[str], str]] = {
    "a truncated recording": (
        {"rec.db": SAMPLE.read_bytes()[:3000]},
        ["show", "rec.db"],
        "not a replayqa recording",
    ),
    "a text file as a recording": ({"rec.db": "hello"}, ["show", "rec.db"], "not a SQLite file"),
    "a run store that is a text file": (
        {"runs.db": "hello"},
        ["issues", "list", "--store", "runs.db"],
        "runs.db is not a replayqa run store (not a SQLite file)",
    ),
    "a run store that does not exist": (
        {},
        ["issues", "list", "--store", "nowhere/runs.db"],
        "no run store at nowhere/runs.db",
    ),
    "a journey of the wrong shape": ({"j.yaml": "- 1\n"}, ["list", "j.yaml"], "a journey file is a mapping"),
    "a step whose status is not a status": (
        {"j.yaml": f"name: a\nsteps:\n{_STEP}    expect: {{status: ok}}\n"},
        ["list", "j.yaml"],
        "expect.status is a code (201), a class (4xx) or a list of them; got 'ok'",
    ),
    "a step with two bodies": (
        {
            "j.yaml": "name: a\nsteps:\n  - name: s\n"
            "    request: {method: POST, path: /, json: {}, form: {a: 1}}\n"
        },
        ["list", "j.yaml"],
        "a request has one body: json, form or body, not json and form",
    ),
    "a method that is not one": (
        {"j.yaml": "name: a\nsteps:\n  - name: s\n    request: {method: 5, path: /}\n"},
        ["list", "j.yaml"],
        "request.method is an HTTP method such as GET or POST; got 5",
    ),
    "an unbalanced template": (
        {"j.yaml": "name: a\nsteps:\n  - name: s\n    request: {method: GET, path: '/{{ id'}\n"},
        ["list", "j.yaml"],
        "unbalanced template in '/{{ id'",
    ),
    "a timeout in words": (
        {"j.yaml": f"name: a\nsteps:\n{_STEP}    timeout: soon\n"},
        ["list", "j.yaml"],
        "timeout is a number of seconds above 0; got 'soon'",
    ),
    "recursive YAML": ({"j.yaml": _RECURSIVE_YAML}, ["list", "j.yaml"], "j.yaml"),
    "a non-UTF-8 journey": (
        {"j.yaml": "name: café\nsteps: []\n".encode("latin-1")},
        ["list", "j.yaml"],
        "j.yaml: byte 9 is not UTF-8: save the journey file as UTF-8 text",
    ),
    "a Python journey that exits": (
        {"j.py": "import sys\nsys.exit(0)\n"},
        ["run", "j.py", "--base-url", "http://127.0.0.1:9"],
        "j.py: calls sys.exit(0) as it is imported",
    ),
    "a Python journey that raises a BaseException": (
        {"j.py": "raise BaseException('boom')\n"},
        ["run", "j.py", "--base-url", "http://127.0.0.1:9"],
        "j.py: cannot import journeys: BaseException: boom",
    ),
    "a recursive spec": ({"s.yaml": _RECURSIVE_SPEC}, ["coverage", "--spec", "s.yaml"], "refers to itself"),
    "a non-UTF-8 spec": (
        {"s.yaml": "openapi: 3.0.3\ninfo: {title: é}\n".encode("latin-1")},
        ["coverage", "--spec", "s.yaml"],
        "is not UTF-8: save it as UTF-8 text",
    ),
    "a HAR entry without a URL": (
        {"in.har": '{"log": {"entries": [{"request": {"method": "GET", "url": "/items"}}]}}'},
        ["import", "in.har", "--out", "rec.db"],
        "request.url is '/items', not an absolute http(s) URL",
    ),
    "a HAR entry whose status is text": (
        {"in.har": json.dumps({"log": {"entries": [{**_ENTRY, "response": {"status": "ok"}}]}})},
        ["import", "in.har", "--out", "rec.db"],
        "response.status is 'ok', not an HTTP status",
    ),
    "a HAR export to a folder": ({}, ["export", str(SAMPLE), "--har", "."], ".: Is a directory"),
    "a HAR export under a file": (
        {"file": "x"},
        ["export", str(SAMPLE), "--har", "file/out.har"],
        "file/out.har: Not a directory",
    ),
    "a listen port out of range": (
        {},
        ["record", "--upstream", "http://127.0.0.1:9", "--listen", "127.0.0.1:99999"],
        "the port must be a number up to 65535",
    ),
    "a setting of the wrong type": (
        {"replayqa.toml": "timeout = 'soon'\n"},
        ["list"],
        "setting 'timeout' must be a number, not 'soon'",
    ),
    "a non-UTF-8 settings file": ({"replayqa.toml": b"base_url = '\xff'\n"}, ["list"], "is not UTF-8"),
    "synth with no runs": (
        {},
        ["synth", "--spec", "s.yaml", "--runs", "0", "--base-url", "http://127.0.0.1:9"],
        "0 is not in the range x>=1",
    ),
    "noise learning in parallel": (
        {},
        ["replay", str(SAMPLE), "--base-url", "http://127.0.0.1:9", "--learn-noise", "--workers", "2"],
        "--learn-noise replays one session at a time: leave out --workers",
    ),
}


@pytest.mark.parametrize("case", sorted(_CASES))
def test_each_class_of_bad_input_gets_one_line_and_exit_2(case: str) -> None:
    files, args, expected = _CASES[case]
    with CliRunner().isolated_filesystem():
        for name, content in files.items():
            Path(name).write_bytes(content if isinstance(content, bytes) else content.encode())
        result = invoke(*args)
        assert_handled(result)
        assert result.exit_code == 2, result.output
        assert expected in result.output
        assert not Path("nowhere").exists(), "a run store is never made where none was"


def test_a_recording_given_as_a_run_store_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    recording = tmp_path / "rec.db"
    shutil.copy(SAMPLE, recording)
    before = recording.read_bytes()
    for args in (["issues", "list"], ["issues", "mark", "3f2a9c1d0e4b", "known"]):
        result = invoke(*args, "--store", str(recording))
        assert result.exit_code == 2
        assert "is not a replayqa run store (it is a replayqa recording)" in result.output
    assert recording.read_bytes() == before
    with sqlite3.connect(recording) as conn:
        assert "known_issues" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}


def test_a_text_file_is_no_sqlite_database(tmp_path: Path) -> None:
    (tmp_path / "app.db").write_text("not a database")
    with pytest.raises(ConfigError, match=r"app\.db is not a SQLite database: fix --db"):
        open_state(f"sqlite:///{tmp_path / 'app.db'}").connect()
