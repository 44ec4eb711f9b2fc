"""The control page addon with mitmproxy's own test helpers: answered here, never recorded."""

from __future__ import annotations

import json
import re

from mitmproxy.test import taddons, tflow

from replayqa.addons.control import ControlPageAddon
from replayqa.addons.recorder import RecorderAddon


def page_flow(method: str = "GET", path: str = "/", body: bytes = b"", host: str = "replayqa.test"):
    flow = tflow.tflow()
    flow.request.method, flow.request.host, flow.request.path = method, host, path
    flow.request.headers["Host"] = host
    flow.request.content = body
    return flow


async def send(addons, flow):
    for addon in addons:
        await addon.request(flow)
    for addon in addons:
        if hasattr(addon, "response"):
            await addon.response(flow)
    return flow.response


async def test_the_page_is_answered_by_the_proxy_and_its_buttons_mark_sessions(tmp_path):
    recording = RecorderAddon()
    control = ControlPageAddon(recording)
    chain = (control, recording)  # the order replayqa record adds them in
    with taddons.context(recording, control) as tctx:
        tctx.configure(recording, replayqa_out=str(tmp_path / "rec.db"))
        page = await send(chain, page_flow())
        assert page.status_code == 200 and b"replayqa recording" in page.content
        token = re.search(rb'name="token" value="([^"]+)"', page.content).group(1).decode()
        started = await send(chain, page_flow("POST", "/start", f"token={token}&name=checkout".encode()))
        assert started.status_code == 303
        app = tflow.tflow(resp=True)
        for addon in chain:
            await addon.request(app)
        await recording.response(app)
        status = await send(chain, page_flow("GET", "/__replayqa/status", host="app.example"))
        assert json.loads(status.content)["session"] == "checkout"
        assert json.loads(status.content)["session_exchanges"] == 1
        recording.done()
    assert recording.summary["exchanges"] == 1, "only the app's exchange: the page's four are not recorded"
    assert recording.summary["sessions"] == 1


async def test_without_a_recording_the_page_is_not_served():
    recording = RecorderAddon()
    control = ControlPageAddon(recording)
    with taddons.context(recording, control):
        flow = page_flow()
        await control.request(flow)
        assert flow.response is None
