"""The control page at http://replayqa.test/ (forward proxy) or /__replayqa/ (reverse proxy).

Thin hooks; the page is ``replayqa.record.control``. Its session buttons go
through the recorder's marker handling, the same as ``replayqa session
start|end``, and its requests are answered here, so they are never
recorded nor forwarded.
"""

from __future__ import annotations

from mitmproxy import ctx, http

from replayqa.addons.recorder import RecorderAddon
from replayqa.record.control import CONTROL_HOST, ControlPage, control_path, marker_request, status_of
from replayqa.record.flows import request_info


class ControlPageAddon:
    def __init__(self, recording: RecorderAddon) -> None:
        self.recording = recording
        self.token = ""  # one per proxy run; made on the first page

    def http_connect(self, flow: http.HTTPFlow) -> None:
        """HTTPS to the page: answer the tunnel here rather than look the made-up host up in DNS."""
        if flow.request.host.lower() == CONTROL_HOST and self.recording.recorder is not None:
            flow.response = http.Response.make(200)
            flow.metadata["replayqa_skip"] = True

    async def request(self, flow: http.HTTPFlow) -> None:
        recorder = self.recording.recorder
        if recorder is None or flow.response is not None:
            return
        target = control_path(flow.request.pretty_host, flow.request.path)
        if target is None:
            return
        path, base = target
        flow.metadata["replayqa_skip"] = True
        info = request_info(flow, 4096)

        def mark(action: str, name: str, client: str) -> tuple[int, dict[str, object]]:
            answer = recorder.marker_response(marker_request(info, action, name))
            assert answer is not None  # a marker path always gets an answer
            return answer

        page = ControlPage(lambda client: status_of(recorder, client), mark, _ca_pem, self.token or None)
        self.token = page.token
        body = flow.request.get_content() or b""
        answer = await self.recording.call(page.answer, flow.request.method, path, body, base, info.client_ip)
        flow.response = http.Response.make(answer.status, answer.body, answer.headers)


def _ca_pem() -> bytes:
    return ctx.master.addons.get("tlsconfig").certstore.default_ca.to_pem()
