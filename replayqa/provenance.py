"""Value provenance: which earlier response produced each value a request sends.

A recorded request sends ids, tokens, CSRF values and ETags that some earlier
response handed out. Replaying the literal recorded value is wrong (the app
will generate a new id), so each sent value is traced to its producer, and on
replay the producer's *new* value is sent instead. Values inside larger
strings (``/carts/12/checkout``, ``Bearer abc``) are traced too. Values too
common to mean anything (0, 1, true, short strings) are not traced.

Replay uses this now; synth will turn the same bindings into template
references.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlsplit

_NOT_JSON = object()
_DELIMITERS = re.compile(r"([/?&=;,:\s\"'])")
_PLACEHOLDER = re.compile(r"\[redacted:[0-9a-f]+\]")  # one token, though it holds a ':'


@dataclass(frozen=True)
class Source:
    """Where a value came from: exchange index, and a location in its response."""

    exchange: int
    location: str  # "body:$.id", "header:location", "cookie:sessionid"


@dataclass(frozen=True)
class Binding:
    """One sent value and where it came from."""

    exchange: int  # the request that sends it
    location: str  # "path", "query:item", "header:authorization", "cookie:sid", "body:$.cart_id"
    value: str  # as recorded, in text form
    source: Source


def traceable(value: Any) -> bool:
    """Too-common values would bind to anything: small numbers, booleans, short strings."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return abs(value) >= 2 and not (isinstance(value, float) and not value.is_integer())
    if isinstance(value, str):
        return len(value) >= 4 or (value.isdigit() and int(value) >= 2)
    return False


_ADDRESSABLE = re.compile(r"[^.\[\]]+")  # what a template path can name (templates._TOKEN)


