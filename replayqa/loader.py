"""Journeys from files: YAML (safe-loaded, never evaluated) and Python modules.

The YAML form is the one synth writes, so it must read well and diff
cleanly: :func:`dump_journey` always writes keys in the same order.

::

    name: checkout
    vars: {card: "4242424242424242"}
    steps:
      - name: create_item
        request: {method: POST, path: /items, json: {name: Mug}}
        expect:
          status: 201
          body:
            - {path: id, exists: true}
        save: {item_id: id}
      - checkpoint: before_payment
      - branch:
          checkpoint: before_payment
          paths:
            - name: approved
              steps: [...]
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from replayqa.actions import RequestAction
from replayqa.checks import CHECK_KINDS, DB_MODES
from replayqa.errors import ConfigError, JourneyError
from replayqa.invariants import from_spec
from replayqa.model import Branch, Check, Checkpoint, Invariant, Journey, Node, Step
from replayqa.model import Path as JPath

JOURNEY_SUFFIXES = (".yaml", ".yml", ".py")
_STEP_KEYS = ("name", "description", "request", "expect", "save", "expect_failure", "timeout", "retries")
_REQUEST_KEYS = ("method", "path", "headers", "query", "json", "form", "body")
_EXPECT_KEYS = ("status", "body", "schema", "db")


# --- loading ------------------------------------------------------------------


class LoadedFile:
    def __init__(self, path: Path, journeys: list[Journey], invariants: list[Invariant]):
        self.path = path
        self.journeys = journeys
        self.invariants = invariants


def load_file(path: str | Path) -> LoadedFile:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no journey file {path}: check the path")
    if path.suffix == ".py":
        return _load_python(path)
    if path.suffix in (".yaml", ".yml"):
        return LoadedFile(path, [load_yaml(read_text(path, "journey file"), str(path))], [])
    raise ConfigError(f"{path}: journey files end in .yaml, .yml or .py")


def read_text(path: Path, what: str) -> str:
    """A user's text file, or one line saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: byte {exc.start} is not UTF-8: save the {what} as UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}; check the path") from None


def load_files(paths: Iterable[str | Path]) -> list[LoadedFile]:
    return [load_file(p) for p in expand_paths(paths)]


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; directories searched for journey files, in a stable order."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.suffix in JOURNEY_SUFFIXES and not p.name.startswith(("_", "."))
                )
            )
        else:
            found.append(path)
    return found


def load_yaml(text: str, source: str = "<yaml>") -> Journey:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        started = getattr(exc, "context_mark", None)
        context = getattr(exc, "context", None)
        if started and context and (not mark or started.line != mark.line):
            problem += f" ({context} at line {started.line + 1})"
        raise JourneyError(f"{where}: malformed YAML: {problem}") from None
    if not isinstance(document, dict):
        raise JourneyError(f"{source}: a journey file is a mapping with 'name' and 'steps'")
    _only(document, ("name", "description", "tags", "vars", "invariants", "steps"), source)
    if not document.get("name") or not isinstance(document.get("steps"), list):
        raise JourneyError(f"{source}: a journey needs 'name' and a list of 'steps'")
    for key, kind, shape in (
        ("vars", dict, "a mapping"),
        ("tags", list, "a list"),
        ("invariants", list, "a list"),
    ):
        if document.get(key) is not None and not isinstance(document[key], kind):
            raise JourneyError(f"{source}: '{key}' must be {shape}")
    if isinstance(document["name"], (dict, list)):
        raise JourneyError(f"{source}: 'name' must be text")
    try:
        return _journey(document, source)
    except RecursionError:
        raise JourneyError(
            f"{source}: the YAML refers to itself (an anchor used inside itself): write the steps out"
        ) from None
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise JourneyError(
            f"{source}: a value of the wrong type ({type(exc).__name__}: {exc}); "
            "see docs/journeys.md for each key's form"
        ) from None


