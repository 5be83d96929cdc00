"""Chroma server mode: one `chroma run` on loopback, an ingest through one process and
answers through two `newsbot serve` workers; a server restart loses nothing."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bench.common import stop
from tests.conftest import free_port, ok, run_cli, story, write_jsonl
from tests.server_helpers import newsbot_server

pytestmark = pytest.mark.slow


@contextmanager
def chroma_server(path: Path, port: int) -> Iterator[str]:
    chroma = shutil.which("chroma") or str(Path(__file__).resolve().parents[1] / ".venv/bin/chroma")
    log = (path.parent / f"chroma-{port}.log").open("w")
    proc = subprocess.Popen([chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        else:
            raise AssertionError(f"chroma server not ready:\n{(path.parent / f'chroma-{port}.log').read_text()[-2000:]}")
        yield url
    finally:
        stop(proc, timeout=30)
        log.close()


def answer(url: str, question: str) -> dict:
    response = httpx.post(f"{url}/api/ask", json={"question": question}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def answered_within(url: str, question: str, needle: str, seconds: float = 20) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if needle in answer(url, question)["answer"]:
            return time.monotonic() - start
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer {question!r} with {needle!r} within {seconds} s")


def test_workers_share_one_chroma_server_and_survive_its_restart(tmp_path: Path) -> None:
    db, port = tmp_path / "chroma-db", free_port()
    env = {"NEWSBOT_CHROMA_URL": f"http://127.0.0.1:{port}"}
    article = write_jsonl(tmp_path / "harbour.jsonl", [{"title": "Quillfeather harbour reopens",
                                                        "body": story("Quillfeather harbour", 8), "source": "Gazette"}])
    with chroma_server(db, port):
        ok(run_cli("ingest", Path(__file__).resolve().parents[1] / "seeds", data_dir=tmp_path / "w0", env=env))
        with newsbot_server(tmp_path / "w1", env=env) as w1, newsbot_server(tmp_path / "w2", env=env) as w2:
            for worker in (w1, w2):
                assert "American backup" in answer(worker.url, "What did Macron say about troops?")["answer"]
            ok(run_cli("ingest", article, data_dir=tmp_path / "w0", env=env))  # a third process writes
            for worker in (w1, w2):
                answered_within(worker.url, "What happened to Quillfeather harbour?", "Quillfeather")
        before = ok(run_cli("stats", "--json", data_dir=tmp_path / "w0", env=env)).stdout
    with chroma_server(db, port):  # restarted on the same folder
        after = ok(run_cli("stats", "--json", data_dir=tmp_path / "w0", env=env)).stdout
        assert after == before
        again = ok(run_cli("ask", "What did Macron say about troops?", "--json", data_dir=tmp_path / "w3", env=env)).stdout
        assert "American backup" in again
