"""Secrets never reach disk unredacted: every writer passes exchanges through here.

One set of rules says what is secret (credential headers, cookies, fields
whose names say so); a :class:`Redactor` says what replaces it. Reports use a
plain mask, keeping the auth scheme (``Bearer [redacted]``) and a card's last
four digits. Recordings use *stable placeholders*: the same secret always
becomes the same placeholder, so a token seen in a login response can still
be followed into the Authorization headers that use it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from replayqa.model import HttpRequest, HttpResponse

MASK = "[redacted]"
DEFAULT_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-csrf-token",
        "x-xsrf-token",
    }
)
DEFAULT_FIELDS = r"pass(word|wd)?|secret|token|api[_-]?key|authorization|cvv|cvc|ssn"
_CARD_FIELD = re.compile(r"card[_-]?(number|no)|^pan$", re.IGNORECASE)
_CARD = re.compile(r"^\d{12,19}$")
_AUTH_SCHEMES = {"bearer", "basic", "token", "digest"}
_ALREADY_REDACTED = re.compile(r"^\[redacted(:[0-9a-f]+)?\]$")
_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_DISPOSITION = re.compile(
    r'content-disposition:[^\r\n]*?\bname=(?:"([^"]*)"|([^;\s]+))[^\r\n]*', re.IGNORECASE
)
_FILENAME = re.compile(r"\bfilename\*?=", re.IGNORECASE)


@dataclass(frozen=True)
class RedactionRules:
    """What counts as secret. ``cards`` also masks card-number fields (reports do; recordings need not)."""

    headers: frozenset[str] = DEFAULT_HEADERS
    fields: str = DEFAULT_FIELDS
    cards: bool = True
    extra_headers: tuple[str, ...] = ()
    extra_fields: tuple[str, ...] = ()

    def header_names(self) -> frozenset[str]:
        return self.headers | {h.lower() for h in self.extra_headers}

    def field_pattern(self) -> re.Pattern[str]:
        """Finds where a secret field's name may appear at all (bodies are screened with it)."""
        parts = [self.fields, *(re.escape(f) for f in self.extra_fields)]
        return re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE)

    def name_pattern(self) -> re.Pattern[str]:
        """Whether a field name is secret: the built-in words anywhere, the extra names whole.

        Whole, so that an extra ``pin`` does not take ``shipping`` with it.
        """
        parts = [self.fields, *(f"^{re.escape(f)}$" for f in self.extra_fields)]
        return re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE)

    def extended(self, headers: Iterable[str] = (), fields: Iterable[str] = ()) -> RedactionRules:
        """These rules, and more headers and field names (from config or flags)."""
        return replace(
            self,
            extra_headers=tuple(dict.fromkeys([*self.extra_headers, *headers])),
            extra_fields=tuple(dict.fromkeys([*self.extra_fields, *fields])),
        )

    def describe(self) -> dict[str, Any]:
        """What a recording notes about the rules applied to it."""
        return {
            "headers": sorted(self.header_names()),
            "fields": self.fields,
            "extra_fields": list(self.extra_fields),
            "cards": self.cards,
        }


