"""The mitmproxy edge: flows become RequestInfo / ResponseInfo, in one function each."""

from __future__ import annotations

from mitmproxy import http

from replayqa.record.traffic import Body, RequestInfo, ResponseInfo


def request_info(flow: http.HTTPFlow, body_cap: int) -> RequestInfo:
    request = flow.request
    address = flow.client_conn.peername
    client = f"{address[0]}:{address[1]}" if address else "unknown"
    content_type = request.headers.get("content-type", "")
    return RequestInfo(
        flow_id=flow.id,
        client=client,
        method=request.method,
        scheme=request.scheme,
        host=request.pretty_host,
        port=request.port,
        path=request.path.split("?", 1)[0],
        query=request.path.split("?", 1)[1] if "?" in request.path else "",
        http_version=request.http_version,
        headers=[(k, v) for k, v in request.headers.items(multi=True)],
        body=Body.from_bytes(request.get_content(strict=False), content_type, body_cap),
        timestamp=request.timestamp_start,
    )


def response_info(flow: http.HTTPFlow, body_cap: int, streamed: bytes | None = None) -> ResponseInfo:
    response = flow.response
    assert response is not None
    content_type = response.headers.get("content-type", "")
    raw = streamed if streamed is not None else response.get_content(strict=False)
    return ResponseInfo(
        status=response.status_code,
        reason=response.reason,
        headers=[(k, v) for k, v in response.headers.items(multi=True)],
        body=Body.from_bytes(raw, content_type, body_cap),
        timestamp=response.timestamp_end or response.timestamp_start,
        streamed=streamed is not None,
    )
