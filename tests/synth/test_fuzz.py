"""The fuzz phase's parts: values past a schema's edges, and the pool of values the app handed out."""

from __future__ import annotations

from replayqa.synth.fuzz import Entry, Origin, ValuePool, param_keys
from replayqa.synth.openapi import Api, assume_auth
from replayqa.synth.resources import resource_name
from replayqa.synth.values import boundary_values


def flat(schema):
    return schema


def values_of(schema) -> dict[str, object]:
    return {what: value for what, value in boundary_values(schema, flat)}


def test_boundary_values_step_past_each_declared_edge():
    text = values_of({"type": "string", "maxLength": 5, "minLength": 2, "format": "date-time"})
    assert text["6 characters (maxLength 5)"] == "xxxxxx"
    assert text["1 characters (minLength 2)"] == "x"
    assert any(isinstance(v, str) and "\x00" in v for v in text.values())
    assert any(what.startswith("a bad date-time") for what in text)
    number = values_of({"type": "integer", "minimum": 1, "maximum": 10})
    assert number["below the minimum (1)"] == 0 and number["above the maximum (10)"] == 11
    assert number["past a 64-bit integer"] == 2**63 and number["a fraction for an integer"] == 1.5
    choice = values_of({"type": "string", "enum": ["open", "closed"]})
    assert choice["a value outside the enum"] not in ("open", "closed")
    assert choice["an enum value in other case"] == "OPEN"


def entry(value, parents=None):
    return Entry(value, parents or {}, None)


def test_a_nested_value_comes_with_the_parent_it_was_made_in():
    pool = ValuePool()
    pool.add("collection", "id", entry("c-in-a", {"bucket_id": "a"}))
    pool.add("collection", "id", entry("c-in-b", {"bucket_id": "b"}))
    keys = [("collection", "id")]
    assert pool.pick(keys, {}).value == "c-in-b"  # the newest
    assert pool.pick(keys, {"bucket_id": "a"}).value == "c-in-a"
    assert pool.pick(keys, {"bucket_id": "z"}) is None
    pool.forget("c-in-b")
    assert pool.pick(keys, {}).value == "c-in-a"
    assert pool.pick(keys, {}, avoid=frozenset({"c-in-a"})) is None


def test_a_child_made_under_the_requests_other_parameters_comes_before_a_newer_one_from_elsewhere():
    """``/pools/{pool}/queues/{name}``: a queue made in a pool names something there; a queue
    made by ``POST /queues`` lives in some default pool, and naming it here finds nothing."""
    pool = ValuePool()
    pool.add("queue", "name", entry("q-in-p1", {"work_pool_name": "p1"}))
    pool.add("queue", "name", entry("q-default", {}))
    keys = [("queue", "name")]
    assert pool.pick(keys, {}).value == "q-default"  # nothing asked of it: the newest
    assert pool.pick(keys, {}, within=frozenset({"work_pool_name"})).value == "q-in-p1"
    pool.forget("q-in-p1")
    assert pool.pick(keys, {}, within=frozenset({"work_pool_name"})).value == "q-default"  # then any


def test_an_echo_of_a_made_up_value_is_not_learned_as_real():
    pool = ValuePool()
    made_up = "3fa85f64-5717-4562-b3fc-2c963f66afa6"

    def origin(where: str) -> Origin:
        return None  # type: ignore[return-value]

    body = {"id": "d1", "name": "nightly", "flow_id": made_up}
    pool.harvest("deployment", body, {}, origin, echoed=frozenset({made_up}))
    assert pool.pick([("deployment", "id")], {}).value == "d1"
    assert pool.pick([("flow", "id")], {}) is None  # the deployment only repeated what we sent
    assert pool.pick([("*", "flow_id")], {}) is None
    # a create with an id we chose (PUT /buckets/{id}) made a real one
    pool.harvest("bucket", {"data": {"id": "mine"}}, {}, origin, echoed=frozenset({"mine"}), made=True)
    assert pool.pick([("bucket", "id")], {}).value == "mine"


def test_parameters_find_their_values_by_resource_and_field():
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/flows/name/{name}": {"get": {"parameters": [path("name")], "responses": {"200": ok()}}},
            "/work_pools/{work_pool_name}/queues": {
                "get": {"parameters": [path("work_pool_name")], "responses": {"200": ok()}}
            },
            "/buckets/{bucket_id}/collections/{id}": {
                "get": {"parameters": [path("bucket_id"), path("id")], "responses": {"200": ok()}}
            },
        },
    }
    ops = {op.key: op for op in Api(spec).operations}
    assert param_keys(ops["GET /flows/name/{name}"], "name")[0] == ("flow", "name")
    assert ("workpool", "name") in param_keys(
        ops["GET /work_pools/{work_pool_name}/queues"], "work_pool_name"
    )
    nested = ops["GET /buckets/{bucket_id}/collections/{id}"]
    assert param_keys(nested, "id")[0] == ("collection", "id")
    assert param_keys(nested, "bucket_id")[0] == ("bucket", "id")