def _journey(document: dict[str, Any], source: str) -> Journey:
    return Journey(
        name=str(document["name"]),
        steps=_nodes(document["steps"], f"{source}: journey {document['name']!r}"),
        description=str(document.get("description") or ""),
        tags=tuple(document.get("tags") or ()),
        variables=dict(document.get("vars") or {}),
        source=source,
        invariants=[
            from_spec(spec, f"{source}: invariant {index}")
            for index, spec in enumerate(document.get("invariants") or [], 1)
        ],
    )


def _nodes(items: list[Any], where: str) -> list[Node]:
    nodes: list[Node] = []
    for index, item in enumerate(items, 1):
        here = f"{where}, step {index}"
        if not isinstance(item, dict):
            raise JourneyError(f"{here}: expected a mapping (a step, checkpoint: or branch:)")
        if "checkpoint" in item:
            _only(item, ("checkpoint",), here)
            nodes.append(Checkpoint(str(item["checkpoint"])))
        elif "branch" in item:
            nodes.append(_branch(item, here))
        else:
            nodes.append(_step(item, here))
    return nodes


def _branch(item: dict[str, Any], where: str) -> Branch:
    _only(item, ("branch",), where)
    spec = item["branch"]
    if not isinstance(spec, dict) or "checkpoint" not in spec or not isinstance(spec.get("paths"), list):
        raise JourneyError(f"{where}: a branch needs 'checkpoint' and a list of 'paths'")
    paths = []
    for path in spec["paths"]:
        if not isinstance(path, dict) or "name" not in path:
            raise JourneyError(f"{where}: every path needs a 'name' and 'steps'")
        _only(path, ("name", "description", "steps"), where)
        paths.append(
            JPath(
                str(path["name"]),
                _nodes(path.get("steps") or [], f"{where}, path {path['name']!r}"),
                str(path.get("description") or ""),
            )
        )
    return Branch(str(spec["checkpoint"]), paths)


def load_step(item: dict[str, Any], where: str, extra_keys: Iterable[str] = ()) -> Step:
    """One step in the YAML form; ``extra_keys`` are what a caller's document adds around a step
    (an explored edge's ``from`` and ``to``), for the caller to read."""
    return _step({k: v for k, v in item.items() if k not in set(extra_keys)}, where)


def _step(item: dict[str, Any], where: str) -> Step:
    _only(item, _STEP_KEYS, where)
    if "name" not in item or "request" not in item:
        raise JourneyError(f"{where}: a step needs 'name' and 'request'")
    request = item["request"]
    if not isinstance(request, dict) or "method" not in request or "path" not in request:
        raise JourneyError(f"{where}: 'request' needs 'method' and 'path'")
    _only(request, _REQUEST_KEYS, f"{where}, request")
    _check_request(request, where)
    _check_step_values(item, where)
    action = RequestAction(
        method=str(request["method"]).upper(),
        path=str(request["path"]),
        headers=dict(request.get("headers") or {}),
        query=dict(request.get("query") or {}),
        json=request.get("json"),
        form=request.get("form"),
        body=request.get("body"),
    )
    return Step(
        name=str(item["name"]),
        action=action,
        description=str(item.get("description") or ""),
        expect_failure=bool(item.get("expect_failure", False)),
        timeout=item.get("timeout"),
        retries=int(item.get("retries") or 0),
        checks=_checks(item.get("expect") or {}, f"{where} ({item['name']})"),
        save={str(k): str(v) for k, v in (item.get("save") or {}).items()},
    )


_METHOD = re.compile(r"^[A-Za-z]+$")
_STATUS = re.compile(r"^[1-5]([0-9]{2}|xx)$", re.IGNORECASE)


def _check_request(request: dict[str, Any], where: str) -> None:
    """What would otherwise fail at run time, reported as the app's failure (exit 1)."""
    method, path = request["method"], request["path"]
    if not isinstance(method, str) or not _METHOD.match(method):
        raise JourneyError(f"{where}: request.method is an HTTP method such as GET or POST; got {method!r}")
    if not isinstance(path, str):
        raise JourneyError(f"{where}: request.path is text such as /items/1; got {path!r}")
    bodies = [k for k in ("json", "form", "body") if request.get(k) is not None]
    if len(bodies) > 1:
        raise JourneyError(f"{where}: a request has one body: json, form or body, not {' and '.join(bodies)}")
    for key in ("headers", "query", "form"):
        if request.get(key) is not None and not isinstance(request[key], dict):
            raise JourneyError(f"{where}: request.{key} is a mapping of names to values")
    _check_templates(request, where)


