"""Score answers against known facts: retrieval, answers, citations, abstention, latency."""

from __future__ import annotations

import re
import statistics
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chatbot.answer import Answer
from chatbot.service import NewsBot
from newsbot.evaluation.qa_formats import QAItem
from vectorstore.indexes import tokenize

_NUMBER_WORDS = {w: str(n) for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}


def norm(text: str) -> str:
    """Case, punctuation, accents and number format insensitive form ("Four" and "4" are one)."""
    # Accents go; any other non-ASCII mark is a word break, so "Biden’s" reads as "Biden's" does.
    text = "".join(c if c.isascii() else " " for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c)).lower()
    text = re.sub(r"(?<=\d)[,.](?=\d{3}\b)", "", text)
    return " ".join(_NUMBER_WORDS.get(w, w) for w in re.sub(r"[^\w%$]+", " ", text).split())


def contains(haystack: str, needle: str) -> bool:
    n = norm(needle)
    return bool(n) and f" {n} " in f" {norm(haystack)} "


@dataclass
class ItemResult:
    item: QAItem
    answer: Answer
    retrieved_ids: list[str]
    relevant_ranks: list[int]
    retrieve_ms: float
    answer_ms: float
    fact_recall: float | None = None
    correct: bool | None = None  # RealTimeQA: gold in, no other choice
    gold_in_top4: bool | None = None
    citation_ok: list[bool] = field(default_factory=list)


def _fact_recall(item: QAItem, text: str) -> float | None:
    checks = [contains(text, f) for f in item.facts] + [any(contains(text, f) for f in g) for g in item.any_facts]
    return sum(checks) / len(checks) if checks else None


def _choice_correct(item: QAItem, text: str) -> bool:
    others = [c for c in item.choices if c != item.gold and not contains(item.gold or "", c)]
    return contains(text, item.gold or "") and not any(contains(text, c) for c in others)


def _sentence_with(text: str, marker: str) -> str:
    for sentence in re.split(r"(?<=\])\s+", text):
        if marker in sentence:
            return sentence
    return ""


def citation_checks(answer: Answer, chunk_texts: dict[str, str]) -> list[bool]:
    """A citation holds when its quote is verbatim in the chunk and shares the claim citing it."""
    results = []
    for c in answer.citations:
        verbatim = c.quote in chunk_texts.get(c.chunk_id, "")
        claim = set(tokenize([_sentence_with(answer.answer, f"[{c.n}]")])[0])
        quote = set(tokenize([c.quote])[0])
        shared = len(claim & quote) / max(1, min(len(claim), len(quote)))
        results.append(verbatim and shared >= 0.5)
    return results


def run_item(bot: NewsBot, item: QAItem, k: int, llm: str | None) -> ItemResult:
    from chatbot.condense import condense

    t0 = time.perf_counter()
    standalone = condense(item.question, item.history)
    retrieved = bot.retrieve(standalone, k, as_of=item.question_date)
    t1 = time.perf_counter()
    answer = bot.ask(item.question, history=item.history, k=k, llm=llm, retrieved=retrieved)
    t2 = time.perf_counter()
    ids = [p.chunk_id for p in retrieved.passages]
    texts = {p.chunk_id: p.text for p in retrieved.passages}
    ranks = [i for i, p in enumerate(retrieved.passages, 1) if any(contains(p.text, e) for e in item.evidence)]
    result = ItemResult(item, answer, ids, ranks, (t1 - t0) * 1000, (t2 - t1) * 1000)
    result.fact_recall = _fact_recall(item, answer.answer) if item.answerable else None
    if item.choices:
        result.correct = _choice_correct(item, answer.answer)
        result.gold_in_top4 = any(contains(p.text, item.gold or "") for p in retrieved.passages[:4])
    missing = [c.chunk_id for c in answer.citations if c.chunk_id not in texts]
    texts.update({p.chunk_id: p.text for p in bot.store.get_passages(missing)})
    result.citation_ok = citation_checks(answer, texts)
    return result


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def summarise(results: list[ItemResult]) -> dict[str, Any]:
    with_evidence = [r for r in results if r.item.evidence]

    def ap(r: ItemResult) -> float:
        hits, total = 0, 0.0
        for rank in range(1, min(10, len(r.retrieved_ids)) + 1):
            if rank in r.relevant_ranks:
                hits += 1
                total += hits / rank
        return total / max(1, len(r.relevant_ranks))

    answerable = [r for r in results if r.item.answerable]
    unanswerable = [r for r in results if not r.item.answerable]
    citations = [ok for r in results for ok in r.citation_ok]
    return {
        "questions": len(results),
        "hits@4": _mean([float(any(x <= 4 for x in r.relevant_ranks)) for r in with_evidence]),
        "hits@10": _mean([float(any(x <= 10 for x in r.relevant_ranks)) for r in with_evidence]),
        "mrr@10": _mean([1.0 / min(r.relevant_ranks) if r.relevant_ranks else 0.0 for r in with_evidence]),
        "map@10": _mean([ap(r) for r in with_evidence]),
        "fact_recall": _mean([r.fact_recall for r in answerable if r.fact_recall is not None]),
        "accuracy": _mean([float(r.correct) for r in results if r.correct is not None]),
        "gold_recall@4": _mean([float(r.gold_in_top4) for r in results if r.gold_in_top4 is not None]),
        "citation_precision": _mean([float(ok) for ok in citations]),
        "abstained_unanswerable": _mean([float(r.answer.abstained) for r in unanswerable]),
        "answered_answerable": _mean([float(not r.answer.abstained) for r in answerable]),
        "abstention_rate": _mean([float(r.answer.abstained) for r in results]),
        "retrieve_ms_p50": _pct([r.retrieve_ms for r in results], 0.5),
        "retrieve_ms_p95": _pct([r.retrieve_ms for r in results], 0.95),
        "answer_ms_p50": _pct([r.answer_ms for r in results], 0.5),
        "answer_ms_p95": _pct([r.answer_ms for r in results], 0.95),
    }


def evaluate(bot: NewsBot, items: list[QAItem], k: int, llm: str | None = None,
             progress: Callable[[], None] | None = None) -> tuple[dict[str, Any], list[ItemResult]]:
    results = []
    for item in items:
        results.append(run_item(bot, item, k, llm))
        if progress:
            progress()
    overall = summarise(results)
    types = sorted({r.item.type for r in results})
    by_type = {t: summarise([r for r in results if r.item.type == t]) for t in types} if len(types) > 1 else {}
    return {"overall": overall, "by_type": by_type}, results


def worst(results: list[ItemResult], n: int = 10) -> list[ItemResult]:
    def badness(r: ItemResult) -> float:
        if r.correct is not None:
            return 0.0 if r.correct else 1.0
        if not r.item.answerable:
            return 0.0 if r.answer.abstained else 1.0
        return 1.0 - (r.fact_recall if r.fact_recall is not None else 1.0)

    return [r for r in sorted(results, key=badness, reverse=True) if badness(r) > 0][:n]