def _leaves(data: Any, path: str = "$") -> Iterator[tuple[str, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            if _ADDRESSABLE.fullmatch(str(key)):  # a key like "prefect.flow.id" no template can name
                yield from _leaves(value, f"{path}.{key}")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _leaves(value, f"{path}[{index}]")
    else:
        yield path, data


def produced_values(
    status: int | None, headers: Iterable[tuple[str, str]], body: str | None
) -> Iterator[tuple[str, str]]:
    """(location, value-as-text) for everything a response hands out."""
    for name, value in headers:
        lower = name.lower()
        if lower == "set-cookie":
            cookie, _, rest = value.partition(";")[0].partition("=")
            if traceable(rest):
                yield f"cookie:{cookie.strip()}", rest.strip()
        elif lower in ("location", "etag", "x-csrf-token", "x-request-id") and traceable(value):
            yield f"header:{lower}", value
            if lower == "location":  # each path segment has a place of its own: /carts/{id}/items
                for index, segment in enumerate(urlsplit(value).path.split("/")):
                    if traceable(segment):
                        yield f"header:location/{index}", segment
    parsed = parse_json(body, _NOT_JSON)
    if parsed is _NOT_JSON:
        for location, value in _page_values(body or ""):
            if traceable(value):
                yield location, value
    elif parsed is not None:
        for path, value in _leaves(parsed):
            if traceable(value):
                yield f"body:{path}", value_text(value)


class _PageValues(HTMLParser):
    """Hidden form fields and meta tags: where server-rendered pages hand out CSRF tokens."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        name = named.get("name")
        if tag == "input" and name and (named.get("type") or "").lower() == "hidden" and named.get("value"):
            self.found.append((f"html:input:{name}", named["value"] or ""))
        elif tag == "meta" and name and named.get("content"):
            self.found.append((f"html:meta:{name}", named["content"] or ""))


def _page_values(body: str) -> list[tuple[str, str]]:
    if "<input" not in body and "<meta" not in body:
        return []
    parser = _PageValues()
    parser.feed(body)
    return parser.found


def form_fields(headers: Iterable[tuple[str, str]], body: str | None) -> list[tuple[str, str]] | None:
    """A url-encoded form body's fields, in order; None for any other body."""
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    if body is None or "application/x-www-form-urlencoded" not in content_type.lower():
        return None
    return parse_qsl(body, keep_blank_values=True)


def sent_values(
    method: str, url: str, headers: Iterable[tuple[str, str]], body: str | None
) -> Iterator[tuple[str, str]]:
    """(location, value-as-text) for everything a request sends, tokens inside strings included."""
    parts = urlsplit(url)
    for segment in parts.path.split("/"):
        if traceable(segment):
            yield "path", segment
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        for token in _tokens(value):
            yield f"query:{key}", token
    for name, value in headers:
        lower = name.lower()
        if lower == "cookie":
            for pair in value.split(";"):
                cookie, _, cookie_value = pair.strip().partition("=")
                if traceable(cookie_value):
                    yield f"cookie:{cookie}", cookie_value
        elif lower in ("authorization", "if-match", "if-none-match") or lower.startswith("x-"):
            for token in _tokens(value):
                yield f"header:{lower}", token
    for key, value in form_fields(headers, body) or ():
        for token in _tokens(value):
            yield f"form:{key}", token
    parsed = parse_json(body)
    if parsed is not None:
        for path, value in _leaves(parsed):
            if isinstance(value, str):
                for token in _tokens(value):
                    yield f"body:{path}", token
            elif traceable(value):
                yield f"body:{path}", value_text(value)


def trace(exchanges: list[dict[str, Any]]) -> list[Binding]:
    """Bindings for a list of recorded exchanges (rows of a recording), in order.

    Each sent value binds to the *latest* earlier response that produced it.
    """
    sent = [
        list(sent_values(row["method"], row["url"], row["request_headers"], row["request_body"]))
        for row in exchanges
    ]
    wanted = {value for values in sent for _, value in values}
    words = {v for v in wanted if not _WORD_BREAK.search(v)}
    phrases = wanted - words
    producers: dict[str, Source] = {}
    bindings: list[Binding] = []
    for index, row in enumerate(exchanges):
        for location, value in sent[index]:
            source = producers.get(value)
            if source is not None:
                bindings.append(Binding(index, location, value, source))
        if row.get("status") is None or not _may_produce(row, words, phrases):
            continue
        for location, value in produced_values(row["status"], row["response_headers"], row["response_body"]):
            if value in wanted:
                producers[value] = Source(index, location)
    return bindings


_WORD_BREAK = re.compile(r"[/?&=;,:\s\"'{}\[\]]")


def _may_produce(row: dict[str, Any], words: set[str], phrases: set[str]) -> bool:
    """Only responses that mention a value some request sends are worth walking.

    Linear in the response, whatever the number of values: single words are
    looked up in the response's words; only the few values holding a break
    (a placeholder, a timestamp) are searched for as text.
    """
    if not words and not phrases:
        return False
    text = (row.get("response_body") or "") + " " + " ".join(v for _, v in row["response_headers"])
    if words and not words.isdisjoint(_WORD_BREAK.split(text)):
        return True
    return any(value in text for value in phrases)


def _tokens(value: str) -> Iterator[str]:
    if traceable(value):
        yield value
    for placeholder in _PLACEHOLDER.findall(value):
        if placeholder != value:
            yield placeholder
    value = _PLACEHOLDER.sub(" ", value)
    pieces = [p for p in _DELIMITERS.split(value) if p and not _DELIMITERS.fullmatch(p)]
    if len(pieces) > 1:
        for piece in pieces:
            if traceable(piece):
                yield piece


def parse_json(body: str | None, not_json: Any = None) -> Any:
    """The parsed body; None when there is none, ``not_json`` when it is not JSON."""
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return not_json


def value_text(value: Any) -> str:
    """A value as the text it is looked up by: 5.0 and 5 alike (JSON does not tell them apart),
    lists and objects as JSON. Provenance, replay and diff share it, so a float id is rebound."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)
