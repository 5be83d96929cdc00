"""`ask` latency (extractive) inside one process on a store of every RealTimeQA week together."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.common import p50_p95, timed_asks, weeks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path, default=None, help="reuse (or build) the combined store here")
    args = parser.parse_args()
    from chatbot.service import NewsBot
    from ingest.pipeline import Ingestor
    from ingest.sources import record_to_doc
    from newsbot.settings import load_settings

    settings = load_settings(data_dir=args.store or Path(tempfile.mkdtemp(prefix="rtqa-all-")))
    bot = NewsBot(settings)
    if bot.store.count() == 0:
        records = [json.loads(line) for w in weeks() for line in (w / "corpus.jsonl").open() if line.strip()]
        Ingestor(settings, bot.store, bot.embedder).ingest_docs(record_to_doc(r, f"all#{i}") for i, r in enumerate(records))
        bot.retriever.invalidate()
    start = time.perf_counter()
    bot.warm_up()
    warm_s = time.perf_counter() - start
    questions = [json.loads(line)["question"] for w in weeks() for line in (w / "questions.jsonl").open() if line.strip()]
    times = timed_asks(bot, questions)
    p50, p95 = p50_p95(times)
    print("## `ask` latency, extractive, one process\n")
    print(f"Store: every RealTimeQA week together ({bot.store.count()} chunks). Warm-up (model + indexes): {warm_s:.1f} s.\n")
    print(f"{len(times)} questions: p50 {p50} ms, p95 {p95} ms, max {times[-1]:.1f} ms")


if __name__ == "__main__":
    main()
