"""Kill `newsbot ingest` with SIGKILL at several moments, run it again, and compare with an
uninterrupted run: the same chunk ids, texts, metadata and vectors, the same counts, no orphans.

The corpus is 40 real web pages from the shared RealTimeQA data (copied into tmp, never into
the repo). Chunks are smaller than the default (80 tokens) so that one run writes the store in
several batches, and a kill can land between them.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import assert_no_orphans, finish, ok, run_cli, start_cli

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "realtimeqa" / "20260123" / "corpus.jsonl"
ENV = {"NEWSBOT_CHUNK_TOKENS": "80", "NEWSBOT_CHUNK_OVERLAP_TOKENS": "20"}
N_RECORDS = 40

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CORPUS.exists():
        pytest.fail(f"the shared RealTimeQA corpus is missing: {CORPUS}")
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    short = [r for r in rows if len(r["body"]) < 5000][:N_RECORDS]
    assert len(short) == N_RECORDS
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in short), encoding="utf-8")
    return path


class Disk:
    """What the store's files look like, read without opening (or locking) the database."""

    def __init__(self, data_dir: Path) -> None:
        self.db = data_dir / "chroma" / "chroma.sqlite3"
        self.journal = data_dir / "chroma" / "chroma.sqlite3-journal"

    def size(self) -> int:
        try:
            return self.db.stat().st_size
        except FileNotFoundError:
            return 0

    def writing(self) -> bool:
        return self.journal.exists()


def after_seconds(seconds: float) -> Callable[[Disk, float], bool]:
    return lambda disk, elapsed: elapsed >= seconds


def during_first_batch_write() -> Callable[[Disk, float], bool]:
    """Inside the transaction that writes the first batch of chunks (the database grows)."""
    start: list[int] = []

    def check(disk: Disk, elapsed: float) -> bool:
        if not start:
            start.append(disk.size())
        return disk.writing() and disk.size() > start[0] + 500_000

    return check


def after_first_batch_written(delay: float) -> Callable[[Disk, float], bool]:
    """`delay` seconds after the first batch is committed: embedding the next one."""
    start: list[int] = []
    done: list[float] = []

    def check(disk: Disk, elapsed: float) -> bool:
        if not start:
            start.append(disk.size())
        if not done and not disk.writing() and disk.size() > start[0] + 500_000:
            done.append(elapsed)
        return bool(done) and elapsed >= done[0] + delay

    return check


def ingest_until(corpus: Path, data_dir: Path, moment: Callable[[Disk, float], bool]) -> int | None:
    """Start the real CLI; SIGKILL it when `moment` holds. The exit code, or None if killed."""
    proc = start_cli("ingest", corpus, "-q", data_dir=data_dir, env=ENV)
    disk, t0 = Disk(data_dir), time.monotonic()
    while proc.poll() is None:
        if moment(disk, time.monotonic() - t0):
            proc.send_signal(signal.SIGKILL)
            finish(proc)
            return None
        time.sleep(0.002)
    result = finish(proc)
    return result.returncode


def snapshot(data_dir: Path) -> dict[str, Any]:
    """Everything stored, read in-process once the CLI has exited."""
    from newsbot.settings import load_settings
    from vectorstore.lock import release_store_lock
    from vectorstore.store import NewsStore

    settings = load_settings(data_dir=data_dir)
    store = NewsStore.from_settings(settings)
    try:
        got = store.collection.get(include=["documents", "metadatas", "embeddings"])
        chunks = {cid: (doc, meta) for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])}
        vectors = {cid: np.asarray(v) for cid, v in zip(got["ids"], got["embeddings"])}
        return {"chunks": chunks, "vectors": vectors, "count": store.count()}
    finally:
        release_store_lock(settings.data_dir)


