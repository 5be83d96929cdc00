"""Shared fixtures: settings on a temporary data dir, one embedding model per session, one
seeded store built by the real CLI, and `run_cli` for end-to-end runs of the `newsbot` command.

The embedded store is locked to one process per data dir, so a test that opens a store
in-process works on its own copy, and CLI subprocesses get their own copy too.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
SEED_FILE = SEEDS / "000_d6d2929f3d089768.txt"
SEED_TITLE = "Macron backs Trump's Russia outreach but seeks 'American backup' on troops"
CLI_TIMEOUT = 300

# Tests never read the developer's own newsbot settings: no NEWSBOT_* from the environment.
for _key in [k for k in os.environ if k.startswith("NEWSBOT_")]:
    del os.environ[_key]
os.environ.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
                   "TOKENIZERS_PARALLELISM": "false"})


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("newsbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "newsbot.cli"]


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env.update(extra or {})
    return env


def cli_args(args: tuple[Any, ...], data_dir: Path | None) -> list[str]:
    argv = cli_command() + [str(a) for a in args]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    return argv


def run_cli(*args: Any, data_dir: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = CLI_TIMEOUT, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `newsbot` console script; `data_dir` is appended as --data-dir."""
    return subprocess.run(cli_args(args, data_dir), capture_output=True, text=True, timeout=timeout,
                          env=cli_env(env), cwd=cwd or REPO)


def start_cli(*args: Any, data_dir: Path | None = None, env: dict[str, str] | None = None,
              **popen: Any) -> subprocess.Popen[str]:
    """The same command, started without waiting (for runs in parallel or killed on purpose)."""
    options: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    options.update(popen)
    return subprocess.Popen(cli_args(args, data_dir), env=cli_env(env), cwd=REPO, **options)


