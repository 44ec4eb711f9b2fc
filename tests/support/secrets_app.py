"""An app that hands out and takes secrets in every form a recorder meets.

``python secrets_app.py DB_PATH`` prints ``listening on URL``. It keeps users,
sessions and keys in a SQLite file (so a recording's database captures hold
secrets too) and answers with secrets in JSON fields, arrays, headers, URLs,
NDJSON, event streams, other charsets, octet-streams and a body over 4 MB.

:data:`SECRETS` is the catalogue: every value is distinct, so a search of the
files at rest for it can only find that secret.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


def _jwt(subject: str) -> str:
    def part(data: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': subject})}.c2lnLXtlc3Qtc2lnbmF0dXJl"


PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-pem-body-7731\n-----END PRIVATE KEY-----"

#: class of secret -> value. The client sends some, the app answers with the others.
SECRETS: dict[str, str] = {
    # JSON fields, by name, in any case style (response of /login)
    "json_jwt": _jwt("json-jwt-sub-5521"),
    "json_session_id": "sess-id-0b3f7c2a91",
    "json_private_key": "privkey-58d1e0c4aa",
    "json_pwd": "pwd-value-3c9e12",
    "json_passwd": "passwd-value-7f21aa",
    "json_camel_access_token": "acc-tok-91ce30b7",
    "json_refresh_tokens_kebab": "refresh-tok-4417ab",
    "json_client_secret": "client-sec-c0ffee42",
    "json_api_key_dotted": "apikey-dotted-6618",
    "json_otp_number": "73914682",
    "json_credential_nested": "cred-nested-2b7d90",
    "json_auth_header_value": "auth-val-e41c07",
    # arrays and objects beneath secret names
    "array_tokens_first": "arr-tok-one-8812",
    "array_tokens_second": "arr-tok-two-9923",
    "array_secrets_value": "arr-secret-val-3301",
    "object_credentials_password": "obj-cred-pass-6723",
    # values secret whatever their name
    "jwt_in_plain_field": _jwt("plain-field-sub-4409"),
    "pem_in_text": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC-pem-body-7731",
    "embedded_json_password": "embedded-pass-1188",
    # headers
    "request_authorization_bearer": "bearer-cred-5a5a91",
    "request_cookie": "cookie-val-77c2e1",
    "request_x_session_id": "x-session-req-6c1d",
    "response_x_session_id": "x-session-resp-42e9",
    "response_set_cookie": "setcookie-val-0d3b",
    "response_x_auth_token": "x-auth-tok-9b8e",
    # URLs in headers and bodies
    "location_access_token": "loc-access-tok-2f5d",
    "location_fragment_id_token": "frag-id-tok-83aa",
    "referer_otp": "referer-otp-6d4c",
    "link_header_token": "link-tok-19fe",
    "html_link_reset_token": "reset-tok-html-4b2c",
    "json_url_api_key": "url-apikey-json-5c77",
    "request_query_api_key": "query-apikey-9e01",
    # bodies of other shapes
    "form_password": "form-pass-2e8d71",
    "multipart_pwd": "multipart-pwd-7b30",
    "ndjson_token": "ndjson-tok-1a6f",
    "ndjson_session": "ndjson-sess-5e2b",
    "event_stream_token": "sse-tok-8c4d",
    "latin1_json_password": "latin1-pass-f4e3",
    "utf16_json_secret": "utf16-secret-b7a2",
    "octet_stream_json_token": "octet-tok-61d9",
    "large_json_token_start": "large-start-tok-33c1",
    "large_json_token_end": "large-end-tok-47d8",
    # database columns
    "db_password_plaintext": "db-plain-pass-5f0a",
    "db_jwt": _jwt("db-jwt-sub-8d2e"),
    "db_session_id": "db-sess-id-c91b",
    "db_private_key": "db-privkey-0e77",
    "db_credentials": "db-creds-a3f6",
}
S = SECRETS
LARGE_SIZE = 5 * 1024 * 1024


def setup_database(path: str) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, email TEXT, password TEXT,
                                          password_hash TEXT);
        CREATE TABLE IF NOT EXISTS sessions (id INTEGER PRIMARY KEY, session_id TEXT, jwt TEXT);
        CREATE TABLE IF NOT EXISTS keys (id INTEGER PRIMARY KEY, private_key TEXT, credentials TEXT);
        """
    )
    if not conn.execute("SELECT 1 FROM users").fetchone():
        conn.execute(
            "INSERT INTO users (email, password, password_hash) VALUES (?, ?, ?)",
            ("ana@shop.test", S["db_password_plaintext"], "$2b$12$" + "Q" * 53),
        )
        conn.execute(
            "INSERT INTO keys (private_key, credentials) VALUES (?, ?)",
            (S["db_private_key"], json.dumps({"user": "svc", "secret": S["db_credentials"]})),
        )
    conn.commit()
    conn.close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    database = ""
    calls = 0

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(
        self, status: int, body: bytes, content_type: str, headers: list[tuple[str, str]] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers or []:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, data: object, headers: list[tuple[str, str]] | None = None) -> None:
        self._send(200, json.dumps(data).encode(), "application/json", headers)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if urlsplit(self.path).path == "/login":
            with sqlite3.connect(self.database) as conn:
                conn.execute(
                    "INSERT INTO sessions (session_id, jwt) VALUES (?, ?)", (S["db_session_id"], S["db_jwt"])
                )
            Handler.calls += 1
            self._json(
                {
                    "jwt": S["json_jwt"],
                    "sessionId": S["json_session_id"],
                    "PRIVATE_KEY": S["json_private_key"],
                    "pwd": S["json_pwd"],
                    "user": {"name": "ana", "passwd": S["json_passwd"], "login_count": Handler.calls},
                    "accessToken": S["json_camel_access_token"],
                    "refresh-tokens": [S["json_refresh_tokens_kebab"]],
                    "client secret": S["json_client_secret"],
                    "api.key": S["json_api_key_dotted"],
                    "otp": int(S["json_otp_number"]),
                    "account": {"Credential": {"id": S["json_credential_nested"]}},
                    "auth": S["json_auth_header_value"],
                    "tokens": [S["array_tokens_first"], S["array_tokens_second"]],
                    "secrets": [{"value": S["array_secrets_value"], "label": "primary"}],
                    "credentials": {"user": "ana", "password": S["object_credentials_password"]},
                    "note": f"issued {S['jwt_in_plain_field']}",
                    "key_material": PEM,
                    "payload": json.dumps({"password": S["embedded_json_password"]}),
                    "next": f"https://app.example/continue?page=2&api_key={S['json_url_api_key']}",
                },
                [
                    ("X-Session-Id", S["response_x_session_id"]),
                    ("Set-Cookie", f"sid={S['response_set_cookie']}; Path=/; HttpOnly"),
                    ("X-Auth-Token", S["response_x_auth_token"]),
                ],
            )
        else:
            self._json({"ok": True})

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/redirect":
            location = (
                f"https://app.example/cb?code=ok&access_token={S['location_access_token']}"
                f"#id_token={S['location_fragment_id_token']}"
            )
            self._send(302, b"", "text/plain", [("Location", location)])
        elif path == "/items":
            link = f'<https://app.example/items?page=2&token={S["link_header_token"]}>; rel="next"'
            self._json({"items": [1, 2]}, [("Link", link)])
        elif path == "/page":
            html = f'<html><a href="/reset?uid=3&amp;token={S["html_link_reset_token"]}">reset</a></html>'
            self._send(200, html.encode(), "text/html; charset=utf-8")
        elif path == "/ndjson":
            lines = [{"id": 1, "token": S["ndjson_token"]}, {"id": 2, "session": S["ndjson_session"]}]
            body = "".join(json.dumps(line) + "\n" for line in lines).encode()
            self._send(200, body, "application/x-ndjson")
        elif path == "/events":
            body = f'event: login\ndata: {{"token": "{S["event_stream_token"]}"}}\n\n'.encode()
            self._send(200, body, "text/event-stream")
        elif path == "/latin1":
            body = json.dumps({"name": "Zoë", "password": S["latin1_json_password"]}, ensure_ascii=False)
            self._send(200, body.encode("latin-1"), "application/json; charset=iso-8859-1")
        elif path == "/utf16":
            body = json.dumps({"secret": S["utf16_json_secret"]}).encode("utf-16")
            self._send(200, body, "application/json")
        elif path == "/octet":
            body = json.dumps({"token": S["octet_stream_json_token"]}).encode()
            self._send(200, body, "application/octet-stream")
        elif path == "/large":
            self._send(200, large_body(), "application/json")
        else:
            self._json({"ok": True})


def large_body() -> bytes:
    """JSON over 4 MB with a secret at its start and its end."""
    head = json.dumps({"token": S["large_json_token_start"]})[:-1].encode() + b', "filler": "'
    tail = b'", "end": ' + json.dumps({"token": S["large_json_token_end"]}).encode() + b"}"
    return head + b"x" * (LARGE_SIZE - len(head) - len(tail)) + tail


if __name__ == "__main__":
    Handler.database = sys.argv[1]
    setup_database(Handler.database)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