@dataclass
class Redactor:
    rules: RedactionRules = field(default_factory=RedactionRules)
    #: secret value -> what is written instead
    replace_secret: Callable[[str], str] = lambda value: MASK

    def __post_init__(self) -> None:
        self._headers = self.rules.header_names()
        self._fields = self.rules.field_pattern()
        self._names = self.rules.name_pattern()

    def secret(self, value: str) -> str:
        """Redact one secret; a value that already is a placeholder stays as it is."""
        return value if _ALREADY_REDACTED.match(value) else self.replace_secret(value)

    # -- what is secret --------------------------------------------------------

    def _may_hold_secret(self, text: str) -> bool:
        """A body can only hold a secret field if some secret field name appears in it at all."""
        return bool(self._fields.search(text)) or (self.rules.cards and bool(_CARD_FIELD.search(text)))

    def is_secret_field(self, name: str) -> bool:
        return bool(self._names.search(name)) or (self.rules.cards and bool(_CARD_FIELD.search(name)))

    def _field_value(self, name: str, value: Any) -> Any:
        if self.rules.cards and _CARD_FIELD.search(name) and isinstance(value, str) and _CARD.match(value):
            return "*" * (len(value) - 4) + value[-4:]
        return self.secret(value if isinstance(value, str) else json.dumps(value))

    # -- structures -------------------------------------------------------------

    def json_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            return {
                k: self._field_value(str(k), v)
                if self.is_secret_field(str(k)) and not isinstance(v, dict | list) and v is not None
                else self.json_value(v)
                for k, v in data.items()
            }
        if isinstance(data, list):
            return [self.json_value(v) for v in data]
        return data

    def is_secret_header(self, name: str) -> bool:
        """The listed credential headers, and any whose name says secret (``X-Access-Token``)."""
        lower = name.lower()
        return lower in self._headers or bool(self._names.search(lower))

    def header_value(self, name: str, value: str) -> str:
        lower = name.lower()
        if not self.is_secret_header(lower):
            return value
        if lower == "cookie":
            return "; ".join(self._cookie_pair(p) for p in value.split(";") if p.strip())
        if lower == "set-cookie":
            first, _, attributes = value.partition(";")
            return self._cookie_pair(first) + (f";{attributes}" if attributes else "")
        scheme, _, rest = value.partition(" ")
        if rest and scheme.lower() in _AUTH_SCHEMES:
            return f"{scheme} {self.secret(rest.strip())}"
        return self.secret(value)

    def _cookie_pair(self, pair: str) -> str:
        name, sep, value = pair.strip().partition("=")
        return f"{name}={self.secret(value)}" if sep else self.secret(name)

    def headers(self, headers: dict[str, str]) -> dict[str, str]:
        return {name: self.header_value(name, value) for name, value in headers.items()}

    def header_pairs(self, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(name, self.header_value(name, value)) for name, value in pairs]

    def body(self, body: str | None, content_type: str = "") -> str | None:
        if not body or not self._may_hold_secret(body):
            return body
        if content_type.lower().startswith("multipart/form-data"):
            return self.multipart(body.encode("utf-8", "surrogateescape"), content_type).decode(
                "utf-8", "surrogateescape"
            )
        try:
            return json.dumps(self.json_value(json.loads(body)), ensure_ascii=False)
        except ValueError:
            pass
        looks_like_form = "form-urlencoded" in content_type or ("=" in body and "\n" not in body)
        if looks_like_form:
            pairs = parse_qsl(body, keep_blank_values=True)
            if pairs:
                return urlencode([(k, self._form_value(k, v)) for k, v in pairs], safe="[]:")
        return body

    def multipart(self, body: bytes, content_type: str) -> bytes:
        """Secret fields of a ``multipart/form-data`` body; every other byte stays as it was.

        Browsers send forms this way whenever a page posts ``FormData``, login
        forms included. File parts are left alone whatever their name.
        """
        match = _BOUNDARY.search(content_type)
        if not match or not self._fields.search(body.decode("latin-1")):
            return body
        delimiter = b"--" + (match.group(1) or match.group(2)).encode("latin-1")
        parts = body.split(delimiter)
        for index, part in enumerate(parts):
            head, separator, value = part.partition(b"\r\n\r\n")
            disposition = _DISPOSITION.search(head.decode("latin-1")) if separator else None
            if disposition is None or _FILENAME.search(disposition.group(0)):
                continue
            name = disposition.group(1) or disposition.group(2) or ""
            if not self.is_secret_field(name):
                continue
            content = value.removesuffix(b"\r\n")
            secret = self._field_value(name, content.decode("utf-8", "surrogateescape"))
            parts[index] = head + separator + secret.encode() + value[len(content) :]
        return delimiter.join(parts)

    def _form_value(self, name: str, value: str) -> str:
        return self._field_value(name, value) if self.is_secret_field(name) else value

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        if not parts.query:
            return url
        query = parse_qsl(parts.query, keep_blank_values=True)
        clean = urlencode([(k, self._form_value(k, v)) for k, v in query], safe="[]:")
        return urlunsplit(parts._replace(query=clean))

    def request(self, request: HttpRequest | None) -> HttpRequest | None:
        if request is None:
            return None
        content_type = request.headers.get("content-type", "")
        return replace(
            request,
            url=self.url(request.url),
            headers=self.headers(request.headers),
            body=self.body(request.body, content_type),
        )

    def response(self, response: HttpResponse | None) -> HttpResponse | None:
        if response is None:
            return None
        content_type = response.headers.get("content-type", "")
        return replace(
            response,
            headers=self.headers(response.headers),
            body=self.body(response.body, content_type) or "",
        )


def credential(scheme: str, secret: str) -> str:
    """The credential part of ``<scheme> <secret>``, however the user gave the secret.

    Users type either the credential alone or the whole header value
    (``Basic dXNlcjpwdw==``), and for HTTP Basic often ``user:password``:
    all three must work, in replays and in journeys alike. (Base64 has no
    colon, so ``user:password`` cannot be mistaken for an encoded one.)
    """
    secret = secret.strip()
    if scheme and secret.lower().startswith(scheme.lower() + " "):
        secret = secret[len(scheme) + 1 :].strip()
    if scheme.lower() == "basic" and ":" in secret:
        secret = base64.b64encode(secret.encode()).decode()
    return secret


def stable_placeholders(key: bytes | None = None) -> Callable[[str], str]:
    """Same secret, same placeholder; the key lives only in memory, so placeholders can't be reversed."""
    secret_key = key or secrets.token_bytes(32)

    def placeholder(value: str) -> str:
        digest = hmac.new(secret_key, value.encode(), hashlib.sha256).hexdigest()[:12]
        return f"[redacted:{digest}]"

    return placeholder


def cookie_values(header: str) -> list[str]:
    """Values of a Cookie or Set-Cookie header, for following a session across requests."""
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(header)
    except Exception:
        return []
    return [morsel.value for morsel in cookie.values() if morsel.value]


#: The redactor the reports and the run store use.
REPORTS = Redactor()


def configure_reports(rules: RedactionRules) -> None:
    """Reports follow the project's rules too (``redact_headers``/``redact_fields`` in config)."""
    global REPORTS
    REPORTS = Redactor(rules)


def redact_request(request: HttpRequest | None) -> HttpRequest | None:
    return REPORTS.request(request)


def redact_response(response: HttpResponse | None) -> HttpResponse | None:
    return REPORTS.response(response)


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return REPORTS.headers(headers)


def redact_body(body: str | None) -> str | None:
    return REPORTS.body(body)


def redact_url(url: str) -> str:
    return REPORTS.url(url)
