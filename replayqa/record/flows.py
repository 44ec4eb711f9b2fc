"""The mitmproxy edge: flows become RequestInfo / ResponseInfo, in one function each.

Headers are read once from the raw fields: mitmproxy's convenience accessors
convert every field on every call, which costs more than recording itself.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from mitmproxy import http

from replayqa.record.traffic import Body, RequestInfo, ResponseInfo

_WANTED = frozenset({"host", ":authority", "content-type", "content-encoding"})


def read_headers(headers: http.Headers) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """All header pairs, and the few the recorder looks at by name, in one pass."""
    pairs = []
    wanted: dict[str, str] = {}
    for raw_name, raw_value in headers.fields:
        name = raw_name.decode("utf-8", "surrogateescape")
        value = raw_value.decode("utf-8", "surrogateescape")
        pairs.append((name, value))
        lower = name.lower()
        if lower in _WANTED and lower not in wanted:
            wanted[lower] = value
    return pairs, wanted


def content_headers(headers: http.Headers) -> tuple[str, str]:
    """Content-Type (lower case) and Content-Length, before the body arrives."""
    content_type = length = ""
    for name, value in headers.fields:
        lower = name.lower()
        if lower == b"content-type":
            content_type = value.decode("latin-1").lower()
        elif lower == b"content-length":
            length = value.decode("latin-1")
    return content_type, length


@functools.lru_cache(maxsize=1024)
def _hostname(authority: str) -> str | None:
    return urlsplit("//" + authority).hostname


def _content(message: http.Message, wanted: dict[str, str]) -> bytes | None:
    """The decoded body; most bodies are not encoded, and need no second header lookup."""
    if "content-encoding" not in wanted:
        return message.raw_content
    return message.get_content(strict=False)


def request_info(flow: http.HTTPFlow, body_cap: int) -> RequestInfo:
    request = flow.request
    address = flow.client_conn.peername
    pairs, wanted = read_headers(request.headers)
    path, _, query = request.path.partition("?")
    authority = wanted.get("host") or wanted.get(":authority")  # what the client asked for
    host = (_hostname(authority) if authority else None) or request.host
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
        body=Body.from_bytes(_content(request, wanted), wanted.get("content-type", ""), body_cap),
        timestamp=request.timestamp_start,
    )


def response_info(
    flow: http.HTTPFlow, body_cap: int, streamed: bytes | None = None, streamed_size: int | None = None
) -> ResponseInfo:
    """``streamed``: the kept start of a streamed body; ``streamed_size``: how long the whole was."""
    response = flow.response
    assert response is not None
    pairs, wanted = read_headers(response.headers)
    raw = streamed if streamed is not None else _content(response, wanted)
    return ResponseInfo(
        status=response.status_code,
        reason=response.reason,
        headers=pairs,
        body=Body.from_bytes(raw, wanted.get("content-type", ""), body_cap, streamed_size),
        timestamp=response.timestamp_end or response.timestamp_start,
        streamed=streamed is not None,
    )
