"""Helpers shared by the benchmark scripts (not part of the product)."""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path

SHARED = Path(os.environ.get("NEWSBOT_SHARED", Path(__file__).resolve().parents[2] / "shared"))
RTQA = SHARED / "data" / "realtimeqa"


class DataMissing(SystemExit):
    pass


def weeks() -> list[Path]:
    """The RealTimeQA week folders; NEWSBOT_SHARED points elsewhere when shared/ is not beside the repo."""
    found = sorted(p for p in RTQA.iterdir() if (p / "corpus.jsonl").exists()) if RTQA.is_dir() else []
    if not found:
        raise DataMissing(f"skipped: no RealTimeQA weeks under {RTQA} (set NEWSBOT_SHARED to the shared/ folder)")
    return found


def corpus_records(limit: int | None = None) -> list[dict]:
    rows = [json.loads(line) for w in weeks() for line in (w / "corpus.jsonl").open(encoding="utf-8") if line.strip()]
    return rows[:limit] if limit else rows


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_asks(bot, questions: list[str]) -> list[float]:  # noqa: ANN001 - a chatbot.service.NewsBot
    """Milliseconds per `bot.ask`, sorted."""
    import time

    times = []
    for question in questions:
        start = time.perf_counter()
        bot.ask(question)
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)


def p50_p95(sorted_ms: list[float]) -> tuple[float, float]:
    return round(sorted_ms[len(sorted_ms) // 2], 1), round(sorted_ms[int(0.95 * (len(sorted_ms) - 1))], 1)
