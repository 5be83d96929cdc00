"""The Markdown report of an eval run: tables overall and per type, then the worst questions."""

from __future__ import annotations

from typing import Any

from chatbot.answer import quoted
from newsbot.evaluation.scorer import ItemResult, worst

_COLUMNS = ["questions", "hits@4", "hits@10", "mrr@10", "map@10", "fact_recall", "accuracy", "gold_recall@4",
            "citation_precision", "abstained_unanswerable", "answered_answerable", "retrieve_ms_p50",
            "retrieve_ms_p95", "answer_ms_p50", "answer_ms_p95"]


def _cell(value: Any) -> str:
    return "–" if value is None else str(value)


def shortened(text: str, limit: int) -> str:
    """`text` whole when it has at most `limit` characters; otherwise cut after the last whole word
    that fits, with "…" (the result still has at most `limit` characters)."""
    if len(text) <= limit:
        return text
    head = text[:limit - 1]
    if not text[limit - 1].isspace() and any(ch.isspace() for ch in head):
        head = head.rsplit(None, 1)[0]  # drop the word the limit falls inside
    return head.rstrip(" ,;:–—-") + "…"


def render(summary: dict[str, Any], results: list[ItemResult], title: str) -> str:
    rows = {"overall": summary["overall"], **summary["by_type"]}
    used = [c for c in _COLUMNS if any(r.get(c) is not None for r in rows.values())]
    lines = [f"# {title}", "", "| group | " + " | ".join(used) + " |", "|---" * (len(used) + 1) + "|"]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(_cell(row.get(c)) for c in used) + " |")
    bad = worst(results)
    if bad:
        lines += ["", "## Worst questions", ""]
        for r in bad:
            facts = [*r.item.facts, *(" / ".join(group) for group in r.item.any_facts)]
            expected = r.item.gold or ", ".join(facts) or ("(should abstain)" if not r.item.answerable else "")
            lines += [f"- **{r.item.question}**", f"  - expected: {expected}",
                      f"  - got: {shortened(r.answer.answer, 400)}"]
            for c in r.answer.citations:
                lines.append(f"  - [{c.n}] {c.title} — {quoted(shortened(c.quote, 160))}")
    return "\n".join(lines) + "\n"