def _check_templates(value: Any, where: str) -> None:
    if isinstance(value, str) and value.count("{{") != value.count("}}"):
        raise JourneyError(f"{where}: unbalanced template in {value!r}: write {{{{ name }}}}")
    if isinstance(value, dict):
        for item in value.values():
            _check_templates(item, where)
    if isinstance(value, list):
        for item in value:
            _check_templates(item, where)


def _check_step_values(item: dict[str, Any], where: str) -> None:
    timeout, retries = item.get("timeout"), item.get("retries")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise JourneyError(f"{where}: timeout is a number of seconds above 0; got {timeout!r}")
    if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int) or retries < 0):
        raise JourneyError(f"{where}: retries is a whole number, 0 or more; got {retries!r}")
    if not isinstance(item.get("expect_failure", False), bool):
        raise JourneyError(f"{where}: expect_failure is true or false; got {item['expect_failure']!r}")
    if item.get("save") is not None and not isinstance(item["save"], dict):
        raise JourneyError(f"{where}: save is a mapping of names to response paths")
    expect = item.get("expect")
    if isinstance(expect, dict) and "status" in expect:
        statuses = expect["status"] if isinstance(expect["status"], list) else [expect["status"]]
        if not statuses or not all(
            not isinstance(s, bool) and isinstance(s, int | str) and _STATUS.match(str(s)) for s in statuses
        ):
            raise JourneyError(
                f"{where}: expect.status is a code (201), a class (4xx) or a list of them; "
                f"got {expect['status']!r}"
            )
    if isinstance(expect, dict) and expect.get("body") is not None and not isinstance(expect["body"], list):
        raise JourneyError(
            f"{where}: expect.body is a list of {{path: ..., equals|exists|matches|length: ...}}"
        )


def _checks(expect: dict[str, Any], where: str) -> tuple[Check, ...]:
    if not isinstance(expect, dict):
        raise JourneyError(f"{where}: 'expect' is a mapping of status, body and schema")
    _only(expect, _EXPECT_KEYS, f"{where}, expect")
    checks: list[Check] = []
    if "status" in expect:
        checks.append(Check("status", value=expect["status"]))
    for entry in expect.get("body") or []:
        body_kinds = ("equals", "exists", "matches", "length")
        kinds = [k for k in body_kinds if k in entry] if isinstance(entry, dict) else []
        if "path" not in entry or len(kinds) != 1:
            raise JourneyError(
                f"{where}: each expect.body entry is {{path: ..., equals|exists|matches|length: ...}}"
            )
        checks.append(Check(kinds[0], str(entry["path"]), entry[kinds[0]]))
    schema = expect.get("schema")
    if schema not in (None, False, True, "report"):
        raise JourneyError(
            f"{where}: expect.schema is true (a mismatch fails the step) or report; got {schema!r}"
        )
    if schema:
        checks.append(Check("schema", blocking=schema is True))
    if "db" in expect:
        if expect["db"] not in DB_MODES:
            raise JourneyError(f"{where}: expect.db is one of {', '.join(DB_MODES)}; got {expect['db']!r}")
        checks.append(Check("db", value=expect["db"]))
    return tuple(checks)


def _only(mapping: dict[str, Any], allowed: Iterable[str], where: str) -> None:
    allowed = tuple(allowed)
    for key in mapping:
        if key not in allowed:
            raise JourneyError(f"{where}: unknown key {key!r}; expected one of: {', '.join(allowed)}")


