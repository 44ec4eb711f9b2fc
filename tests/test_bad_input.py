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

import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replayqa.cli import main
from replayqa.model import RunResult
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
    store.save(RunResult(run_id="r1", base_url="http://app", started_at=1.0, journeys=[]))
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
