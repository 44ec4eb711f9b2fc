"""The mitmproxy edge: flows become RequestInfo / ResponseInfo, in one function each.

Headers are read once from the raw fields: mitmproxy's convenience accessors
convert every field on every call, which costs more than recording itself.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from mitmproxy import http

from replayqa.record.traffic import Body, RequestInfo, ResponseInfo


def header_pairs(headers: http.Headers) -> list[tuple[str, str]]:
    return [
        (name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
        for name, value in headers.fields
    ]


def _find(pairs: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in pairs if k.lower() == name), "")


def request_info(flow: http.HTTPFlow, body_cap: int) -> RequestInfo:
    request = flow.request
    address = flow.client_conn.peername
    pairs = header_pairs(request.headers)
    path, _, query = request.path.partition("?")
    authority = _find(pairs, "host") or _find(pairs, ":authority")  # what the client asked for
    host = (urlsplit("//" + authority).hostname if authority else None) or request.host
    return RequestInfo(
        flow_id=flow.id,
        client=f"{address[0]}:{address[1]}" if address else "unknown",
        method=request.method,
        scheme=request.scheme,
        host=host,
        port=request.port,
        path=path,
        query=query,
        http_version=request.http_version,
        headers=pairs,
        body=Body.from_bytes(request.get_content(strict=False), _find(pairs, "content-type"), body_cap),
        timestamp=request.timestamp_start,
    )


def response_info(flow: http.HTTPFlow, body_cap: int, streamed: bytes | None = None) -> ResponseInfo:
    response = flow.response
    assert response is not None
    pairs = header_pairs(response.headers)
    raw = streamed if streamed is not None else response.get_content(strict=False)
    return ResponseInfo(
        status=response.status_code,
        reason=response.reason,
        headers=pairs,
        body=Body.from_bytes(raw, _find(pairs, "content-type"), body_cap),
        timestamp=response.timestamp_end or response.timestamp_start,
        streamed=streamed is not None,
    )
