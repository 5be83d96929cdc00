"""Hybrid retrieval: dense (Chroma) + lexical (BM25), fused by reciprocal rank, with
filters, per-article diversity and the quote index for "what did X say about Y".

The one retrieval path: the chatbot, `NewsRetriever` (LangChain) and the eval all use it."""

from __future__ import annotations

import atexit
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from langchain_core.embeddings import Embeddings

from vectorstore import indexes, people
from vectorstore.index_keeper import IndexKeeper
from vectorstore.indexes import DerivedIndexes, Hit, QuoteEntry
from vectorstore.people import Speaker
from vectorstore.records import Passage
from vectorstore.store import NewsStore, day_number, passage_from

log = logging.getLogger(__name__)

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
    """Owns the derived indexes and keeps them in step with the collection.

    A question reads the snapshot in use; catching up with writes happens beside it (in a
    background thread at most every `refresh_s`, or in the writer's thread through `catch_up`)
    and swaps the next snapshot in, so no question waits for a write."""

    def __init__(self, store: NewsStore, embedder: Embeddings, max_per_article: int = 3,
                 index_dir: Any = None, refresh_s: float = 1.0) -> None:
        self.store = store
        self.embedder = embedder
        self.max_per_article = max_per_article
        self.index_dir = index_dir
        self.refresh_s = refresh_s
        self.keeper = IndexKeeper(store, index_dir)
        self._index: DerivedIndexes | None = None
        self._opening = threading.Lock()
        self._refreshing = threading.Lock()
        self._checked = 0.0
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None

    @property
    def index(self) -> DerivedIndexes:
        index = self._index
        if index is None:
            with self._opening:
                if self._index is None:
                    self._index = self.keeper.open()
                    self._checked = time.monotonic()
                return self._index
        if self._follower is None and time.monotonic() - self._checked > self.refresh_s \
                and not self._refreshing.locked():
            self._checked = time.monotonic()
            threading.Thread(target=self.refresh, name="index-refresh").start()
        return index

    def refresh(self) -> None:
        """Catch up with the collection once, unless a catch-up is already running; never raises."""
        if not self._refreshing.acquire(blocking=False):
            return
        try:
            self._index = self.keeper.refresh() or self._index
        except Exception:  # the store may be away for a moment: keep answering from the snapshot held
            log.exception("catching up with the collection failed; answering from the index held")
        finally:
            self._refreshing.release()

    def catch_up(self) -> DerivedIndexes:
        """Apply every write made so far, now (for the process that just wrote)."""
        with self._opening:
            self._index = self.keeper.catch_up()
            return self._index

    def follow(self, every_s: float | None = None) -> None:
        """Keep in step in a background thread, questions or none (a server does)."""
        if self._follower is not None:
            return
        interval = every_s or self.refresh_s

        def loop() -> None:
            while not self._stop.wait(interval):
                self.refresh()

        self._follower = threading.Thread(target=loop, name="index-follow", daemon=True)
        self._follower.start()
        atexit.register(self.stop_following)

    def stop_following(self) -> None:
        self._stop.set()
        if self._follower is not None:
            self._follower.join(timeout=60)

    def invalidate(self) -> None:
        """Forget the snapshot: the next question waits for one caught up with every write so far."""
        with self._opening:
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
                found.speaker_quotes = self._ranked(found.speakers[0].quotes, topic, fused)
                found.speaker_passages = self._quote_passages(found.speakers, topic, fused)
            for pid in {q.chunk_id for q in found.speaker_quotes[:3]}:
                fused[pid] = fused.get(pid, 0.0) + 1.0 / RRF_K
        found.passages = self._diverse(index, fused, dense, lexical, k)
        return found

    def _lexical(self, index: DerivedIndexes, question: str, filters: Filters) -> list[Hit]:
        day_from = day_number(filters.date_from) if filters.date_from else None
        day_to = day_number(filters.date_to) if filters.date_to else None
        hits = index.lexical_top(question, _CANDIDATES, filters.source, filters.article_id, day_from, day_to)
        return [h for h in hits if h.score > 0]

    def _fuse(self, index: DerivedIndexes, dense: list[Passage], lexical: list[Hit],
              as_of: str | None) -> dict[str, float]:
        fused: dict[str, float] = {}
        published: dict[str, str | None] = {}
        for rank, p in enumerate(dense):
            fused[p.chunk_id] = fused.get(p.chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
            published[p.chunk_id] = p.published
        for rank, hit in enumerate(lexical):
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
            published[hit.chunk_id] = hit.meta.get("published")
        if as_of:
            for cid in fused:
                fused[cid] *= recency_weight(published.get(cid), as_of)
        return fused

    def _speakers(self, index: DerivedIndexes, speaker: str, filters: Filters) -> list[Speaker]:
        """The people the question's speaker fits, each with the quotes the filters allow."""
        matched = []
        for person in people.match(speaker, index):
            person.quotes = [q for q in person.quotes if filters.allows(q.meta)]
            if person.quotes:
                matched.append(person)
        return matched

    def _quote_passages(self, matched: list[Speaker], topic: str | None, fused: dict[str, float],
                        limit: int = 60) -> dict[str, Passage]:
        """The chunks holding the quotes of the best-fitting people, those most on the topic first (a person
        quoted in hundreds of chunks must not lose the quote asked about to the limit)."""
        quotes = self._ranked([q for p in matched if p.score == matched[0].score for q in p.quotes], topic, fused)
        ids = list(dict.fromkeys(q.chunk_id for q in quotes))[:limit]
        return {p.chunk_id: p for p in self.store.get_passages(ids)}

    @staticmethod
    def _ranked(quotes: list[QuoteEntry], topic: str | None, fused: dict[str, float]) -> list[QuoteEntry]:
        topic_terms = set(indexes.tokenize([topic])[0]) if topic else set()

        def relevance(q: QuoteEntry) -> float:
            words = set(indexes.tokenize([q.sentence])[0])
            overlap = len(topic_terms & words) / max(1, len(topic_terms))
            return overlap + 30 * fused.get(q.chunk_id, 0.0) + 0.002 * min(len(q.text), 200)

        return sorted(quotes, key=relevance, reverse=True)

    def _diverse(self, index: DerivedIndexes, fused: dict[str, float], dense: list[Passage], lexical: list[Hit],
                 k: int) -> list[Passage]:
        ranked = sorted(fused.items(), key=lambda kv: kv[1], reverse=True)
        known = {p.chunk_id: p for p in dense}
        metas: dict[str, dict[str, Any]] = {hit.chunk_id: hit.meta for hit in lexical}
        for cid in fused.keys() - known.keys() - metas.keys():  # a speaker's quote neither retriever found
            meta = index.meta(cid)
            if meta is not None:
                metas[cid] = meta
        chosen: list[str] = []
        per_article: dict[str, int] = {}
        leftovers: list[str] = []
        for cid, _ in ranked:
            if cid in known:
                article = known[cid].article_id
            else:
                article = metas[cid].get("article_id", cid) if cid in metas else cid
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
            elif cid in metas:
                p = passage_from(cid, "", metas[cid])
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


def signals(index: DerivedIndexes, dense: list[Passage], lexical: list[Hit]) -> dict[str, Signals]:
    out: dict[str, Signals] = {}
    for rank, p in enumerate(dense):
        out[p.chunk_id] = Signals(rank, p.score)
    for rank, hit in enumerate(lexical):
        out.setdefault(hit.chunk_id, Signals()).lexical_rank = rank
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

