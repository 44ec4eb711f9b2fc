"""OpenAPI specs: load them, and check exchanges against them with openapi-core.

Servers in the spec are reduced to their path, so the same spec validates
traffic to any host the app happens to run on (a random test port, CI).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import yaml

from replayqa.errors import ConfigError
from replayqa.model import Exchange, HttpRequest, HttpResponse
from replayqa.swagger import is_swagger2, to_openapi3

#: Seconds to wait for a spec served by the app: a cold server may build it on the first request.
DEFAULT_SPEC_TIMEOUT = 60.0


def spec_timeout() -> float:
    """``REPLAYQA_SPEC_TIMEOUT`` (set by ``--spec-timeout``), else the default."""
    raw = os.environ.get("REPLAYQA_SPEC_TIMEOUT", "")
    try:
        return float(raw) if raw else DEFAULT_SPEC_TIMEOUT
    except ValueError:
        raise ConfigError(
            f"REPLAYQA_SPEC_TIMEOUT={raw!r} is not a number of seconds: set it to e.g. 120"
        ) from None


@functools.lru_cache(maxsize=8)
def _fetch(url: str, timeout: float) -> str:
    """One fetch per URL per process: synth, its gate and the validator all read the same spec."""
    return httpx.get(url, timeout=timeout).raise_for_status().text


def load_spec_document(source: str | Path) -> dict[str, Any]:
    """Read a spec from a file or URL, JSON or YAML; Swagger 2.0 comes back as OpenAPI 3.0."""
    text_source = str(source)
    try:
        if text_source.startswith(("http://", "https://")):
            text = _fetch(text_source, spec_timeout())
        else:
            text = Path(text_source).read_text(encoding="utf-8")
    except httpx.TimeoutException as exc:
        raise ConfigError(
            f"cannot read OpenAPI spec {text_source}: no answer within {spec_timeout():.0f}s "
            "(give it longer with --spec-timeout SECONDS)"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"OpenAPI spec {text_source}: byte {exc.start} is not UTF-8: save it as UTF-8 text"
        ) from None
    except (OSError, httpx.HTTPError) as exc:
        raise ConfigError(f"cannot read OpenAPI spec {text_source}: {exc}") from exc
    try:
        document = yaml.safe_load(text)
        json.dumps(document, default=str)  # a YAML anchor used inside itself makes a cycle
    except yaml.YAMLError as exc:
        raise ConfigError(f"OpenAPI spec {text_source} is not valid JSON or YAML: {exc}") from exc
    except (ValueError, RecursionError):
        raise ConfigError(
            f"OpenAPI spec {text_source} refers to itself through a YAML anchor, or nests too deeply: "
            "write it out without the cycle"
        ) from None
    if is_swagger2(document):
        try:
            return to_openapi3(document)
        except (TypeError, AttributeError, KeyError, ValueError) as exc:  # the converter trusts the shape
            raise ConfigError(
                f"{text_source} is not a valid Swagger 2.0 document ({type(exc).__name__}: {exc}): "
                "fix the spec, or give its OpenAPI 3 form"
            ) from None
    if not isinstance(document, dict) or "openapi" not in document:
        raise ConfigError(
            f"{text_source} is not an OpenAPI document (no 'openapi' or 'swagger' field): "
            "give the app's OpenAPI 3 or Swagger 2.0 spec"
        )
    return document


_VALID: set[str] = set()  # digests of documents already validated in this process


def validate_document(document: dict[str, Any], source: str, version: str | None = None) -> None:
    """Check the document against the OpenAPI schema, once per process: the slow part.

    A spec of 190 operations takes seconds to validate; synth, its quality
    gate and every validator built from the same spec would otherwise pay it
    each time.
    """
    from importlib.metadata import version as installed

    from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator

    text = json.dumps(document, sort_keys=True, default=str) + installed("openapi-spec-validator")
    digest = hashlib.sha1(text.encode()).hexdigest()  # a new validator may judge anew
    if digest in _VALID or digest in _validated_before():
        _VALID.add(digest)
        return
    version = version or str(document.get("openapi"))
    validator = OpenAPIV31SpecValidator if version.startswith("3.1") else OpenAPIV30SpecValidator
    try:
        errors = list(validator(document).iter_errors())
    except RecursionError:
        raise ConfigError(
            f"{source}: a $ref chain that never ends (a schema that only refers on to itself): fix the $ref"
        ) from None
    except Exception as exc:  # the validator raises on things its schema cannot express
        raise ConfigError(f"{source}: invalid OpenAPI document: {exc}") from None
    if errors:
        best = max(errors, key=lambda e: len(list(e.absolute_path)))
        where = "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in best.absolute_path)
        raise ConfigError(f"{source}: invalid OpenAPI at {where}: {best.message}")
    _VALID.add(digest)
    with contextlib.suppress(OSError):  # a cache: a read-only home only costs the time again
        _VALID_CACHE.parent.mkdir(parents=True, exist_ok=True)
        with _VALID_CACHE.open("a", encoding="utf-8") as cache:
            cache.write(digest + "\n")


#: Digests of specs found valid by earlier processes (synth, then run, then replay of one spec).
_VALID_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "replayqa" / "valid-specs"


def _validated_before() -> set[str]:
    try:
        return set(_VALID_CACHE.read_text(encoding="utf-8").split())
    except OSError:
        return set()


class SpecValidator:
    """Checks responses against their operation's schema."""

    def __init__(self, document: dict[str, Any], base_url: str | None = None) -> None:
        """``base_url``'s path counts as a server too: an app mounted under ``/api`` whose
        spec says nothing of it would otherwise fail every check with ServerNotFound."""
        document = json.loads(json.dumps(document))  # a private copy
        servers = document.get("servers") or [{"url": "/"}]
        paths = [urlsplit(s.get("url", "/")).path or "/" for s in servers]
        base_path = urlsplit(base_url).path.rstrip("/") if base_url else ""
        if base_path and base_path not in {p.rstrip("/") for p in paths}:
            paths.append(base_path)
        validate_document(document, "OpenAPI spec")
        document["servers"] = [{"url": path} for path in paths]
        try:
            # validated above, once per process: openapi-core need not do it again
            from openapi_core import Config, OpenAPI  # heavy (2 s): only when a spec is checked against

            self._openapi = OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))
        except Exception as exc:  # openapi-core raises several unrelated types here
            raise ConfigError(f"invalid OpenAPI spec: {exc}") from exc

    @classmethod
    def load(cls, source: str | Path, base_url: str | None = None) -> SpecValidator:
        return cls(load_spec_document(source), base_url)

    def check_response(self, exchange: Exchange) -> list[str]:
        """Every way the response breaks the spec, as readable lines; empty when it conforms."""
        if exchange.response is None:
            return []
        try:
            self._openapi.validate_response(
                _OpenAPIRequest(exchange.request), _OpenAPIResponse(exchange.response)
            )
        except Exception as exc:
            return _describe(exc)
        return []


