"""Requests as journeys send them: templates rendered, credentials in the form the scheme wants."""

import base64

import httpx
import pytest

from replayqa import Client
from replayqa.actions import RequestAction
from replayqa.context import ExecutionContext


@pytest.mark.parametrize(
    "given",
    ["dXNlcjpwdw==", "Basic dXNlcjpwdw==", "user:pw"],
    ids=["credential alone", "whole header value", "user:password"],
)
def test_a_credential_variable_works_in_every_form_users_give_it(given):
    sent = []
    client = Client(
        "http://app", transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200))
    )
    action = RequestAction("GET", "/me", headers={"Authorization": "Basic {{ authorization }}"})
    action(client, ExecutionContext({"authorization": given}))
    assert sent[0].headers["authorization"] == "Basic " + base64.b64encode(b"user:pw").decode()


def test_other_headers_are_sent_as_rendered():
    sent = []
    client = Client(
        "http://app", transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200))
    )
    RequestAction("GET", "/", headers={"X-Note": "Basic Basic a:b"})(client, ExecutionContext({}))
    assert sent[0].headers["x-note"] == "Basic Basic a:b"


def _keep(sent: list[httpx.Request], request: httpx.Request) -> httpx.Response:
    sent.append(request)
    return httpx.Response(200)