@pytest.fixture(scope="module")
def clean(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data_dir = tmp_path_factory.mktemp("clean") / "data"
    ok(run_cli("ingest", corpus, "-q", data_dir=data_dir, env=ENV))
    return {"dir": data_dir, **snapshot(data_dir),
            "stats": json.loads(ok(run_cli("stats", "--json", data_dir=data_dir)).stdout)}


@pytest.fixture(scope="module")
def killed(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One store, killed three times at different moments, then run to the end."""
    data_dir = tmp_path_factory.mktemp("killed") / "data"
    exits, left = [], []
    for moment in (after_seconds(1.5),  # starting up
                   during_first_batch_write(),  # mid-transaction
                   after_first_batch_written(2.0)):  # between batches
        exits.append(ingest_until(corpus, data_dir, moment))
        # counted by another process: this one opens each store once, at the end (Chroma caches
        # an opened store per process and would not see the CLI's later writes)
        left.append(json.loads(ok(run_cli("stats", "--json", data_dir=data_dir)).stdout)["chunks"])
    final = ok(run_cli("ingest", corpus, "--json", data_dir=data_dir, env=ENV))
    again = ok(run_cli("ingest", corpus, "--json", data_dir=data_dir, env=ENV))
    return {"dir": data_dir, "exits": exits, "left": left, "final": json.loads(final.stdout.strip().splitlines()[-1]),
            "again": json.loads(again.stdout.strip().splitlines()[-1]), **snapshot(data_dir),
            "stats": json.loads(ok(run_cli("stats", "--json", data_dir=data_dir)).stdout)}


def test_the_kills_landed_while_ingesting(killed, clean) -> None:
    # the first two moments come before the run can end; the third may find it finished
    assert killed["exits"][:2] == [None, None]
    # killed between batches, the store held part of the corpus: the rerun had to finish it
    if killed["exits"][2] is None:
        assert 0 < killed["left"][2] < clean["count"], killed["left"]


def test_the_rerun_after_kills_reports_no_failures(killed) -> None:
    assert killed["final"]["failed"] == 0
    assert killed["final"]["added"] + killed["final"]["updated"] + killed["final"]["unchanged"] == N_RECORDS


def test_same_chunk_ids_and_counts_as_an_uninterrupted_run(clean, killed) -> None:
    assert clean["stats"]["articles"] == N_RECORDS
    assert set(killed["chunks"]) == set(clean["chunks"])
    assert killed["count"] == clean["count"] == len(clean["chunks"])
    assert killed["stats"] == clean["stats"]


def test_same_texts_and_metadata_as_an_uninterrupted_run(clean, killed) -> None:
    different = [cid for cid in clean["chunks"] if killed["chunks"].get(cid) != clean["chunks"][cid]]
    assert not different, f"{len(different)} chunks differ, e.g. {different[:3]}"


def test_same_vectors_as_an_uninterrupted_run(clean, killed) -> None:
    low = [cid for cid, v in clean["vectors"].items() if float(v @ killed["vectors"][cid]) < 0.999]
    assert not low, f"{len(low)} chunks carry another vector, e.g. {low[:3]}"


def test_no_orphans_after_kills(killed) -> None:
    assert_no_orphans(killed["chunks"])


def test_running_again_after_recovery_adds_nothing(killed) -> None:
    again = killed["again"]
    assert (again["added"], again["updated"], again["unchanged"], again["failed"]) == (0, 0, N_RECORDS, 0)


def test_the_recovered_store_answers_from_every_article(killed) -> None:
    """The lexical index rebuilt after the kills covers every chunk (retrieve loads it)."""
    from newsbot.settings import load_settings
    from vectorstore import indexes
    from vectorstore.lock import release_store_lock
    from vectorstore.store import NewsStore

    settings = load_settings(data_dir=killed["dir"])
    store = NewsStore.from_settings(settings)
    try:
        index = indexes.load(store, settings.index_dir)
        assert set(index.ids) == set(killed["chunks"])
    finally:
        release_store_lock(settings.data_dir)
