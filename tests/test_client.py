import httpx
import pytest

from replayqa import Client


def test_history_records_request_and_response():
    client = Client(
        "http://app", transport=httpx.MockTransport(lambda r: httpx.Response(201, json={"id": 1}))
    )
    client.post("/items", json={"name": "mug"}, headers={"X-Trace": "1"})
    exchange = client.last_exchange
    assert exchange.request.method == "POST" and exchange.request.url == "http://app/items"
    assert exchange.request.json() == {"name": "mug"} and exchange.request.headers["x-trace"] == "1"
    assert exchange.response.status == 201 and exchange.response.json() == {"id": 1}
    assert exchange.duration_ms >= 0 and exchange.error is None


def test_connection_errors_are_retried_with_backoff_and_recorded():
    calls = []

    def flaky(request):
        calls.append(request)
        if len(calls) < 3:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200)

    client = Client("http://app", transport=httpx.MockTransport(flaky), retries=2, backoff=0)
    assert client.get("/").status_code == 200
    assert len(calls) == 3
    assert [e.error is not None for e in client.history] == [True, True, False]


def test_read_timeouts_are_not_retried_because_the_app_may_have_acted():
    calls = []

    def slow(request):
        calls.append(request)
        raise httpx.ReadTimeout("timed out", request=request)

    client = Client("http://app", transport=httpx.MockTransport(slow), retries=3, backoff=0)
    with pytest.raises(httpx.ReadTimeout):
        client.post("/pay")
    assert len(calls) == 1
    assert "ReadTimeout" in client.last_exchange.error


def test_default_headers_and_auth_are_sent():
    seen = {}

    def record(request):
        seen.update(request.headers)
        return httpx.Response(200)

    client = Client(
        "http://app", headers={"X-Tenant": "qa"}, auth=("u", "p"), transport=httpx.MockTransport(record)
    )
    client.get("/")
    assert seen["x-tenant"] == "qa" and seen["authorization"].startswith("Basic ")


def test_snapshot_restores_cookies_and_headers():
    transport = httpx.MockTransport(lambda r: httpx.Response(200, headers={"Set-Cookie": "session=one"}))
    client = Client("http://app", transport=transport)
    client.get("/login")
    snap = client.snapshot()
    client.cookies.clear()
    client.headers["X-Extra"] = "1"
    client.restore(snap)
    assert client.cookies.get("session") == "one" and "x-extra" not in client.headers


def test_without_a_cookie_jar_a_request_sends_only_the_cookies_it_names():
    """Replays name every cookie: one browser's login must not ride along on another's requests."""
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"Set-Cookie": "sid=alice-session; Path=/"})

    for keep, expected in ((True, [None, "sid=alice-session"]), (False, [None, None])):
        seen.clear()
        client = Client("http://app.test", transport=httpx.MockTransport(handler), keep_cookies=keep)
        client.get("/login")
        client.get("/")
        assert seen == expected
    client = Client("http://app.test", transport=httpx.MockTransport(handler), keep_cookies=False)
    client.get("/", headers={"Cookie": "sid=bob-session"})
    assert seen[-1] == "sid=bob-session"


def test_a_kept_alive_connection_the_server_drops_is_retried_once_on_a_new_one():
    """A real server that answers a 500, keeps the connection, then resets it on the next
    request without an answer (what Prefect's server did after a 500): the request is sent
    again on a new connection, and the dropped try stays in the history."""
    import socket
    import struct
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    served: list[bytes] = []

    def request_line(conn: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")), 0
        )
        while len(body) < length:
            body += conn.recv(65536)
        return head.split(b"\r\n", 1)[0]

    def serve() -> None:
        first, _ = listener.accept()
        served.append(request_line(first))
        first.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nno")
        served.append(request_line(first) + b" (dropped)")
        first.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        first.close()  # a reset, no answer
        second, _ = listener.accept()
        with second:
            served.append(request_line(second))
            second.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = Client(f"http://127.0.0.1:{port}", retries=0)
    try:
        assert client.post("/first", json={}).status_code == 500
        assert client.post("/second", json={}).status_code == 201
    finally:
        client.close()
        listener.close()
    assert served == [b"POST /first HTTP/1.1", b"POST /second HTTP/1.1 (dropped)", b"POST /second HTTP/1.1"]
    assert client.history[-2].error and client.history[-1].error is None


def test_a_csrf_cookie_is_echoed_in_a_header_on_changes_as_browser_pages_do():
    seen: list[httpx.Request] = []

    def app(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/login":
            return httpx.Response(200, headers={"set-cookie": "_xsrf=2|abc|def; Path=/"})
        return httpx.Response(200)

    client = Client("http://app", transport=httpx.MockTransport(app))
    client.get("/login")
    client.get("/api/files")
    client.post("/api/files", json={})
    client.delete("/api/files/1", headers={"X-XSRFToken": "mine"})
    get, post, delete = seen[1], seen[2], seen[3]
    assert "x-xsrftoken" not in get.headers  # a read needs none
    assert post.headers["x-xsrftoken"] == "2|abc|def" and post.headers["x-csrftoken"] == "2|abc|def"
    assert delete.headers["x-xsrftoken"] == "mine"  # a journey's own header wins
    replaying = Client("http://app", transport=httpx.MockTransport(app), keep_cookies=False)
    replaying.get("/login")
    replaying.post("/api/files", json={})
    assert "x-xsrftoken" not in seen[-1].headers  # a replay sends what was recorded, no more