def _load_python(path: Path) -> LoadedFile:
    module_name = f"replayqa_journeys_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:  # else the run would end here, with this code and nothing run
        raise JourneyError(
            f"{path}: calls sys.exit({exc.code!r}) as it is imported: a journey file defines "
            "journeys and replayqa runs them; remove the call"
        ) from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # whatever a user's module raises, one line, never a traceback
        raise JourneyError(f"{path}: cannot import journeys: {type(exc).__name__}: {exc}") from None
    journeys = [v for v in vars(module).values() if isinstance(v, Journey)]
    for journey in journeys:
        journey.source = journey.source or str(path)
    found = getattr(module, "invariants", None) or getattr(module, "INVARIANTS", None) or []
    return LoadedFile(path, journeys, [i for i in found if isinstance(i, Invariant)])


# --- dumping ------------------------------------------------------------------


def dump_journey(journey: Journey) -> str:
    """The journey as YAML, keys always in the same order, for clean diffs."""
    document: dict[str, Any] = {"name": journey.name}
    if journey.description:
        document["description"] = journey.description
    if journey.tags:
        document["tags"] = list(journey.tags)
    if journey.variables:
        document["vars"] = journey.variables
    written = [i.spec for i in journey.invariants if i.spec is not None]
    if written:
        document["invariants"] = written
    document["steps"] = [_dump_node(n, journey.name) for n in journey.steps]
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def _dump_node(node: Node, journey: str) -> dict[str, Any]:
    if isinstance(node, Checkpoint):
        return {"checkpoint": node.name}
    if isinstance(node, Branch):
        return {
            "branch": {
                "checkpoint": node.checkpoint_name,
                "paths": [
                    {
                        "name": p.name,
                        **({"description": p.description} if p.description else {}),
                        "steps": [_dump_node(n, journey) for n in p.steps],
                    }
                    for p in node.paths
                ],
            }
        }
    if not isinstance(node.action, RequestAction):
        raise JourneyError(
            f"journey {journey!r}, step {node.name!r}: only request steps can be written as YAML"
        )
    action = node.action
    request = {"method": action.method, "path": action.path}
    for key in _REQUEST_KEYS[2:]:
        value = getattr(action, key)
        if value is not None and (key == "json" or value not in ({}, "")):
            request[key] = value
    step: dict[str, Any] = {"name": node.name}
    if node.description:
        step["description"] = node.description
    step["request"] = request
    expect = _dump_checks(node.checks)
    if expect:
        step["expect"] = expect
    if node.save:
        step["save"] = dict(node.save)
    if node.expect_failure:
        step["expect_failure"] = True
    if node.timeout is not None:
        step["timeout"] = node.timeout
    if node.retries:
        step["retries"] = node.retries
    return step


def _dump_checks(checks: Iterable[Check]) -> dict[str, Any]:
    expect: dict[str, Any] = {}
    body = []
    for check in checks:
        if check.kind == "status":
            expect["status"] = check.value
        elif check.kind == "schema":
            expect["schema"] = True if check.blocking else "report"
        elif check.kind == "db":
            expect["db"] = check.value
        elif check.kind in CHECK_KINDS:
            body.append({"path": check.path, check.kind: check.value})
    if body:
        expect["body"] = body
    return dict(sorted(expect.items(), key=lambda kv: _EXPECT_KEYS.index(kv[0])))


class _Dumper(yaml.SafeDumper):
    """Block style for structure, but short flat mappings and lists inline; never anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def represent_mapping(self, tag: str, mapping: Any, flow_style: Any = None) -> yaml.MappingNode:
        node = super().represent_mapping(tag, mapping, flow_style)
        node.flow_style = _is_small(mapping)
        return node

    def represent_sequence(self, tag: str, sequence: Any, flow_style: Any = None) -> yaml.SequenceNode:
        node = super().represent_sequence(tag, sequence, flow_style)
        node.flow_style = _is_small(sequence)
        return node


def _is_small(value: Any) -> bool:
    items = list(value.values()) if isinstance(value, dict) else list(value)
    scalars = all(not isinstance(v, dict | list) for v in items)
    return scalars and len(items) <= 4 and len(str(value)) <= 60
