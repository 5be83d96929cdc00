"""Thumbs up/down on answers, appended to a JSONL file in the data directory."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

Rating = Literal["up", "down"]


class FeedbackLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()  # the API and the chat page write from different threads

    def append(self, rating: Rating, question: str, answer: str, citations: list[dict[str, Any]],
               **extra: Any) -> None:
        record = {"time": datetime.now(UTC).isoformat(timespec="seconds"), "rating": rating,
                  "question": question, "answer": answer, "citations": citations, **extra}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
