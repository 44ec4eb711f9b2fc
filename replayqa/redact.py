"""Secrets never reach disk unredacted: every writer passes exchanges through here.

Headers that carry credentials keep their scheme (``Bearer [redacted]``);
fields whose names say they are secret are replaced; card-like numbers keep
their last four digits, enough to tell test cards apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from replayqa.model import HttpRequest, HttpResponse

MASK = "[redacted]"
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-auth-token",
        "x-csrf-token",
        "x-xsrf-token",
    }
)
_SENSITIVE_FIELD = re.compile(
    r"pass(word|wd)?|secret|token|api[_-]?key|authorization|cvv|cvc|ssn|card[_-]?number|pan$",
    re.IGNORECASE,
)
_CARD = re.compile(r"^\d{12,19}$")


def is_sensitive_field(name: str) -> bool:
    return bool(_SENSITIVE_FIELD.search(name))


def redact_value(name: str, value: Any) -> Any:
    if isinstance(value, str) and _CARD.match(value):
        return "*" * (len(value) - 4) + value[-4:]
    return MASK


def redact_json(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            k: (
                redact_value(k, v)
                if is_sensitive_field(str(k)) and not isinstance(v, dict | list)
                else redact_json(v)
            )
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [redact_json(v) for v in data]
    return data


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, value in headers.items():
        if name.lower() in SENSITIVE_HEADERS:
            scheme, _, rest = value.partition(" ")
            out[name] = (
                f"{scheme} {MASK}" if rest and scheme.lower() in {"bearer", "basic", "token"} else MASK
            )
        else:
            out[name] = value
    return out


def redact_body(body: str | None) -> str | None:
    if not body:
        return body
    try:
        return json.dumps(redact_json(json.loads(body)), ensure_ascii=False)
    except ValueError:
        pass
    if "=" in body and "\n" not in body:
        pairs = parse_qsl(body, keep_blank_values=True)
        if pairs:
            return urlencode([(k, MASK if is_sensitive_field(k) else v) for k, v in pairs], safe="[]")
    return body


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    clean = urlencode([(k, MASK if is_sensitive_field(k) else v) for k, v in query], safe="[]")
    return urlunsplit(parts._replace(query=clean))


def redact_request(request: HttpRequest | None) -> HttpRequest | None:
    if request is None:
        return None
    return replace(
        request,
        url=redact_url(request.url),
        headers=redact_headers(request.headers),
        body=redact_body(request.body),
    )


def redact_response(response: HttpResponse | None) -> HttpResponse | None:
    if response is None:
        return None
    return replace(response, headers=redact_headers(response.headers), body=redact_body(response.body) or "")
