"""The query path stays light: `newsbot ask`, `retrieve`, `mcp` and `serve` (JSON and /v1 APIs)
answer without importing torch, transformers or sentence-transformers (the ONNX backend), and
only `serve` imports gradio. Each runs as the real command in a subprocess, through a wrapper
that writes the heavy modules it finds in `sys.modules` when the process exits; an eager import
re-added anywhere on these paths fails here. `newsbot mcp` also lists its tools before the
store and the model are loaded."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from bench.common import stop
from tests.conftest import REPO, cli_env, copy_store, free_port
from tests.server_helpers import SEED_QUESTION, wait_ready

pytestmark = pytest.mark.slow  # runs the real CLI and server

HEAVY = ("torch", "transformers", "sentence_transformers", "gradio")
# Runs `newsbot ARGS…` (the console script's main) and, at exit, writes the heavy top-level
# packages present in sys.modules to $NEWSBOT_TEST_MODULES_OUT, one per line.
WRAPPER = f"""
import atexit, os, sys
HEAVY = {HEAVY!r}
def _report():
    with open(os.environ["NEWSBOT_TEST_MODULES_OUT"], "w") as fh:
        fh.write("\\n".join(sorted({{m.split(".")[0] for m in list(sys.modules)}} & set(HEAVY))))
atexit.register(_report)
sys.argv = ["newsbot", *sys.argv[1:]]
from newsbot.cli import main
main()
"""


def wrapped(*args: object) -> list[str]:
    return [sys.executable, "-c", WRAPPER, *map(str, args)]


def heavy_modules(report: Path) -> set[str]:
    assert report.exists(), "the wrapped process did not exit through atexit"
    return set(filter(None, report.read_text().splitlines()))


@pytest.fixture
def store(seeded_dir: Path, tmp_path: Path) -> Path:
    return copy_store(seeded_dir, tmp_path / "store")


@pytest.mark.parametrize("command", ["ask", "retrieve"])
def test_a_cli_answer_imports_no_torch(command: str, store: Path, tmp_path: Path) -> None:
    report = tmp_path / "modules.txt"
    result = subprocess.run(wrapped(command, SEED_QUESTION, "--json", "--data-dir", store), capture_output=True,
                            text=True, timeout=300, cwd=REPO, env=cli_env({"NEWSBOT_TEST_MODULES_OUT": str(report)}))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "American backup" in result.stdout
    assert heavy_modules(report) == set(), f"`newsbot {command}` imported {sorted(heavy_modules(report))}"
    assert (store / "store.lock").read_text() == "", "the quick exit must still let go of the store cleanly"


def test_the_check_sees_an_eager_import(store: Path, tmp_path: Path) -> None:
    """The same wrapper with the torch backend: the check is not blind."""
    report = tmp_path / "modules.txt"
    result = subprocess.run(wrapped("ask", SEED_QUESTION, "--data-dir", store), capture_output=True, text=True,
                            timeout=300, cwd=REPO, env=cli_env({"NEWSBOT_TEST_MODULES_OUT": str(report),
                                                                "NEWSBOT_EMBEDDING_BACKEND": "torch"}))
    assert result.returncode == 0, result.stderr[-3000:]
    assert {"torch", "sentence_transformers"} <= heavy_modules(report)


async def test_mcp_lists_tools_before_loading_and_answers_without_torch(store: Path, tmp_path: Path) -> None:
    report = tmp_path / "modules.txt"
    params = StdioServerParameters(command=sys.executable, args=wrapped("mcp", "--data-dir", store)[1:],
                                   env=cli_env({"NEWSBOT_TEST_MODULES_OUT": str(report)}), cwd=str(REPO))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = await session.list_tools()
        # listed while the store and the model are still loading (or just done): the lock is taken
        # in the foreground, Chroma and the model in a background thread
        assert {"search_news", "ask_news", "list_sources"} <= {t.name for t in tools.tools}
        result = await session.call_tool("ask_news", {"question": SEED_QUESTION})
        assert not result.isError, result.content
        assert "American backup" in result.content[0].text
    deadline = time.monotonic() + 30
    while not report.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert heavy_modules(report) == set()


async def test_mcp_lists_tools_without_the_model_and_reports_it_on_a_call(store: Path, tmp_path: Path) -> None:
    """The tools are listed before the model loads: with a model that cannot load, the server still
    lists them, and a call says why it cannot answer, in one line, instead of the server dying at start."""
    missing = str(tmp_path / "no-such-model")
    params = StdioServerParameters(command=sys.executable, args=wrapped("mcp", "--data-dir", store)[1:], cwd=str(REPO),
                                   env=cli_env({"NEWSBOT_TEST_MODULES_OUT": str(tmp_path / "m.txt"),
                                                "NEWSBOT_EMBEDDING_MODEL": missing}))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = await session.list_tools()
        assert {"search_news", "ask_news", "list_sources"} <= {t.name for t in tools.tools}
        result = await session.call_tool("search_news", {"query": "troops"})
    assert result.isError
    text = result.content[0].text
    assert f"the embedding model {missing!r} cannot be loaded offline" in text and "\n" not in text, text


def test_mcp_on_a_store_in_use_still_fails_at_once(store: Path, tmp_path: Path) -> None:
    from vectorstore.lock import acquire_store_lock, release_store_lock

    acquire_store_lock(store)
    try:
        started = time.monotonic()
        result = subprocess.run(wrapped("mcp", "--data-dir", store), capture_output=True, text=True, timeout=120,
                                cwd=REPO, env=cli_env({"NEWSBOT_TEST_MODULES_OUT": str(tmp_path / "m.txt")}),
                                stdin=subprocess.DEVNULL)
    finally:
        release_store_lock(store)
    assert result.returncode == 1 and "in use" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert time.monotonic() - started < 30


def test_serve_answers_both_apis_without_torch(store: Path, tmp_path: Path) -> None:
    report, log = tmp_path / "modules.txt", tmp_path / "server.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        process = subprocess.Popen(wrapped("serve", "--port", port, "--data-dir", store), stdout=out,
                                   stderr=subprocess.STDOUT, cwd=REPO,
                                   env=cli_env({"NEWSBOT_TEST_MODULES_OUT": str(report)}))
    try:
        wait_ready(url, process, log, timeout=180)
        answer = httpx.post(f"{url}/api/ask", json={"question": SEED_QUESTION}, timeout=60)
        assert answer.status_code == 200 and "American backup" in answer.json()["answer"]
        chat = httpx.post(f"{url}/v1/chat/completions", timeout=60,
                          json={"model": "newsbot", "messages": [{"role": "user", "content": SEED_QUESTION}]})
        assert chat.status_code == 200 and "American backup" in chat.json()["choices"][0]["message"]["content"]
        if os.path.exists(f"/proc/{process.pid}/maps"):  # the native library too, while it runs
            maps = Path(f"/proc/{process.pid}/maps").read_text()
            assert "libtorch" not in maps
    finally:
        stop(process)
    assert process.returncode == 0, log.read_text()[-3000:]
    assert heavy_modules(report) == {"gradio"}, "serve imported " + ", ".join(sorted(heavy_modules(report)))
