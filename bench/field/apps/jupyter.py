"""jupyter_server: Tornado, a Swagger 2.0 spec, and a browser login with a session cookie and XSRF."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import httpx

from bench.field.accesslog import STATUS_FIRST
from bench.field.apps.base import DatabaseServer, FieldApp, Instance
from bench.field.env import Process, Venv, free_port, wait_http

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = [
    "--no-sandbox",  # the suite may run as root
    "--proxy-bypass-list=<-loopback>",  # proxy loopback traffic too
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# What the page's own scripts do: fetch() with the session cookie and the X-XSRFToken header.
# Each browser works on files of its own, named with its prefix.
WORK_IN_PAGE = r"""
async (p) => {
  const xsrf = decodeURIComponent((document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/) || [])[1] || "");
  async function call(method, url, body) {
    const r = await fetch(url, {method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-XSRFToken": xsrf},
      body: body === undefined ? undefined : JSON.stringify(body)});
    const text = await r.text();
    const expected = url.endsWith("renamed.txt") && method === "GET";  // read after delete: 404
    if (r.status >= 400 && !expected) throw new Error(`${method} ${url}: ${r.status} ${text}`);
    return text;
  }
  const cells = [{cell_type: "markdown", metadata: {}, source: "# QA " + p}];
  const notebook = {type: "notebook", content: {cells, metadata: {}, nbformat: 4, nbformat_minor: 5}};
  await call("PUT", `/api/contents/${p}qa.ipynb`, notebook);
  await call("GET", `/api/contents/${p}qa.ipynb?content=1`);
  await call("PUT", `/api/contents/${p}notes.txt`, {type: "file", format: "text", content: "hello " + p});
  await call("PATCH", `/api/contents/${p}notes.txt`, {path: `${p}renamed.txt`});
  await call("GET", "/api/contents?content=1");
  await call("POST", `/api/contents/${p}qa.ipynb/checkpoints`);
  const session = JSON.parse(await call("POST", "/api/sessions",
    {path: `${p}qa.ipynb`, type: "notebook", name: `${p}qa.ipynb`, kernel: {name: "python3"}}));
  await call("GET", "/api/sessions");
  await call("DELETE", "/api/sessions/" + session.id);
  await call("DELETE", `/api/contents/${p}renamed.txt`);
  await call("DELETE", `/api/contents/${p}qa.ipynb`);
  await call("GET", `/api/contents/${p}renamed.txt`);
}
"""


class JupyterServer(FieldApp):
    name = "jupyter_server"
    package = "jupyter_server"
    stack = "Tornado, files + SQLite"
    requirements = ("jupyter_server==2.21.1", "ipykernel==7.4.0")
    log_pattern = STATUS_FIRST
    record_mode = "regular"  # a browser through a forward proxy
    synth_auth = "header:Authorization"  # its spec declares no security scheme
    writes_to_database = False  # contents are files; its SQLite database holds only kernel sessions

    def start(self, venv: Venv, work: Path, postgres: DatabaseServer) -> Instance:
        work.mkdir(parents=True, exist_ok=True)
        root = work / "root"
        root.mkdir(exist_ok=True)
        token = secrets.token_hex(16)
        port = free_port()
        dirs = {
            name: str(work / name.lower())
            for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR")
        }
        sessions = work / "sessions_qa.db"
        command = [
            venv.bin("jupyter"),
            "server",
            "--allow-root",
            "--no-browser",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            f"--SessionManager.database_filepath={sessions}",
            "--FileContentsManager.delete_to_trash=False",
            "--ServerApp.log_level=DEBUG",  # Tornado logs successful requests at DEBUG only
        ]
        log = work / "access.log"
        server = Process(command, log, {**dirs, "HOME": str(work)}).start()
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/api", server)
        # The spec needs the token: a user saves it to a file first.
        spec = work / "spec.yaml"
        answer = httpx.get(f"{base}/api/spec.yaml", headers={"Authorization": f"token {token}"}, timeout=30)
        answer.raise_for_status()
        spec.write_text(answer.text)
        return Instance(
            base,
            log,
            [server],
            db_url=f"sqlite:///{sessions}",
            spec=str(spec),
            extra={"token": token, "home": str(work)},
        )

    def prepare(self, instance: Instance) -> None:
        # The sessions database is made on first use; a tester's server has been used before.
        headers = {"Authorization": f"token {instance.extra['token']}"}
        httpx.get(f"{instance.base_url}/api/sessions", headers=headers, timeout=30).raise_for_status()

    def session(self, instance: Instance, proxy: str) -> None:
        from playwright.sync_api import sync_playwright

        home = os.environ.get("HOME")
        os.environ["HOME"] = instance.extra["home"]  # Chromium writes under HOME whatever else it is told
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=BROWSER_ARGS, proxy={"server": proxy}
                )
                try:
                    # Two testers' browsers (two contexts: two cookie jars) behind one address, and
                    # no session markers: the recorder must tell them apart by their cookies.
                    pages = [browser.new_context().new_page() for _ in range(2)]
                    for page in pages:
                        page.goto(f"{instance.base_url}/login")
                        page.fill("#password_input", instance.extra["token"])
                        with page.expect_navigation():
                            page.click("#login_submit")
                    for prefix, page in zip(("ada-", "bob-"), pages, strict=True):
                        page.evaluate(WORK_IN_PAGE, prefix)
                finally:
                    browser.close()
        finally:
            if home is not None:
                os.environ["HOME"] = home

    def secrets(self, instance: Instance) -> list[str]:
        return [f"password={instance.extra['token']}"]

    def synth_vars(self, instance: Instance) -> list[str]:
        return [f"api_key=token {instance.extra['token']}"]

    def schemathesis_args(self, instance: Instance) -> list[str]:
        return ["--header", f"Authorization: token {instance.extra['token']}"]
