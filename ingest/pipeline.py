"""The ingest run: load → article → chunks + quotes → embed in batches → store."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ingest.article import build_article
from ingest.chunk import chunk_text, get_encoding
from ingest.errors import IngestError
from ingest.fetch import UrlPolicy
from ingest.people import attribute
from ingest.raw import Failure, RawDoc
from ingest.sources import iter_sources
from models.embeddings import NewsEmbeddings
from vectorstore.records import Article, Chunk, Quote
from vectorstore.store import NewsStore

_FLUSH_CHUNKS = 256


@dataclass
class IngestSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    merged: int = 0  # the same story from another outlet: recorded as a second source
    chunks: int = 0
    tokens: int = 0
    failures: list[Failure] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)

    def line(self) -> str:
        return (f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.merged} merged, {self.failed} failed ({self.chunks} chunks, {self.tokens} tokens)")

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged,
                "merged": self.merged, "failed": self.failed, "chunks": self.chunks,
                "tokens": self.tokens, "failures": [str(f) for f in self.failures]}


@dataclass
class Prepared:
    article: Article
    chunks: list[Chunk]
    quotes: list[Quote]
    is_update: bool = False


def embedding_text(article: Article, chunk: Chunk) -> str:
    """What the model sees: the passage with its headline and date as context."""
    head = article.title + (f" ({article.published})" if article.published else "")
    return f"{head}\n{chunk.text}"


class Ingestor:
    def __init__(self, settings: Any, store: NewsStore, embedder: NewsEmbeddings) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.encoding = get_encoding(settings.tokenizer)

    def prepare(self, raw: RawDoc) -> Prepared:
        article = build_article(raw)
        chunks = chunk_text(article.id, article.text, self.encoding,
                            self.settings.chunk_tokens, self.settings.chunk_overlap_tokens)
        if not chunks:
            raise IngestError("no sentences to store")
        quotes = []
        found = attribute(article.text)
        for q in found.quotes:
            holder = next((c for c in chunks if c.start <= q.start and q.end <= c.end), None)
            if holder is not None:
                quotes.append(Quote(q.speaker, q.text, article.text[q.start:q.end], holder.id, article.id,
                                    found.roles(q.speaker)))
        return Prepared(article, chunks, quotes)

    def run(self, sources: list[str], on_item: Callable[[str], None] | None = None) -> IngestSummary:
        s = self.settings
        loaded = iter_sources(sources, s.max_file_bytes, s.max_decompressed_bytes, s.fetch_timeout_s,
                              UrlPolicy.from_settings(s))
        return self.ingest_docs(loaded, on_item)

    def ingest_docs(self, loaded: Iterable[RawDoc | Failure], on_item: Callable[[str], None] | None = None) -> IngestSummary:
        summary = IngestSummary()
        pending: dict[str, Prepared] = {}
        pending_hashes: dict[str, str] = {}
        bumped = False
        for item in loaded:
            if on_item:
                on_item(item.origin)
            if isinstance(item, Failure):
                summary.failures.append(item)
                continue
            try:
                prepared = self.prepare(item)
            except IngestError as exc:
                summary.failures.append(Failure(item.origin, str(exc)))
                continue
            except (ValueError, TypeError, LookupError, RecursionError, MemoryError) as exc:
                # a parser (trafilatura, lxml, dateparser) choking on one page must not lose the batch
                summary.failures.append(Failure(item.origin, f"could not be read ({type(exc).__name__}: {exc})"))
                continue
            if not self._classify(prepared, pending, pending_hashes, summary):
                continue
            if not bumped:
                self.store.bump_generation()  # derived indexes are stale from the first write on
                bumped = True
            if sum(len(p.chunks) for p in pending.values()) >= _FLUSH_CHUNKS:
                self._flush(pending, summary)
                pending_hashes.clear()
        self._flush(pending, summary)
        if bumped:
            self.store.bump_generation()
        return summary

    def _classify(self, p: Prepared, pending: dict[str, Prepared], pending_hashes: dict[str, str],
                  summary: IngestSummary) -> bool:
        """True when the article needs writing; counts unchanged and merged copies."""
        a = p.article
        pending_twin = pending.get(pending_hashes.get(a.content_hash, a.id))
        if pending_twin is not None and pending_twin.article.id != a.id:  # the same wire story, earlier in this run
            if a.source and a.source not in pending_twin.article.sources:
                pending_twin.article.sources.append(a.source)
                summary.merged += 1
            else:
                summary.unchanged += 1
            return False
        if a.id in pending:
            summary.unchanged += 1
            return False
        state = self.store.article_state(a.id)
        if state and state == (a.content_hash, True):
            summary.unchanged += 1
            return False
        twin = self.store.find_by_hash(a.content_hash)
        if twin and twin != a.id:
            stored = self.store.article(twin)
            if a.source and stored and a.source not in stored.sources:
                self.store.add_source(twin, a.source)
                self.store.bump_generation()
                summary.merged += 1
            else:
                summary.unchanged += 1
            return False
        p.is_update = state is not None
        pending[a.id] = p
        pending_hashes[a.content_hash] = a.id
        return True

    def _flush(self, pending: dict[str, Prepared], summary: IngestSummary) -> None:
        if not pending:
            return
        items = list(pending.values())
        texts = [embedding_text(p.article, c) for p in items for c in p.chunks]
        vectors = self.embedder.embed_documents(texts)
        batch, offset = [], 0
        for p in items:
            batch.append((p.article, p.chunks, p.quotes, vectors[offset : offset + len(p.chunks)]))
            offset += len(p.chunks)
        self.store.write(batch)
        for p in items:
            summary.updated += p.is_update
            summary.added += not p.is_update
            summary.chunks += len(p.chunks)
            summary.tokens += sum(c.n_tokens for c in p.chunks)
        pending.clear()
