"""The ingest run: load → article → chunks + quotes → embed in batches → store.

Loading, cleaning and chunking run in a thread of their own, a few documents ahead of the
embedding: ONNX Runtime lets go of the GIL while it encodes, so the next pages are read meanwhile.
Classifying and writing stay in the calling thread, in order, so a killed run leaves what a
sequential one would."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
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
_READ_AHEAD = 64  # documents prepared ahead of the embedding
_DONE = object()


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
        self.embedder = embedder.matching(store.embedded_with())  # one store, one kind of vector
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

    def _prepared(self, item: RawDoc | Failure) -> Prepared | Failure:
        if isinstance(item, Failure):
            return item
        try:
            return self.prepare(item)
        except IngestError as exc:
            return Failure(item.origin, str(exc))
        except (ValueError, TypeError, LookupError, RecursionError, MemoryError) as exc:
            # a parser (trafilatura, lxml, dateparser) choking on one page must not lose the batch
            return Failure(item.origin, f"could not be read ({type(exc).__name__}: {exc})")

    def _read_ahead(self, loaded: Iterable[RawDoc | Failure]) -> Iterator[tuple[str, Prepared | Failure]]:
        """(origin, prepared document or failure) in the order loaded, prepared in a thread ahead."""
        ready: queue.Queue[Any] = queue.Queue(maxsize=_READ_AHEAD)
        stop = threading.Event()

        def put(value: Any) -> bool:
            while not stop.is_set():
                try:
                    ready.put(value, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def produce() -> None:
            try:
                for item in loaded:
                    if not put((item.origin, self._prepared(item))):
                        return
                put(_DONE)
            except BaseException as exc:  # handed to the caller's thread, raised there
                put(exc)

        worker = threading.Thread(target=produce, name="ingest-read", daemon=True)
        worker.start()
        try:
            while (value := ready.get()) is not _DONE:
                if isinstance(value, BaseException):
                    raise value
                yield value
        finally:
            stop.set()
            worker.join()

    def ingest_docs(self, loaded: Iterable[RawDoc | Failure], on_item: Callable[[str], None] | None = None) -> IngestSummary:
        summary = IngestSummary()
        pending: dict[str, Prepared] = {}
        pending_hashes: dict[str, str] = {}
        for origin, prepared in self._read_ahead(loaded):
            if on_item:
                on_item(origin)
            if isinstance(prepared, Failure):
                summary.failures.append(prepared)
                continue
            if not self._classify(prepared, pending, pending_hashes, summary):
                continue
            if sum(len(p.chunks) for p in pending.values()) >= _FLUSH_CHUNKS:
                self._flush(pending, summary)
                pending_hashes.clear()
        self._flush(pending, summary)
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
        self.store.record_embedder(self.embedder.precision)
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
