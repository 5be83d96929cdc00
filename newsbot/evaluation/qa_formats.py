"""QA files for `newsbot eval`: our own JSONL, RealTimeQA and MultiHop-RAG, read unchanged."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class QAItem:
    id: str
    question: str
    facts: list[str] = field(default_factory=list)
    any_facts: list[list[str]] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    answerable: bool = True
    type: str = "all"
    history: list[dict[str, str]] | None = None
    question_date: str | None = None
    choices: list[str] = field(default_factory=list)
    gold: str | None = None


class QAFormatError(ValueError):
    pass


def _from_record(row: dict[str, Any], n: int) -> QAItem:
    if "query" in row and "answer" in row:  # MultiHop-RAG
        answer = str(row["answer"])
        evidence = [e.get("fact", "") for e in row.get("evidence_list") or [] if isinstance(e, dict)]
        return QAItem(str(row.get("id", n)), str(row["query"]), facts=[answer],
                      evidence=[e for e in evidence if e], answerable=answer.lower() != "insufficient information.",
                      type=str(row.get("question_type", "all")))
    if "question" not in row or not isinstance(row["question"], str):
        raise QAFormatError(f"line {n}: needs a text `question` (or MultiHop-RAG `query`)")
    if "choices" in row and "gold" in row:  # RealTimeQA
        return QAItem(str(row.get("question_id", n)), row["question"], choices=[str(c) for c in row["choices"]],
                      gold=str(row["gold"]), question_date=row.get("question_date"), type=str(row.get("type", "realtimeqa")))
    return QAItem(
        str(row.get("id", row.get("question_id", n))), row["question"], facts=list(row.get("facts") or []),
        any_facts=[list(g) for g in row.get("any_facts") or []], evidence=list(row.get("evidence") or []),
        answerable=bool(row.get("answerable", True)), type=str(row.get("type", "all")), history=row.get("history"),
        question_date=row.get("question_date"),
    )


def load_qa(path: Path) -> list[QAItem]:
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        rows = json.loads(text)
    else:
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise QAFormatError(f"{path}:{n}: invalid JSON ({exc.msg})") from None
    return [_from_record(row, n) for n, row in enumerate(rows, 1)]
