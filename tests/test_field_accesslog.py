"""The field suite counts reach from each app's own access log: the parsing and matching it relies on."""

from __future__ import annotations

from bench.field.accesslog import REQUEST_LINE, STATUS_FIRST, Hit, hits, operations, reach

SWAGGER = {
    "swagger": "2.0",
    "basePath": "/v1",
    "paths": {
        "/buckets": {"get": {}, "post": {}},
        "/buckets/{bid}": {"get": {}, "delete": {}},
        "/buckets/{bid}/records/{rid}": {"patch": {}},
        "/buckets/default": {"get": {}},
    },
}
OPENAPI = {"openapi": "3.1.0", "servers": [{"url": "/api"}], "paths": {"/contents/{path}": {"get": {}}}}


def test_request_lines_of_three_servers_are_read(tmp_path):
    log = tmp_path / "access.log"
    log.write_text(
        '\x1b[1m"GET   /v1/buckets/shop?"\x1b[0m\x1b[33m 401 (5 ms)\x1b[0m agent=curl\n'  # Pyramid, in colour
        'INFO:     127.0.0.1:53774 - "POST /data/-/create HTTP/1.1" 201 Created\n'  # uvicorn
        "[D 2026-11-30 00:01:11.921 ServerApp] 201 PUT /api/contents/a%20b.txt (u@127.0.0.1) 4.44ms\n"
        "[W 2026-11-30 00:01:12.000 ServerApp] 404 GET /x (127.0.0.1): not found\n"
        "a traceback line with no request in it\n"
    )
    assert hits(log, REQUEST_LINE) == [
        Hit("GET", "/v1/buckets/shop", 401),
        Hit("POST", "/data/-/create", 201),
    ]
    assert hits(log, STATUS_FIRST)[0] == Hit("PUT", "/api/contents/a b.txt", 201)


def test_hits_map_to_operations_under_the_base_path_most_specific_first():
    seen = [
        Hit("GET", "/v1/buckets", 200),
        Hit("GET", "/v1/buckets/default", 200),  # the literal path, not /buckets/{bid}
        Hit("DELETE", "/v1/buckets/shop", 500),
        Hit("PATCH", "/v1/buckets/shop/records/abc", 404),  # reached, but not answered 2xx
        Hit("GET", "/v1/nowhere", 200),
    ]
    counted = reach(operations(SWAGGER), seen)
    assert counted.operations == 6
    assert counted.ops_2xx == {"GET /buckets", "GET /buckets/default"}
    assert counted.ops_500 == {"DELETE /buckets/{bid}"}
    assert counted.unmatched == 1


def test_a_path_parameter_may_hold_slashes_when_nothing_else_matches():
    counted = reach(operations(OPENAPI), [Hit("GET", "/api/contents/dir/sub/file.txt", 200)])
    assert counted.ops_2xx == {"GET /contents/{path}"}