def _describe(exc: Exception) -> list[str]:
    cause = exc.__cause__ or exc
    errors = getattr(cause, "schema_errors", None)
    if errors:
        return [f"response body {e.json_path}: {e.message}" for e in errors]
    return [f"{type(exc).__name__}: {exc}"]


class _OpenAPIRequest:
    def __init__(self, request: HttpRequest) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        url = urlsplit(request.url)
        self.host_url = f"{url.scheme}://{url.netloc}"
        self.path = url.path
        self.method = request.method.lower()
        self.body = request.body.encode() if request.body else None
        headers = Headers(list(request.headers.items()))
        self.content_type = headers.get("content-type", "")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(url.query)),
            header=headers,
            cookie=ImmutableMultiDict(),
        )


class _OpenAPIResponse:
    def __init__(self, response: HttpResponse) -> None:
        from werkzeug.datastructures import Headers

        self.status_code = response.status
        self.headers = Headers(list(response.headers.items()))
        self.content_type = self.headers.get("content-type", "")
        self.data = response.body.encode()


_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


class SpecIndex:
    """Finds the operation an exchange belongs to, by method and path template.

    Literal segments beat parameters, so ``/items/search`` wins over
    ``/items/{id}``. The servers' base paths are stripped first.
    """

    def __init__(self, document: dict[str, Any]) -> None:
        bases = {urlsplit(s.get("url", "/")).path.rstrip("/") for s in document.get("servers") or []}
        self._bases = sorted((b for b in bases if b), key=len, reverse=True)
        self._routes: list[tuple[int, re.Pattern[str], str, str, str]] = []
        for template, item in (document.get("paths") or {}).items():
            pattern = re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "/?$")
            literal = -len(re.findall(r"{[^/]+?}", template))
            for method, operation in item.items():
                if method in _METHODS and isinstance(operation, dict):
                    label = operation.get("operationId") or f"{method.upper()} {template}"
                    self._routes.append((literal, pattern, method.upper(), template, label))
        self._routes.sort(key=lambda r: (r[0], -len(r[3])), reverse=True)

    @classmethod
    def load(cls, source: str | Path) -> SpecIndex:
        return cls(load_spec_document(source))

    def match(self, method: str, path: str) -> str | None:
        """The operationId (or "METHOD /template") of the request, or None."""
        for base in self._bases:
            if path.startswith(base + "/") or path == base:
                path = path[len(base) :] or "/"
                break
        method = method.upper()
        for _, pattern, route_method, _, label in self._routes:
            if route_method == method and pattern.match(path):
                return label
        return None
