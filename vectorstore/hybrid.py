"""Hybrid retrieval: dense (Chroma) + lexical (BM25), fused by reciprocal rank, with
filters, per-article diversity and the quote index for "what did X say about Y".

The one retrieval path: the chatbot, `NewsRetriever` (LangChain) and the eval all use it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from vectorstore import indexes, people
from vectorstore.indexes import DerivedIndexes, QuoteEntry
from vectorstore.people import Speaker
from vectorstore.records import Passage
from vectorstore.store import NewsStore, day_number, passage_from

RRF_K = 60
_CANDIDATES = 60


@dataclass
class Filters:
    source: str | None = None
    date_from: str | None = None  # ISO dates, inclusive
    date_to: str | None = None
    article_id: str | None = None

    def where(self) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = []
        if self.source:
            clauses.append({"sources": {"$contains": self.source}})
        if self.article_id:
            clauses.append({"article_id": self.article_id})
        if self.date_from:
            clauses.append({"published_day": {"$gte": day_number(self.date_from)}})
        if self.date_to:
            clauses.append({"published_day": {"$lte": day_number(self.date_to)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def allows(self, meta: dict[str, Any]) -> bool:
        if self.source and self.source not in (meta.get("sources") or []):
            return False
        if self.article_id and meta.get("article_id") != self.article_id:
            return False
        day = int(meta.get("published_day", 0))
        if self.date_from and day < day_number(self.date_from):
            return False
        return not (self.date_to and day > day_number(self.date_to))

    @property
    def empty(self) -> bool:
        return not (self.source or self.date_from or self.date_to or self.article_id)


@dataclass
class Signals:
    """What each retriever thought of a passage (None: it was not among that retriever's candidates)."""

    dense_rank: int | None = None
    dense_sim: float | None = None
    lexical_rank: int | None = None


@dataclass
class Found:
    passages: list[Passage]
    speaker_quotes: list[QuoteEntry] = field(default_factory=list)  # the asked speaker's quotes, best first
    speaker_known: bool = True
    signals: dict[str, Signals] = field(default_factory=dict)  # by chunk id
    speakers: list[Speaker] = field(default_factory=list)  # the quoted people the question's speaker fits, best first
    speaker_passages: dict[str, Passage] = field(default_factory=dict)  # the chunks holding their quotes


class HybridRetriever:
    """Owns the derived indexes and keeps them in step with the collection."""

    def __init__(self, store: NewsStore, embedder: Embeddings, max_per_article: int = 3,
                 index_dir: Any = None, refresh_s: float = 2.0) -> None:
        self.store = store
        self.embedder = embedder
        self.max_per_article = max_per_article
        self.index_dir = index_dir
        self.refresh_s = refresh_s
        self._index: DerivedIndexes | None = None
        self._lock = threading.Lock()

    @property
    def index(self) -> DerivedIndexes:
        with self._lock:
            now = time.monotonic()
            if self._index is None:
                self._index = indexes.load(self.store, self.index_dir)
            elif now - self._index.checked_at > self.refresh_s:
                self._index.checked_at = now
                if not indexes.is_fresh(self._index, self.store):
                    self._index = indexes.load(self.store, self.index_dir)
            return self._index

    def invalidate(self) -> None:
        with self._lock:
            self._index = None

    def search(self, question: str, k: int = 10, filters: Filters | None = None, as_of: str | None = None,
               speaker: str | None = None, topic: str | None = None) -> Found:
        """The k best passages; with a speaker, that speaker's quotes ranked by the topic come first."""
        filters = filters or Filters()
        index = self.index
        vector = self.embedder.embed_query(question)
        dense = self.store.dense_search(vector, _CANDIDATES, filters.where())
        lexical = self._lexical(index, question, filters)
        fused = self._fuse(index, dense, lexical, as_of)
        found = Found([], signals=signals(index, dense, lexical))  # before _diverse overwrites scores
        if speaker:
            found.speakers = self._speakers(index, speaker, filters)
            found.speaker_known = bool(found.speakers)
            if found.speakers:
                found.speaker_quotes = self._ranked(index, found.speakers[0].quotes, topic, fused)
                found.speaker_passages = self._quote_passages(index, found.speakers, topic, fused)
            for pid in {index.ids[q.row] for q in found.speaker_quotes[:3]}:
                fused[pid] = fused.get(pid, 0.0) + 1.0 / RRF_K
        found.passages = self._diverse(index, fused, dense, k)
        return found

    def _lexical(self, index: DerivedIndexes, question: str, filters: Filters) -> list[tuple[int, float]]:
        scores = index.lexical_scores(question)
        if not filters.empty:
            mask = np.array([filters.allows(m) for m in index.metas], dtype=bool)
            scores = np.where(mask, scores, 0.0)
        if not scores.size:
            return []
        top = np.argsort(-scores)[:_CANDIDATES]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def _fuse(self, index: DerivedIndexes, dense: list[Passage], lexical: list[tuple[int, float]],
              as_of: str | None) -> dict[str, float]:
        fused: dict[str, float] = {}
        for rank, p in enumerate(dense):
            fused[p.chunk_id] = fused.get(p.chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        for rank, (row, _) in enumerate(lexical):
            cid = index.ids[row]
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
        if as_of:
            row_of = index.row_of
            for cid in fused:
                row = row_of.get(cid)
                if row is not None:
                    fused[cid] *= recency_weight(index.metas[row].get("published"), as_of)
        return fused

    def _speakers(self, index: DerivedIndexes, speaker: str, filters: Filters) -> list[Speaker]:
        """The people the question's speaker fits, each with the quotes the filters allow."""
        matched = []
        for person in people.match(speaker, index):
            person.quotes = [q for q in person.quotes if filters.allows(index.metas[q.row])]
            if person.quotes:
                matched.append(person)
        return matched

    def _quote_passages(self, index: DerivedIndexes, matched: list[Speaker], topic: str | None,
                        fused: dict[str, float], limit: int = 60) -> dict[str, Passage]:
        """The chunks holding the quotes of the best-fitting people, those most on the topic first (a person
        quoted in hundreds of chunks must not lose the quote asked about to the limit)."""
        quotes = self._ranked(index, [q for p in matched if p.score == matched[0].score for q in p.quotes], topic, fused)
        ids = list(dict.fromkeys(index.ids[q.row] for q in quotes))[:limit]
        return {p.chunk_id: p for p in self.store.get_passages(ids)}

    def _ranked(self, index: DerivedIndexes, quotes: list[QuoteEntry], topic: str | None,
                fused: dict[str, float]) -> list[QuoteEntry]:
        topic_terms = set(indexes.tokenize([topic])[0]) if topic else set()

        def relevance(q: QuoteEntry) -> float:
            words = set(indexes.tokenize([q.sentence])[0])
            overlap = len(topic_terms & words) / max(1, len(topic_terms))
            return overlap + 30 * fused.get(index.ids[q.row], 0.0) + 0.002 * min(len(q.text), 200)

        return sorted(quotes, key=relevance, reverse=True)

    def _diverse(self, index: DerivedIndexes, fused: dict[str, float], dense: list[Passage], k: int) -> list[Passage]:
        ranked = sorted(fused.items(), key=lambda kv: kv[1], reverse=True)
        known = {p.chunk_id: p for p in dense}
        row_of = index.row_of
        chosen: list[str] = []
        per_article: dict[str, int] = {}
        leftovers: list[str] = []
        for cid, _ in ranked:
            row = row_of.get(cid)
            if cid in known:
                article = known[cid].article_id
            else:
                article = index.metas[row].get("article_id", cid) if row is not None else cid
            if per_article.get(article, 0) >= self.max_per_article:
                leftovers.append(cid)
                continue
            per_article[article] = per_article.get(article, 0) + 1
            chosen.append(cid)
            if len(chosen) == k:
                break
        chosen += leftovers[: k - len(chosen)]  # one article is all there is: fill from it
        passages = []
        for cid in chosen:
            if cid in known:
                p = known[cid]
            elif cid in row_of:
                p = passage_from(cid, "", index.metas[row_of[cid]])
            else:
                continue
            p.score = fused[cid]
            passages.append(p)
        self._fill_texts(passages)
        return passages

    def _fill_texts(self, passages: list[Passage]) -> None:
        missing = [p.chunk_id for p in passages if not p.text]
        if missing:
            by_id = {p.chunk_id: p for p in self.store.get_passages(missing)}
            for p in passages:
                if not p.text and p.chunk_id in by_id:
                    p.text = by_id[p.chunk_id].text


def signals(index: DerivedIndexes, dense: list[Passage], lexical: list[tuple[int, float]]) -> dict[str, Signals]:
    out: dict[str, Signals] = {}
    for rank, p in enumerate(dense):
        out[p.chunk_id] = Signals(rank, p.score)
    for rank, (row, _) in enumerate(lexical):
        out.setdefault(index.ids[row], Signals()).lexical_rank = rank
    return out


def recency_weight(published: str | None, as_of: str) -> float:
    """A mild preference for the days before the question: news quizzes ask about the past week,
    but the pages that answer them are often older background pieces (measured on RealTimeQA)."""
    if not published:
        return 1.0
    try:
        delta = (date.fromisoformat(as_of) - date.fromisoformat(published[:10])).days
    except ValueError:
        return 1.0
    if delta < -1:
        return 0.7
    return 1.3 if delta <= 10 else 1.0

