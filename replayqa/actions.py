"""Request actions: the steps YAML journeys (and synthesized ones) are made of.

A RequestAction is an ordinary action, ``action(client, context) ->
response``, so the runner treats it like any Python step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from replayqa.context import ExecutionContext
from replayqa.redact import credential
from replayqa.templates import references, render


def template_scope(context: ExecutionContext) -> dict[str, Any]:
    """What ``{{ ... }}`` can name: context values, and ``steps.<name>`` results."""
    return {**dict(context), "steps": context.step_results}


_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization")


def _header(name: str, value: str) -> str:
    """``Basic {{ authorization }}`` with the whole header value given (``Basic dXNl...``) or
    ``user:password``: the value the scheme wants, as replay does with ``--secret``."""
    if name.lower() not in _CREDENTIAL_HEADERS:
        return value
    scheme, _, rest = value.partition(" ")
    return f"{scheme} {credential(scheme, rest)}" if rest else value


@dataclass
class RequestAction:
    method: str
    path: str
    headers: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    form: dict[str, Any] | None = None
    body: str | None = None

    def __call__(self, client: Any, context: ExecutionContext) -> Any:
        scope = template_scope(context)
        kwargs: dict[str, Any] = {}
        if self.headers:
            kwargs["headers"] = {k: _header(k, str(v)) for k, v in render(self.headers, scope).items()}
        if self.query:
            kwargs["params"] = render(self.query, scope)
        if self.json is not None:
            kwargs["json"] = render(self.json, scope)
        elif self.form is not None:
            kwargs["data"] = render(self.form, scope)
        elif self.body is not None:
            kwargs["content"] = str(render(self.body, scope))
        return client.request(self.method, str(render(self.path, scope)), **kwargs)

    def references(self) -> list[str]:
        parts = [self.path, self.headers, self.query, self.json, self.form, self.body]
        return [ref for part in parts for ref in references(part)]
