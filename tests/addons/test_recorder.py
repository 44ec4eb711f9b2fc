"""The addon's hooks and options, with mitmproxy's own test helpers (taddons, tflow)."""

from __future__ import annotations

import json

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons, tflow

from replayqa.addons.recorder import RecorderAddon
from replayqa.record.storage import Recording


@pytest.fixture
def addon():
    made = RecorderAddon()
    yield made
    made.done()


async def test_nothing_is_recorded_without_an_output_file(addon):
    with taddons.context(addon):
        flow = tflow.tflow(resp=True)
        await addon.request(flow)
        await addon.response(flow)
    assert addon.recorder is None


async def test_flows_become_exchanges(addon, tmp_path):
    with taddons.context(addon) as tctx:
        tctx.configure(addon, replayqa_out=str(tmp_path / "rec.db"), replayqa_name="unit")
        flow = tflow.tflow(resp=True)
        await addon.request(flow)
        addon.responseheaders(flow)
        await addon.response(flow)
        failed = tflow.tflow(err=True)
        await addon.request(failed)
        await addon.error(failed)
        addon.done()
    rows = list(Recording.open(tmp_path / "rec.db").exchanges())
    assert [(r["method"], r["host"], r["status"], r["error"]) for r in rows] == [
        ("GET", "address", 200, None),
        ("GET", "address", None, "error"),
    ]
    assert addon.summary["exchanges"] == 2


async def test_markers_are_answered_by_the_addon(addon, tmp_path):
    with taddons.context(addon) as tctx:
        tctx.configure(addon, replayqa_out=str(tmp_path / "rec.db"))
        flow = tflow.tflow()
        flow.request.path = "/__replayqa/session/start?name=checkout"
        await addon.request(flow)
        assert flow.response is not None and flow.response.status_code == 200
        assert json.loads(flow.response.content)["session"] == "checkout"


async def test_websocket_messages_are_recorded(addon, tmp_path):
    with taddons.context(addon) as tctx:
        tctx.configure(addon, replayqa_out=str(tmp_path / "rec.db"))
        flow = tflow.twebsocketflow()
        await addon.websocket_message(flow)
        addon.done()
    messages = Recording.open(tmp_path / "rec.db").websocket_messages(flow.id)
    assert [m["content"] for m in messages] == [flow.websocket.messages[-1].text]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("replayqa_idle_gap", "soon", "replayqa_idle_gap must be a number of seconds"),
        ("replayqa_db", "oracle://x/y", "unknown database URL scheme 'oracle'"),
        ("replayqa_stores", ["memcached://x"], "unknown --store URL 'memcached://x'"),
        ("replayqa_spec", "/nowhere/spec.yaml", "cannot read OpenAPI spec"),
    ],
)
def test_bad_options_are_refused_in_configure(addon, tmp_path, option, value, message):
    with taddons.context(addon) as tctx, pytest.raises(exceptions.OptionsError, match=message):
        tctx.configure(addon, **{option: value}, replayqa_out=str(tmp_path / "rec.db"))


@pytest.mark.parametrize(
    ("out", "message"),
    [
        (
            "a-file/rec.db",
            r"cannot create .*a-file/rec\.db: .*a-file is a file, not a folder; choose another --out",
        ),
        ("n" * 300 + ".db", r"cannot create .*: File name too long; choose another --out"),
    ],
)
def test_a_recording_that_cannot_be_made_is_an_options_error(addon, tmp_path, out, message):
    """mitmproxy logs any other error and goes on forwarding traffic, recording nothing."""
    (tmp_path / "a-file").write_text("not a folder")
    with taddons.context(addon) as tctx, pytest.raises(exceptions.OptionsError, match=message):
        tctx.configure(addon, replayqa_out=str(tmp_path / out))
    assert addon.recorder is None
