"""The HTTP client steps use: httpx plus a history of every exchange.

The history is what issues, reports and later replays are made from, so every
request is recorded, including the ones that never got a response. One
transport seam (``transport=``) lets tests use ``httpx.MockTransport`` and
real apps alike.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx

from replayqa.errors import AppUnreachableError, ConfigError
from replayqa.model import Exchange, HttpRequest, HttpResponse

#: Errors raised before the request reached the app: safe to retry, even for POST.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
#: What a kept-alive connection the server already closed gives: the request went to a dead
#: socket and no response came back. Retried once, on a fresh connection, as browsers do.
_STALE_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
_SAFE = ("GET", "HEAD", "OPTIONS", "TRACE")
_CSRF = re.compile(r"(csrf|xsrf)", re.I)
_CSRF_HEADERS = ("X-CSRFToken", "X-XSRFToken", "X-XSRF-TOKEN", "X-CSRF-Token")


class Client:
    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.2,
        transport: httpx.BaseTransport | None = None,
        verify: bool = True,
        keep_cookies: bool = True,
    ) -> None:
        """``keep_cookies=False``: no cookie jar; each request sends the cookies it names, no more.

        A replay names every cookie it sends (rebound from the recording); a jar
        would hand one browser's login to another browser's recorded requests.
        """
        self.base_url = base_url.rstrip("/")
        self.keep_cookies = keep_cookies
        self.retries = retries
        self.backoff = backoff
        self.history: list[Exchange] = []
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            auth=auth,
            timeout=timeout,
            transport=transport,
            verify=verify,
        )

    # -- requests ------------------------------------------------------------

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request, retrying only when it could not be sent at all."""
        if self.keep_cookies and method.upper() not in _SAFE:
            kwargs["headers"] = self._with_csrf(kwargs.get("headers"))
        attempt = 0
        stale_retried = False
        while True:
            started = time.time()
            request = self._http.build_request(method, url, **kwargs)
            try:
                response = self._http.send(request)
            except httpx.HTTPError as exc:
                self.history.append(exchange_from_error(request, exc, started))
                if isinstance(exc, _NOT_SENT) and attempt < self.retries:
                    time.sleep(self.backoff * 2**attempt)
                    attempt += 1
                    continue
                if isinstance(exc, _STALE_CONNECTION) and not stale_retried:
                    stale_retried = True
                    continue
                raise
            self.history.append(exchange_from_response(response, started))
            if not self.keep_cookies:
                self._http.cookies.clear()
            return response

    def _with_csrf(self, headers: Any) -> Any:
        """Double-submit CSRF, as the app's own pages do: the token cookie, echoed in a header.

        A browser app (Django, Tornado, Laravel, Angular) hands a token in a
        cookie and refuses a change whose request does not repeat it in a
        header; a journey that logged in has the cookie, so it sends the header
        too, under the names those frameworks read, unless it set one itself.
        """
        given = dict(headers or {})
        if any(_CSRF.search(name) for name in given):
            return headers
        token = next((c.value for c in self._http.cookies.jar if _CSRF.search(c.name)), None)
        if not token:
            return headers
        return {**given, **dict.fromkeys(_CSRF_HEADERS, token)}

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    # -- session state -------------------------------------------------------

    @property
    def headers(self) -> httpx.Headers:
        return self._http.headers

    @property
    def cookies(self) -> httpx.Cookies:
        return self._http.cookies

    @property
    def last_exchange(self) -> Exchange | None:
        return self.history[-1] if self.history else None

    def snapshot(self) -> dict[str, Any]:
        """Cookies and headers are session state: a branch path must not inherit a sibling's login."""
        return {"headers": dict(self._http.headers), "cookies": list(self._http.cookies.jar)}

    def restore(self, snapshot: dict[str, Any]) -> None:
        self._http.headers = httpx.Headers(snapshot["headers"])
        self._http.cookies.clear()
        for cookie in snapshot["cookies"]:
            self._http.cookies.jar.set_cookie(cookie)

    @contextlib.contextmanager
    def timeout(self, seconds: float | None) -> Iterator[None]:
        """Apply a step's own timeout while it runs."""
        if seconds is None:
            yield
            return
        previous = self._http.timeout
        self._http.timeout = httpx.Timeout(seconds)
        try:
            yield
        finally:
            self._http.timeout = previous

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _text(content: bytes) -> str | None:
    return content.decode("utf-8", errors="replace") if content else None


def _request_model(request: httpx.Request) -> HttpRequest:
    try:
        body = _text(request.content)
    except httpx.RequestNotRead:
        body = "<streamed body>"
    return HttpRequest(request.method, str(request.url), dict(request.headers), body)


def exchange_from_response(response: httpx.Response, started: float) -> Exchange:
    """The one place an httpx response becomes a model Exchange."""
    return Exchange(
        request=_request_model(response.request),
        response=HttpResponse(response.status_code, dict(response.headers), response.text),
        started_at=started,
        duration_ms=(time.time() - started) * 1000,
    )


def exchange_from_error(request: httpx.Request, exc: Exception, started: float) -> Exchange:
    return Exchange(
        request=_request_model(request),
        error=f"{type(exc).__name__}: {exc}",
        started_at=started,
        duration_ms=(time.time() - started) * 1000,
    )


def check_reachable(base_url: str, timeout: float = 10.0, flag: str = "--base-url") -> None:
    """Any HTTP answer will do; no answer at all is a setup problem, not a finding."""
    try:
        httpx.get(base_url, timeout=min(timeout, 5.0))
    except httpx.InvalidURL as exc:
        raise ConfigError(f"invalid base URL {base_url!r}: {exc}") from None
    except httpx.UnsupportedProtocol:
        raise ConfigError(f"invalid base URL {base_url!r}: it must start with http:// or https://") from None
    except httpx.HTTPError as exc:
        raise AppUnreachableError(
            f"cannot reach the app at {base_url} ({type(exc).__name__}: {exc or 'no answer'}): "
            f"start it, or fix {flag}"
        ) from None
