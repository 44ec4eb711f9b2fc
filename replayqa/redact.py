"""Secrets never reach disk unredacted: every writer passes what it stores through here.

One set of rules says what is secret; a :class:`Redactor` says what replaces
it. A name is secret when one of its words is (``jwt``, ``session``,
``private key``, ``pwd``, ``credentials``, ``otp``, ``token``, ``key``,
``auth``, ``cookie``...), whatever its case style: ``sessionId``,
``X-Session-Id``, ``PRIVATE_KEY`` and ``private key`` are the same name.
Everything beneath a secret name goes, arrays and objects included. Some
values are secret whatever their name: JWTs and PEM private keys, and the
secret-named query parameters of a URL in any header or body.

Reports use a plain mask, keeping the auth scheme (``Bearer [redacted]``)
and a card's last four digits. Recordings use *stable placeholders*: the
same secret always becomes the same placeholder, so a token seen in a login
response can still be followed into the Authorization headers that use it.

There is no module-wide redactor: each writer is handed the one built from
the project's settings, so no caller can forget to configure it.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from replayqa.model import Exchange, HttpRequest, HttpResponse, Issue

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
#: Words that make a name secret when the name holds one of them as a word.
SECRET_WORDS = frozenset(
    {
        "jwt", "jwe", "session", "sess", "sid", "pwd", "pw", "pswd", "pass", "passwd", "password",
        "passphrase", "passcode", "credential", "cred", "creds", "otp", "totp", "hotp", "mfa",
        "secret", "token", "key", "apikey", "auth", "oauth", "authorization", "authentication",
        "authn", "cookie", "csrf", "xsrf", "bearer", "signature", "sig", "hmac", "cvv", "cvc", "ssn",
        "pem", "privkey",
    }
)  # fmt: skip
#: Words that make a name secret even run together with others (``accesstoken``, ``phpsessid``).
_COMPOUND = re.compile(
    r"^[a-z0-9]*(?:password|passwd|passphrase|passcode|secret|token|credential|jwt|cookie|sessionid"
    r"|sessid|csrf|xsrf|apikey|privatekey|privkey|accesskey|secretkey|authkey|sessionkey|signingkey)"
    r"(?:s|id|key|value|hash|digest|string|text)?$"
)
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
#: Finds where a secret name may appear at all: text without one is left alone unparsed.
_SCREEN = re.compile(
    "|".join(sorted(SECRET_WORDS, key=len, reverse=True)) + r"|card|pan\b|eyJ|PRIVATE KEY", re.IGNORECASE
)
_CARD_FIELD = re.compile(r"card[_-]?(number|no)|^pan$", re.IGNORECASE)
_CARD = re.compile(r"^\d{12,19}$")
_AUTH_SCHEMES = {"bearer", "basic", "token", "digest"}
_ALREADY_REDACTED = re.compile(r"^\[redacted(:[0-9a-f]+)?\]$")
_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_DISPOSITION = re.compile(
    r'content-disposition:[^\r\n]*?\bname=(?:"([^"]*)"|([^;\s]+))[^\r\n]*', re.IGNORECASE
)
_FILENAME = re.compile(r"\bfilename\*?=", re.IGNORECASE)
#: Values that are secret whatever they are called.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----.*?(?:-----END \1-----|\Z)", re.DOTALL)
#: ``name=value`` after ``?`` or ``&`` (``&amp;`` in HTML): a URL's query parameter, in any text.
_QUERY_PARAM = re.compile(r"(?<=[?&;#])([\w.\-\[\]%+]+)=([^&#\s\"'<>;,\\]*)")
#: ``"name": "value"`` in text that is not JSON as a whole (an error message quoting a body).
_QUOTED_PAIR = re.compile(r"(\"([\w .\-]+)\"\s*:\s*)(\"(?:[^\"\\]|\\.)*\"|-?\d[\d.eE+-]*)")
_CHARSET = re.compile(r"charset=\"?([\w.:-]+)", re.IGNORECASE)
#: What a body that is not kept holds instead: a redaction marker replay and diff treat as noise.
NOT_STORED = MASK


def name_words(name: str) -> list[str]:
    """The words of a name in any case style: ``X-Session-Id`` and ``xSessionID`` give x, session, id."""
    return [word.lower() for word in _WORDS.findall(name)]


def is_secret_name(name: str) -> bool:
    """Whether a field, header, query parameter or column name says its value is a secret."""
    for word in name_words(name):
        singular = word[:-1] if word.endswith("s") else word
        if word in SECRET_WORDS or singular in SECRET_WORDS or _COMPOUND.match(word):
            return True
    return False


#: Words before ``key`` that make it a credential whatever it holds.
_KEY_KINDS = frozenset(
    {
        "api", "private", "priv", "secret", "access", "signing", "sign", "auth", "client", "master",
        "encryption", "license", "licence", "ssh", "gpg", "pgp", "app", "consumer", "deploy", "service",
        "account", "subscription", "shared", "root", "admin", "hmac", "crypto", "decryption", "pass",
    }
)  # fmt: skip
#: A value that looks like a credential: long, letters and digits, no spaces (``sk_live_51Hx...``).
_CREDENTIAL = re.compile(r"^(?=[^\s]*\d)(?=[^\s]*[A-Za-z])[^\s]{16,}$")


def only_key_word(name: str) -> bool:
    """A name secret by the word ``key`` alone (``key``, ``metric_key``, ``object_key``).

    ``key`` names keys of every kind (a metric's, a tag's, a storage object's), so its value is
    taken for a secret only when it looks like one; ``api_key``, ``private_key`` and the other
    secret words are secret whatever they hold.
    """
    words = name_words(name)
    found = set()
    for index, word in enumerate(words):
        singular = word[:-1] if word.endswith("s") else word
        if word in SECRET_WORDS or singular in SECRET_WORDS:
            found.add(singular if singular in SECRET_WORDS else word)
            if singular == "key" and index and words[index - 1] in _KEY_KINDS:
                return False  # api_key, private_key, X-Access-Key: a credential by name
        elif _COMPOUND.match(word):
            return False
    return found == {"key"}


def looks_like_credential(value: Any) -> bool:
    return isinstance(value, str) and bool(_CREDENTIAL.match(value))


#: Password hashes a replay needs to log in again after restoring a captured state.
_PASSWORD_HASH = re.compile(
    r"^(?:\$(?:2[abxy]?|argon2i|argon2d|argon2id|scrypt|pbkdf2(?:-sha\d+)?|[156]|y|gy|7)\$\S{20,}"
    r"|(?:pbkdf2_sha256|pbkdf2_sha1|argon2|bcrypt_sha256|bcrypt|scrypt)\$\S{20,}"
    r"|(?:pbkdf2|scrypt):[\w:]+\$[^$\s]+\$[0-9a-f]{32,})$"
)


def is_password_hash(value: str) -> bool:
    """A salted password hash (bcrypt, argon2, scrypt, PBKDF2 as Django or Werkzeug store them).

    Captured database columns keep these: a replay restores the captured
    state and logs in again, which needs them, and they reveal no password.
    A bare hex digest is not one of them: it may as well be a token (see
    ``ColumnRedaction`` for the one place it is kept).
    """
    return bool(_PASSWORD_HASH.match(value))


@dataclass(frozen=True)
class RedactionRules:
    """What counts as secret. ``cards`` also masks card-number fields (reports do; recordings need not)."""

    headers: frozenset[str] = DEFAULT_HEADERS
    cards: bool = True
    extra_headers: tuple[str, ...] = ()
    extra_fields: tuple[str, ...] = ()

    def header_names(self) -> frozenset[str]:
        return self.headers | {h.lower() for h in self.extra_headers}

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
            "words": sorted(SECRET_WORDS),
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
        self._extra = {name.lower() for name in self.rules.extra_fields}
        extra = "".join(f"|{re.escape(name)}" for name in self._extra)
        self._screen = re.compile(_SCREEN.pattern + extra, re.IGNORECASE) if extra else _SCREEN

    def secret(self, value: str) -> str:
        """Redact one secret; a value that already is a placeholder stays as it is."""
        return value if _ALREADY_REDACTED.match(value) else self.replace_secret(value)

    # -- what is secret --------------------------------------------------------

    def is_secret_field(self, name: str) -> bool:
        """Built-in words inside the name; extra names only whole, so ``pin`` spares ``shipping``."""
        return (
            is_secret_name(name)
            or name.lower() in self._extra
            or (self.rules.cards and bool(_CARD_FIELD.search(name)))
        )

    def is_secret_value(self, name: str, value: Any) -> bool:
        """Whether ``value``, found under ``name``, is a secret: by the name, and for a name that
        only says ``key``, by the value's look too (a metric named ``loss`` is no secret)."""
        if not self.is_secret_field(name):
            return False
        return name.lower() in self._extra or not only_key_word(name) or looks_like_credential(value)

    def _beneath_secret(self, name: str, value: Any) -> bool:
        if isinstance(value, dict | list):
            return self.is_secret_field(name)  # everything beneath a secret name, ``keys`` too
        return self.is_secret_value(name, value)

    def is_secret_header(self, name: str) -> bool:
        """The listed credential headers, and any whose name says secret (``X-Session-Id``)."""
        return name.lower() in self._headers or self.is_secret_field(name)

    def _scalar(self, value: Any) -> Any:
        """A secret leaf: booleans and nulls say nothing, so they stay (``"mfa": true``)."""
        if value is None or isinstance(value, bool):
            return value
        return self.secret(value if isinstance(value, str) else json.dumps(value))

    def _field_value(self, name: str, value: Any) -> Any:
        if self.rules.cards and _CARD_FIELD.search(name) and isinstance(value, str) and _CARD.match(value):
            return "*" * (len(value) - 4) + value[-4:]
        return self._scalar(value)

    # -- structures -------------------------------------------------------------

    def json_value(self, data: Any, secret: bool = False) -> Any:
        """Every leaf beneath a secret name goes; other strings lose the secrets they carry."""
        if isinstance(data, dict):
            return {
                key: self._field_value(str(key), value)
                if not secret and not isinstance(value, dict | list) and self.is_secret_value(str(key), value)
                else self.json_value(value, secret or self._beneath_secret(str(key), value))
                for key, value in data.items()
            }
        if isinstance(data, list):
            return [self.json_value(value, secret) for value in data]
        if secret:
            return self._scalar(data)
        if isinstance(data, str):
            return self._string(data)
        return data

    def _string(self, value: str) -> str:
        """A string that is not secret by name: JSON inside it, URLs, JWTs and PEM keys still are."""
        stripped = value.lstrip()
        if stripped[:1] in ("{", "[") and len(stripped) > 1:
            try:
                inner = json.loads(value)
            except ValueError:
                pass
            else:
                clean = self.json_value(inner)
                return value if clean == inner else json.dumps(clean, ensure_ascii=False)
        return self.text(value)

    def text(self, text: str) -> str:
        """Free text (a header, an error message, an HTML page): the secrets recognisable in it.

        JWTs and PEM private keys whatever surrounds them, secret-named query
        parameters of any URL (``Location``, ``Referer``, ``Link``, a link in
        a page), and ``"name": value`` pairs of JSON quoted in the text.
        """
        if not text or not self._screen.search(text):
            return text
        text = _PEM.sub(lambda m: self.secret(m.group(0)), text)
        text = _JWT.sub(lambda m: self.secret(m.group(0)), text)
        text = _QUERY_PARAM.sub(self._query_pair, text)
        return _QUOTED_PAIR.sub(self._quoted_pair, text)

    def _query_pair(self, match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        if not value or not self.is_secret_value(unquote_plus(name), unquote_plus(value)):
            return match.group(0)
        return f"{name}={self.secret(unquote_plus(value))}"

    def _quoted_pair(self, match: re.Match[str]) -> str:
        if not self.is_secret_field(match.group(2)):
            return match.group(0)
        value = match.group(3)
        try:
            secret = json.loads(value) if value.startswith('"') else value
        except ValueError:
            secret = value
        return match.group(1) + json.dumps(self.secret(str(secret)))

    def header_value(self, name: str, value: str) -> str:
        lower = name.lower()
        if not self.is_secret_header(lower):
            return self.text(value)
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
        """A body of any content type: JSON, NDJSON, server-sent events, forms, multipart or text.

        Whether it is JSON is decided by parsing, not by its Content-Type:
        apps send JSON as text/plain and application/octet-stream too.
        """
        if not body:
            return body
        if content_type.lower().startswith("multipart/form-data"):
            return self.multipart(body.encode("utf-8", "surrogateescape"), content_type).decode(
                "utf-8", "surrogateescape"
            )
        json_like = body.lstrip()[:1] in ("{", "[", '"')
        if not json_like and not self._screen.search(body):
            return body
        if json_like:
            try:
                data = json.loads(body)
            except ValueError:
                pass
            else:
                clean = self.json_value(data)
                return body if clean == data else json.dumps(clean, ensure_ascii=False)
        looks_like_form = "form-urlencoded" in content_type or (
            "=" in body and "\n" not in body and " " not in body.strip()
        )
        if looks_like_form:
            pairs = parse_qsl(body, keep_blank_values=True)
            if pairs:
                return urlencode([(k, self._form_value(k, v)) for k, v in pairs], safe="[]:")
        return "".join(self._line(line) for line in body.splitlines(keepends=True))

    def _line(self, line: str) -> str:
        """One line of NDJSON, of an event stream (``data: {...}``), or of text."""
        content = line.rstrip("\r\n")
        ending = line[len(content) :]
        rest = content.removeprefix("data:")
        rest = rest.lstrip(" ")
        head = content[: len(content) - len(rest)]
        if rest.lstrip()[:1] in ("{", "["):
            try:
                data = json.loads(rest)
            except ValueError:
                pass
            else:
                clean = self.json_value(data)
                if clean != data:
                    return head + json.dumps(clean, ensure_ascii=False) + ending
                return line
        return self.text(line)

    def truncated_body(self, text: str, content_type: str = "") -> str:
        """The kept start of a body too large to keep whole (over ``body_cap``).

        Lines (NDJSON, events, text) are kept whole and redacted; the cut
        last line is dropped. A JSON document cut short cannot be parsed, so
        nothing of it is kept: only :data:`NOT_STORED`.
        """
        lines = text.splitlines(keepends=True)
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines.pop()
        first = next((line.strip() for line in lines if line.strip()), "")
        if not first:
            return NOT_STORED
        if first[:1] in ("{", "["):
            try:
                json.loads(first)
            except ValueError:
                return NOT_STORED
        return self.body("".join(lines), content_type) or NOT_STORED

    def decoded(self, raw: bytes, content_type: str = "") -> str | None:
        """A body that is not UTF-8 text, as redacted text when it is text after all; else None.

        JSON in UTF-16 or UTF-32 (with or without a byte-order mark), in a
        declared charset such as latin-1, or sent as application/octet-stream
        is still JSON, and still holds secrets. It is kept as text, so a
        replay compares it field by field. Anything else (an image, a zip)
        is None: the caller keeps its bytes.
        """
        codec = _text_codec(raw, content_type)
        if codec is None:
            return None
        start = raw[:64].decode(codec, "ignore").lstrip("\ufeff \t\r\n")[:1]
        if not _declared(content_type) and start not in ("{", "["):
            return None  # cheap: most binary bodies are not JSON, and this needs no decoding
        try:
            text = raw.decode(codec).lstrip("\ufeff")
        except (UnicodeDecodeError, LookupError):
            return None
        if not _declared(content_type) and not _is_json(text):
            return None
        return self.body(text, content_type)

    def multipart(self, body: bytes, content_type: str) -> bytes:
        """Secret fields of a ``multipart/form-data`` body; every other byte stays as it was.

        Browsers send forms this way whenever a page posts ``FormData``, login
        forms included. File parts are left alone whatever their name.
        """
        match = _BOUNDARY.search(content_type)
        if not match or not self._screen.search(body.decode("latin-1")):
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
        return self._field_value(name, value) if self.is_secret_value(name, value) else self._string(value)

    def url(self, url: str) -> str:
        """Secret-named query parameters, and secrets in the path or fragment (``#access_token=``)."""
        parts = urlsplit(url)
        if parts.query:
            query = parse_qsl(parts.query, keep_blank_values=True)
            clean = urlencode([(k, self._form_value(k, v)) for k, v in query], safe="[]:")
            parts = parts._replace(query=clean)
        if parts.fragment:
            parts = parts._replace(fragment=self.text("#" + parts.fragment)[1:])
        return urlunsplit(parts._replace(path=_JWT.sub(lambda m: self.secret(m.group(0)), parts.path)))

    # -- model types ------------------------------------------------------------------

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

    def exchange(self, exchange: Exchange | None) -> Exchange | None:
        if exchange is None:
            return None
        return replace(
            exchange,
            request=self.request(exchange.request) or exchange.request,
            response=self.response(exchange.response),
            error=self.text(exchange.error) if exchange.error else exchange.error,
        )

    def issue(self, issue: Issue) -> Issue:
        """An issue as reports and the run store keep it: its messages, diff and logs too."""
        return replace(
            issue,
            error=self.text(issue.error),
            request=self.request(issue.request),
            response=self.response(issue.response),
            expected=self.response(issue.expected),
            diff=[self._difference(d) for d in issue.diff],
            logs=[self.text(line) for line in issue.logs],
            suggestion=self.text(issue.suggestion),
        )

    def _difference(self, difference: dict[str, Any]) -> dict[str, Any]:
        """A diff entry's values, all of them when its path ends in a secret name (``$.user.token``)."""
        names = [n for n in re.split(r"[.\[\]/:$*]+", str(difference.get("path", ""))) if n]
        secret = bool(names) and self.is_secret_field(names[-1])
        return {
            **difference,
            "old": self.json_value(difference.get("old"), secret),
            "new": self.json_value(difference.get("new"), secret),
        }


def _is_json(text: str) -> bool:
    """A JSON document, or NDJSON: every line one."""
    if text.lstrip()[:1] not in ("{", "["):
        return False
    try:
        json.loads(text)
    except ValueError:
        try:
            for line in text.splitlines():
                if line.strip():
                    json.loads(line)
        except ValueError:
            return False
    return True


def _declared(content_type: str) -> bool:
    lower = content_type.lower()
    return "charset=" in lower or "json" in lower or lower.startswith("text/")


def _text_codec(raw: bytes, content_type: str) -> str | None:
    """The encoding a body that may be JSON was sent in: its BOM, its zero bytes, its charset."""
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if raw.startswith(bom):
            return codec
    head = raw[:4]
    if len(head) == 4 and head[1:4] == b"\x00\x00\x00":
        return "utf-32-le"
    if len(head) == 4 and head[:3] == b"\x00\x00\x00":
        return "utf-32-be"
    if len(head) >= 2 and head[1] == 0 and head[0] != 0:
        return "utf-16-le"
    if len(head) >= 2 and head[0] == 0 and head[1] != 0:
        return "utf-16-be"
    declared = _CHARSET.search(content_type)
    if declared:
        try:
            return codecs.lookup(declared.group(1)).name
        except LookupError:
            pass
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


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
