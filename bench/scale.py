"""Store growth: insert rate, index build, hybrid query latency and memory at 10k and 100k chunks;
with --live, also a running `serve` that other processes write to while it answers.

Vectors are random unit vectors (the embedding cost is measured by bench/ingest.py and grows
linearly); texts are real sentences from the RealTimeQA pages, so BM25 sees a real vocabulary.

--live, per size: the filled store is served by `chroma run`; one `newsbot serve` worker (its own
data dir, rate limit off) answers /api/ask from one client back to back, first on a quiet store,
then while a writer (the ingest pipeline, in this process, on the same Chroma server) adds one real
RealTimeQA article every few seconds. A write is visible when the worker's index holds its chunks
(/api/health) and a question made of its headline retrieves it; `write_visible_s` is the slowest of the writes,
counted from the end of the write. A failed ask counts at the time it took.

    python -m bench.scale --sizes 10000,100000 [--live]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from bench.common import corpus_records, p50_p95, stop, timed_asks
from bench.serve_load import free_port, rss_mb

WRITES = 10
WRITE_EVERY_S = 3.0
QUIET_ASKS = 200


def self_rss_mb() -> float:
    return rss_mb(os.getpid())


def fill(store, n: int, texts: list[str], titles: list[str], rng: random.Random) -> float:  # noqa: ANN001
    start, batch = time.perf_counter(), 2000
    for offset in range(0, n, batch):
        ids = [f"a{i // 8}:{i % 8}" for i in range(offset, min(n, offset + batch))]
        vectors = np.random.default_rng(offset).normal(size=(len(ids), 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        docs = [" ".join(rng.sample(texts, 3)) for _ in ids]
        metas = [{"article_id": i.split(":")[0], "n": int(i.split(":")[1]), "n_chunks": 8,
                  "title": titles[int(i.split(":")[0][1:]) % len(titles)], "published_day": 20260101,
                  "published": "2026-01-01", "sources": ["Scale Wire"], "source": "Scale Wire"} for i in ids]
        store.upsert_chunks(ids, docs, metas, vectors.tolist())
    return time.perf_counter() - start


def measure(n: int, texts: list[str], titles: list[str], live: bool, fresh: list[dict]) -> dict:
    from chatbot.service import NewsBot
    from newsbot.settings import load_settings
    from vectorstore.lock import release_store_lock

    data_dir = Path(tempfile.mkdtemp(prefix=f"scale{n}-"))
    try:
        bot = NewsBot(load_settings(data_dir=data_dir))
        base = self_rss_mb()
        insert_s = fill(bot.store, n, texts, titles, random.Random(n))
        t0 = time.perf_counter()
        _ = bot.retriever.index
        index_s = time.perf_counter() - t0
        questions = [r["title"] for r in corpus_records(200)]
        p50, p95 = p50_p95(timed_asks(bot, questions))
        row = {"chunks": n, "insert_chunks_per_s": round(n / insert_s), "index_build_s": round(index_s, 1),
               "ask_p50_ms": p50, "ask_p95_ms": p95, "rss_growth_mb": round(self_rss_mb() - base)}
        release_store_lock(data_dir)
        del bot
        if live:
            row.update(measure_live(data_dir, n, questions, fresh))
        return row
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def percentile(sorted_ms: list[float], q: float) -> float:
    return round(sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))], 1) if sorted_ms else float("nan")


def ask(http: httpx.Client, question: str) -> tuple[float, dict | None]:
    start = time.perf_counter()
    try:
        response = http.post("/api/ask", json={"question": question})
        body = response.json() if response.status_code == 200 else None
    except httpx.HTTPError:
        body = None
    return (time.perf_counter() - start) * 1000, body


def measure_live(data_dir: Path, n: int, questions: list[str], fresh: list[dict]) -> dict:
    chroma_port, port = free_port(), free_port()
    chroma_url, url = f"http://127.0.0.1:{chroma_port}", f"http://127.0.0.1:{port}"
    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    logs = data_dir / "logs"
    logs.mkdir()
    server = subprocess.Popen([chroma, "run", "--path", str(data_dir / "chroma"), "--port", str(chroma_port)],
                              stdout=(logs / "chroma.log").open("w"), stderr=subprocess.STDOUT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env.update({"NEWSBOT_CHROMA_URL": chroma_url, "NEWSBOT_RATE_LIMIT_PER_MINUTE": "0"})
    worker = None
    try:
        wait_for(f"{chroma_url}/api/v2/heartbeat", server, 600)
        started = time.monotonic()
        worker = subprocess.Popen([sys.executable, "-m", "newsbot.cli", "serve", "--port", str(port),
                                   "--data-dir", str(data_dir / "worker")], env=env,
                                  stdout=(logs / "serve.log").open("w"), stderr=subprocess.STDOUT)
        wait_for(f"{url}/api/health", worker, 3600)
        ready_s = time.monotonic() - started
        with httpx.Client(base_url=url, timeout=120) as http:
            quiet = sorted(ask(http, questions[i % len(questions)])[0] for i in range(QUIET_ASKS))
            rss_quiet = rss_mb(worker.pid)
            writing, visible, ingest_s = asks_while_writing(http, url, chroma_url, questions, fresh)
        return {"serve_ready_s": round(ready_s, 1), "write_visible_s": round(max(visible), 2),
                "write_visible_p50_s": round(sorted(visible)[len(visible) // 2], 2),
                "write_s_p50": round(sorted(ingest_s)[len(ingest_s) // 2], 2),
                "ask_p50_quiet_ms": percentile(quiet, 0.5), "ask_p99_quiet_ms": percentile(quiet, 0.99),
                "ask_p50_writing_ms": percentile(writing, 0.5), "ask_p99_writing_ms": percentile(writing, 0.99),
                "ask_max_writing_ms": round(max(writing), 1), "asks_writing": len(writing),
                "worker_rss_mb": round(rss_quiet), "worker_peak_rss_mb": round(rss_mb(worker.pid, "VmHWM")),
                "worker_index_mb": round(folder_mb(data_dir / "worker" / "index"))}
    finally:
        if worker is not None:
            stop(worker)
        stop(server, timeout=60)


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def wait_for(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} not ready (exit code {process.poll()})")


def asks_while_writing(http: httpx.Client, url: str, chroma_url: str, questions: list[str],
                       fresh: list[dict]) -> tuple[list[float], list[float], list[float]]:
    """Ask back to back while WRITES articles go in; (ask ms sorted, seconds each write took to show, write s)."""
    from ingest.pipeline import Ingestor
    from ingest.sources import record_to_doc
    from models.embeddings import NewsEmbeddings
    from newsbot.settings import load_settings
    from vectorstore.store import NewsStore

    settings = load_settings(chroma_url=chroma_url, data_dir=Path(tempfile.mkdtemp(prefix="writer-")))
    embedder = NewsEmbeddings.from_settings(settings)
    embedder.embed_query("warm up")
    ingestor = Ingestor(settings, NewsStore.from_settings(settings), embedder)
    latencies: list[float] = []
    done = threading.Event()

    def asker() -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            i = 0
            while not done.is_set():
                latencies.append(ask(client, questions[i % len(questions)])[0])
                i += 1

    thread = threading.Thread(target=asker)
    thread.start()
    visible, took = [], []
    try:
        for record in fresh[:WRITES]:
            cycle = time.monotonic()
            before = http.get("/api/health").json()["chunks"]
            start = time.monotonic()
            summary = ingestor.ingest_docs([record_to_doc(record, f"live#{record['url']}")])
            written = time.monotonic()
            took.append(written - start)
            visible.append(wait_visible(http, record["title"], before + summary.chunks) - written)
            time.sleep(max(0.0, WRITE_EVERY_S - (time.monotonic() - cycle)))
    finally:
        done.set()
        thread.join()
    return sorted(latencies), visible, took


def wait_visible(http: httpx.Client, title: str, chunks: int, timeout: float = 120) -> float:
    """When the worker's index holds the chunks and a question with the headline retrieves the article."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http.get("/api/health").json()["chunks"] >= chunks:
            found = http.post("/api/retrieve", json={"question": title}).json()
            if any(r.get("title") == title for r in found.get("results", [])):
                return time.monotonic()
        time.sleep(0.05)
    return float("inf")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--live", action="store_true", help="also measure writes to a running serve")
    args = parser.parse_args()
    records = corpus_records()
    texts = [s for r in records for s in r["body"].split("\n") if len(s.split()) > 8]
    fresh = [r for r in records[-200:] if r.get("title") and len(r.get("body", "")) > 1500][-WRITES:]
    titles = [r["title"] for r in records if r.get("title") and r["title"] not in {f["title"] for f in fresh}]
    rows = [measure(int(n), texts, titles, args.live, fresh) for n in args.sizes.split(",")]
    keys = list(dict.fromkeys(k for row in rows for k in row))
    print("## Store growth (bench/scale.py)\n")
    print("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row.get(k, "–")) for k in keys) + " |")
    print("\n" + json.dumps(rows))


if __name__ == "__main__":
    main()
