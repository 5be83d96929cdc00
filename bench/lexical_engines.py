"""Lexical engines side by side on the same chunks: bm25s (newsbot's engine before issue 25), SQLite
FTS5 (`bm25()`), raw Tantivy, and newsbot's index (Tantivy + bm25s's scoring of its candidates).

Chunks are real RealTimeQA sentences, three per chunk (as bench/scale.py fills a store); the
questions are the dev weeks' 105. Per engine: the build, one write of 8 chunks made visible to
readers (bm25s has no incremental add: it indexes everything again), a question's top 60.

    python -m bench.lexical_engines [--chunks 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.common import corpus_records, weeks


def chunks(n: int, seed: int = 1) -> list[str]:
    texts = [s for r in corpus_records() for s in r["body"].split("\n") if len(s.split()) > 8]
    rng = random.Random(seed)
    return [" ".join(rng.sample(texts, 3)) for _ in range(n)]


def latencies(search: Callable[[list[str]], object], questions: list[list[str]]) -> dict[str, float]:
    for q in questions[:5]:
        search(q)
    times = []
    for q in questions:
        start = time.perf_counter()
        search(q)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"p50_ms": round(times[len(times) // 2], 1), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
            "max_ms": round(times[-1], 1)}


def bench_bm25s(tokens: list[list[str]], new: list[list[str]], questions: list[list[str]]) -> dict:
    import bm25s

    start = time.perf_counter()
    bm = bm25s.BM25()
    bm.index(tokens, show_progress=False)
    build = time.perf_counter() - start
    start = time.perf_counter()
    bm2 = bm25s.BM25()
    bm2.index(tokens + new, show_progress=False)  # the only way to add a chunk
    write = time.perf_counter() - start

    def search(q: list[str]) -> object:
        q = [t for t in q if t in bm2.vocab_dict]
        return np.argsort(-bm2.get_scores(q))[:60] if q else []

    return {"build_s": round(build, 1), "write_8_chunks_s": round(write, 2), **latencies(search, questions)}


def bench_fts5(tokens: list[list[str]], new: list[list[str]], questions: list[list[str]], tmp: Path) -> dict:
    con = sqlite3.connect(tmp / "fts.sqlite", check_same_thread=False)
    con.execute("PRAGMA journal_mode=wal")
    con.execute("CREATE VIRTUAL TABLE fts USING fts5(body, tokenize='unicode61 remove_diacritics 0')")
    start = time.perf_counter()
    con.executemany("INSERT INTO fts(rowid, body) VALUES (?, ?)", ((i, " ".join(t)) for i, t in enumerate(tokens)))
    con.commit()
    build = time.perf_counter() - start
    start = time.perf_counter()
    con.executemany("INSERT INTO fts(rowid, body) VALUES (?, ?)",
                    ((len(tokens) + i, " ".join(t)) for i, t in enumerate(new)))
    con.commit()
    write = time.perf_counter() - start

    def search(q: list[str]) -> object:
        terms = [t for t in dict.fromkeys(q) if t.isalnum()]
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)
        return con.execute("SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY bm25(fts) LIMIT 60", (match,)).fetchall()

    return {"build_s": round(build, 1), "write_8_chunks_s": round(write, 3), **latencies(search, questions)}


def bench_newsbot(docs: list[str], new: list[str], questions: list[list[str]], tmp: Path) -> tuple[dict, dict]:
    """newsbot's index (vectorstore.lexical) and, on the same files, Tantivy's own ranking alone."""
    import tantivy

    from vectorstore.lexical import SCHEMA, LexicalIndex

    index = LexicalIndex(tmp / "tantivy")
    rows = [(f"c{i}", d, {"title": "", "n": i % 8, "article_id": f"a{i // 8}"}) for i, d in enumerate(docs)]
    start = time.perf_counter()
    snapshot = index.write(rows, [], commit_every=20_000)
    build = time.perf_counter() - start
    start = time.perf_counter()
    snapshot = index.write([(f"n{i}", d, {"title": ""}) for i, d in enumerate(new)], [])
    write = time.perf_counter() - start

    def raw(q: list[str]) -> object:
        words = [(tantivy.Occur.Should, tantivy.Query.term_query(SCHEMA, "body", t)) for t in dict.fromkeys(q)]
        return snapshot.searcher.search(tantivy.Query.boolean_query(words), 60, count=False).hits if words else []

    ours = {"build_s": round(build, 1), "write_8_chunks_s": round(write, 3),
            **latencies(lambda q: snapshot.search(q, 60), questions)}
    return ours, {"build_s": ours["build_s"], "write_8_chunks_s": ours["write_8_chunks_s"], **latencies(raw, questions)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100_000)
    args = parser.parse_args()
    from vectorstore.lexical import tokenize

    docs = chunks(args.chunks)
    new = chunks(8, seed=2)
    questions = tokenize([json.loads(line)["question"] for w in weeks() for line in (w / "questions.jsonl").open()])
    tokens, new_tokens = tokenize(docs), tokenize(new)
    with tempfile.TemporaryDirectory() as tmp:
        ours, raw = bench_newsbot(docs, new, questions, Path(tmp))
        rows = {"bm25s (before)": bench_bm25s(tokens, new_tokens, questions),
                "SQLite FTS5, bm25()": bench_fts5(tokens, new_tokens, questions, Path(tmp)),
                "Tantivy, its own BM25 (k1 1.2)": raw,
                "newsbot: Tantivy + bm25s scoring of its candidates": ours}
    print(f"## Lexical engines, {args.chunks} chunks, {len(questions)} questions (`python -m bench.lexical_engines`)\n")
    print("| engine | build s | one write of 8 chunks, visible (s) | top 60 p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['build_s']} | {r['write_8_chunks_s']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} |")
    print("\n" + json.dumps(rows))


if __name__ == "__main__":
    main()