def path(name):
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def ok():
    return {"description": "OK"}


def test_schema_role_suffixes_are_not_part_of_the_resource():
    assert resource_name("FlowRunResponse") == "flowrun"
    assert resource_name("flow_run_read") == "flowrun"
    assert resource_name("UserOut") == "user"
    assert resource_name("Thread") == "thread"  # a word ending, not a role
    assert resource_name("CartItem") == "cartitem"


def test_assumed_auth_applies_where_every_operation_says_security_none():
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {"/buckets": {"post": {"security": [], "responses": {"201": ok()}}}},
    }
    api = Api(assume_auth(spec, "basic"))
    assert api.security_of(api.operations[0])


def test_a_refusal_names_the_values_the_app_wants():
    from replayqa.synth.fuzz import hints

    said = "{\"message\": \"Must specify format of file contents as 'text' or 'base64'\"}"
    assert hints(said, {"format": "format", "type": "file"}) == {"format": ["text", "base64"]}
    pydantic = (
        '{"detail": [{"loc": ["body", "mode"], "msg": "Input should be \'concurrency\' or \'rate_limit\'",'
        ' "ctx": {"expected": "\'concurrency\' or \'rate_limit\'"}}]}'
    )
    assert hints(pydantic, {"mode": "x"}) == {"mode": ["concurrency", "rate_limit"]}
    assert hints("Forbidden", {"mode": "x"}) == {}


def test_an_update_keeps_the_name_the_pool_knows_the_thing_by():
    """A PATCH that sent a new name would rename the thing, and every later request naming it
    by its old name would find nothing; a name the schema requires is still sent."""
    from replayqa.synth.fuzz import Fuzzer

    item = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "priority": {"type": "integer"}},
    }
    required = {**item, "required": ["name"]}
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/queues/{id}": {
                "patch": {
                    "parameters": [path("id")],
                    "requestBody": {"content": {"application/json": {"schema": item}}},
                    "responses": {"204": ok()},
                },
                "put": {
                    "parameters": [path("id")],
                    "requestBody": {"content": {"application/json": {"schema": item}}},
                    "responses": {"200": ok()},
                },
            },
            "/labels/{id}": {
                "patch": {
                    "parameters": [path("id")],
                    "requestBody": {"content": {"application/json": {"schema": required}}},
                    "responses": {"204": ok()},
                },
            },
        },
    }
    api = Api(spec)
    fuzzer = Fuzzer(api, lambda *a: None, lambda journey: None, deadline=0.0)  # type: ignore[arg-type]
    ops = {op.key: op for op in api.operations}
    assert set(fuzzer._body(ops["PATCH /queues/{id}"], {}, minimal=False)) == {"priority"}
    assert "name" in fuzzer._body(ops["PUT /queues/{id}"], {}, minimal=False)  # a whole new state
    assert "name" in fuzzer._body(ops["PATCH /labels/{id}"], {}, minimal=False)


def test_ids_a_body_holds_together_come_from_one_object():
    """A block document names a block schema and the block type that schema belongs to: two
    newest values from unrelated objects would be refused, or crash the server."""
    from replayqa.synth.fuzz import Fuzzer

    def origin(where: str) -> Origin:
        return None  # type: ignore[return-value]

    body = {
        "type": "object",
        "required": ["block_type_id", "block_schema_id"],
        "properties": {"block_type_id": {"type": "string"}, "block_schema_id": {"type": "string"}},
    }
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/block_documents/": {
                "post": {
                    "requestBody": {"content": {"application/json": {"schema": body}}},
                    "responses": {"201": ok()},
                }
            }
        },
    }
    api = Api(spec)
    fuzzer = Fuzzer(api, lambda *a: None, lambda journey: None, deadline=0.0)  # type: ignore[arg-type]
    fuzzer.pool.harvest("blocktype", {"id": "t1", "slug": "one"}, {}, origin)
    fuzzer.pool.harvest("blockschema", {"id": "s1", "block_type_id": "t1"}, {}, origin)
    fuzzer.pool.harvest("blocktype", {"id": "t2", "slug": "two"}, {}, origin)  # the newest type
    made = fuzzer._body(api.operations[0], {}, minimal=True)
    assert made == {"block_type_id": "t1", "block_schema_id": "s1"}


def test_a_role_suffix_that_is_part_of_the_apis_own_noun_stays():
    """``BlockSchema`` served at ``/block_schemas`` is a block schema, not a block."""
    from replayqa.synth.resources import collections

    nouns = collections(frozenset({"block_schemas", "block_types", "users"}))
    assert resource_name("BlockSchema", nouns) == "blockschema"
    assert resource_name("UserSchema", nouns) == "user"  # no /user_schemas: the role suffix goes
