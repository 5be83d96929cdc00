"""Store growth: insert rate, index build, hybrid query latency and memory at 10k and 100k chunks.

Vectors are random unit vectors (the embedding cost is measured by bench/ingest.py and grows
linearly); texts are real sentences from the RealTimeQA pages, so BM25 sees a real vocabulary.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import corpus_records, p50_p95, timed_asks


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fill(store, n: int, texts: list[str], rng: random.Random) -> float:  # noqa: ANN001
    start, batch = time.perf_counter(), 2000
    for offset in range(0, n, batch):
        ids = [f"a{i // 8}:{i % 8}" for i in range(offset, min(n, offset + batch))]
        vectors = np.random.default_rng(offset).normal(size=(len(ids), 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        docs = [" ".join(rng.sample(texts, 3)) for _ in ids]
        metas = [{"article_id": i.split(":")[0], "n": int(i.split(":")[1]), "title": "t", "published_day": 20260101}
                 for i in ids]
        store.collection.upsert(ids=ids, embeddings=vectors.tolist(), documents=docs, metadatas=metas)
    return time.perf_counter() - start


def measure(n: int, texts: list[str]) -> dict:
    from chatbot.service import NewsBot
    from newsbot.settings import load_settings
    from vectorstore.lock import release_store_lock

    data_dir = Path(tempfile.mkdtemp(prefix=f"scale{n}-"))
    bot = NewsBot(load_settings(data_dir=data_dir))
    base = rss_mb()
    insert_s = fill(bot.store, n, texts, random.Random(n))
    bot.store.bump_generation()
    t0 = time.perf_counter()
    _ = bot.retriever.index
    index_s = time.perf_counter() - t0
    questions = [r["title"] for r in corpus_records(200)]
    p50, p95 = p50_p95(timed_asks(bot, questions))
    release_store_lock(data_dir)
    return {"chunks": n, "insert_chunks_per_s": round(n / insert_s), "index_build_s": round(index_s, 1),
            "ask_p50_ms": p50, "ask_p95_ms": p95, "rss_growth_mb": round(rss_mb() - base)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    texts = [s for r in corpus_records() for s in r["body"].split("\n") if len(s.split()) > 8]
    rows = [measure(int(n), texts) for n in args.sizes.split(",")]
    print("## Store growth (bench/scale.py)\n")
    print("| " + " | ".join(rows[0]) + " |\n|" + "---|" * len(rows[0]))
    for row in rows:
        print("| " + " | ".join(str(v) for v in row.values()) + " |")
    print("\n" + json.dumps(rows))


if __name__ == "__main__":
    main()
