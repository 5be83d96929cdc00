"""A real `newsbot serve` on a free loopback port, and a static host page server, for the
API and browser tests. The embedded store admits one process per data directory, so a test
never opens the server's store itself: it prepares the directory with the CLI beforehand."""

from __future__ import annotations

import functools
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bench.common import stop
from tests.conftest import REPO, cli_args, cli_env, free_port

ARTIFACTS = REPO / "test-artifacts"
SEED_QUESTION = "What did Macron say about troops?"

XSS_TITLE = "Harbour council votes to rebuild the pier <script>alert(1)</script>"
XSS_QUOTE = "<img src=x onerror=alert(1)>"
XSS_QUESTION = "What did Lena Duarte say about the pier?"
XSS_ARTICLE = f"""{XSS_TITLE}

By Ana Brook

Councillors in Port Ellery voted on Tuesday to rebuild the old wooden pier, which was closed in 2023 after storm damage.

"We will rebuild the pier {XSS_QUOTE} before the summer season," mayor Lena Duarte said after the vote.

The council said the new pier <script>alert(1)</script> will cost four million euros and will be built from recycled steel.

Fishermen in Port Ellery welcomed the decision, saying the closure had cost them half of their catch.
"""


@dataclass
class RunningServer:
    url: str
    data_dir: Path
    log: Path


def write_xss_article(folder: Path) -> Path:
    path = folder / "harbour.txt"
    path.write_text(XSS_ARTICLE, encoding="utf-8")
    return path


@contextmanager
def newsbot_server(data_dir: Path, env: dict[str, str] | None = None, timeout: float = 180) -> Iterator[RunningServer]:
    """`newsbot serve` in a subprocess, yielded once /api/health answers; stopped afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = data_dir.parent / f"server-{port}.log"
    args = ("serve", "--host", "127.0.0.1", "--port", port)
    with log.open("w") as out:
        process = subprocess.Popen(cli_args(args, data_dir), stdout=out, stderr=subprocess.STDOUT,
                                   env=cli_env(env), cwd=REPO)
    try:
        wait_ready(url, process, log, timeout)
        yield RunningServer(url, data_dir, log)
    finally:
        stop(process)


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> float:
    """Seconds until /api/health answers 200; fails with the server's log when it never does."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process.poll() is not None:
            raise AssertionError(f"newsbot serve exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"newsbot serve not ready after {timeout} s:\n{log.read_text()[-4000:]}")


@contextmanager
def static_site(folder: Path) -> Iterator[str]:
    """Serve a folder on another loopback port: a different origin from the newsbot server."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def gradio_call(server: RunningServer, api_name: str, data: list[Any]) -> tuple[str, Any]:
    """One call of a chat-page event through Gradio's HTTP API: ("complete" | "error", data)."""
    url = f"{server.url}/gradio_api/call/{api_name}"
    event_id = httpx.post(url, json={"data": data}, timeout=30).json()["event_id"]
    event, payload = "", None
    for line in httpx.get(f"{url}/{event_id}", timeout=120).text.splitlines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            payload = json.loads(line.removeprefix("data: "))
    return event, payload