def finish(proc: subprocess.Popen[str], timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_cli_measured(*args: Any, data_dir: Path | None = None, env: dict[str, str] | None = None,
                     timeout: float = CLI_TIMEOUT) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """The real CLI with its wall time and its own peak resident memory in bytes (os.wait4 reports
    the child's usage, not the test run's); killed after `timeout` seconds."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.monotonic()
        proc = start_cli(*args, data_dir=data_dir, env=env, stdout=out, stderr=err)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        seconds = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())
    return result, seconds, usage.ru_maxrss * 1024  # ru_maxrss is in kilobytes on Linux


def run_parallel(calls: dict[str, tuple[tuple[Any, ...], dict[str, Any]]]) -> dict[str, subprocess.CompletedProcess[str]]:
    """Several CLI runs at once (each on its own data dir): the model load dominates each run."""
    procs = {name: start_cli(*args, **kwargs) for name, (args, kwargs) in calls.items()}
    return {name: finish(proc) for name, proc in procs.items()}


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """Assert a CLI run succeeded, showing its output when it did not."""
    assert result.returncode == 0, f"{result.args}\nexit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_store(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("store.lock"))
    return dest


# -- small synthetic articles --------------------------------------------------------------------

_WHO = ["The harbour authority", "Local fishermen", "The regional council", "Port engineers", "The coastguard",
        "Ferry operators", "The environment agency", "Residents of the old town", "The mayor's office", "Shipping firms"]
_DID = ["warned about", "voted to fund", "published a report on", "raised concerns over", "agreed to review",
        "asked for clarity on", "started repairs to", "announced an inquiry into", "set a deadline for", "welcomed"]
_WHAT = ["the damaged sea wall", "rising mooring fees", "the new ferry timetable", "dredging in the channel",
         "the storm warning system", "plans for a marina", "water quality in the bay", "the fish market lease"]


def story(topic: str, n: int = 8, offset: int = 0) -> str:
    """n distinct, sentence-shaped paragraphs about `topic` (no two stories share a sentence)."""
    lines = []
    for i in range(offset, offset + n):
        who, did, what = _WHO[i % len(_WHO)], _DID[(i * 3 + 1) % len(_DID)], _WHAT[(i * 7 + 2) % len(_WHAT)]
        lines.append(f"{who} {did} {what} in {topic} on day {i + 1} of the dispute, officials said.")
    return "\n\n".join(lines)


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def ask_batch(base: Path, data_dir: Path, cases: list[tuple[str, list[dict[str, str]] | None, Any]]) -> list[dict[str, Any]]:
    """`newsbot ask --batch` over (question, history or None, …) cases: one JSON answer per case, in order."""
    rows = [{"question": q, **({"history": h} if h else {})} for q, h, _ in cases]
    return json_lines(ok(run_cli("ask", "--batch", write_jsonl(base / "questions.jsonl", rows), data_dir=data_dir)).stdout)


def assert_no_orphans(chunks: dict[str, tuple[str, dict[str, Any]]]) -> None:
    """Every stored article is whole: chunks {id}:0..n-1, one content hash, n_chunks right."""
    by_article: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for cid, (_, meta) in chunks.items():
        by_article.setdefault(str(meta["article_id"]), []).append((cid, meta))
    for article_id, rows in by_article.items():
        n_chunks = {int(m["n_chunks"]) for _, m in rows}
        hashes = {m["content_hash"] for _, m in rows}
        assert len(n_chunks) == 1 and len(hashes) == 1, f"{article_id}: mixed versions {n_chunks} {hashes}"
        expected = {f"{article_id}:{n}" for n in range(n_chunks.pop())}
        assert {cid for cid, _ in rows} == expected, f"{article_id}: orphan or missing chunks"


# -- settings and in-process parts --------------------------------------------------------------

@pytest.fixture
def settings(tmp_path: Path) -> Callable[..., Any]:
    """A factory: settings(**overrides) on a fresh data dir under tmp_path (or the one given)."""
    from newsbot.settings import load_settings

    def make(data_dir: Path | None = None, **overrides: Any) -> Any:
        return load_settings(data_dir=data_dir or tmp_path / "data", **overrides)

    return make


@pytest.fixture(scope="session")
def embedder() -> Any:
    """The real embedding model (the default backend, ONNX Runtime), loaded once for the whole session."""
    from models.embeddings import NewsEmbeddings
    from newsbot.settings import load_settings

    model = NewsEmbeddings.from_settings(load_settings())
    model.embed_query("warm up")
    return model


class OpenStore:
    """A store opened in this process; its lock is released at teardown so a CLI can follow."""

    def __init__(self, settings: Any, embedder: Any) -> None:
        from ingest.pipeline import Ingestor
        from vectorstore.store import NewsStore

        self.settings = settings
        self.store = NewsStore.from_settings(settings)
        self.ingestor = Ingestor(settings, self.store, embedder)
        self.embedder = embedder

    def ingest(self, *sources: Any) -> Any:
        return self.ingestor.run([str(s) for s in sources])

    def bot(self) -> Any:
        from chatbot.service import NewsBot

        return NewsBot(self.settings, self.store, self.embedder)

    def chunks(self) -> dict[str, tuple[str, dict[str, Any]]]:
        return {cid: (doc, meta) for cid, doc, meta in self.store.iter_all()}

    def release(self) -> None:
        from vectorstore.lock import release_store_lock

        release_store_lock(self.settings.data_dir)


@pytest.fixture
def open_store(settings: Callable[..., Any], embedder: Any) -> Iterator[Callable[..., OpenStore]]:
    """A factory: open_store(data_dir=None, **overrides) → an in-process store with an Ingestor."""
    opened: list[OpenStore] = []

    def make(data_dir: Path | None = None, **overrides: Any) -> OpenStore:
        handle = OpenStore(settings(data_dir, **overrides), embedder)
        opened.append(handle)
        return handle

    yield make
    for handle in opened:
        handle.release()


# -- the seeded store -------------------------------------------------------------------------

@pytest.fixture(scope="session")
def seeded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`newsbot ingest seeds/` run once by the real CLI; tests copy it, never write to it."""
    data_dir = tmp_path_factory.mktemp("seeded") / "data"
    result = ok(run_cli("ingest", SEEDS, "--json", data_dir=data_dir))
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["added"] == 1 and summary["failed"] == 0, summary
    return data_dir


@pytest.fixture
def seeded_copy(seeded_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the seeded store, free to change and to hand to a CLI run."""
    return copy_store(seeded_dir, tmp_path / "seeded")


@pytest.fixture(scope="session")
def seeded(seeded_dir: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[OpenStore]:
    """The seeded store opened in this process, read-only by convention (shared by tests)."""
    from newsbot.settings import load_settings

    data_dir = copy_store(seeded_dir, tmp_path_factory.mktemp("seeded-ro") / "data")
    handle = OpenStore(load_settings(data_dir=data_dir), embedder)
    yield handle
    handle.release()


@pytest.fixture(scope="session")
def seed_article_id(seeded: OpenStore) -> str:
    articles = seeded.store.articles()
    assert len(articles) == 1, articles
    return articles[0].id


@pytest.fixture(scope="session")
def seed_chunks(seeded: OpenStore, seed_article_id: str) -> list[Any]:
    return seeded.store.article_chunks(seed_article_id)


@pytest.fixture(scope="session")
def seeded_bot(seeded: OpenStore) -> Any:
    return seeded.bot()
