"""The lexical (BM25) and quote indexes derived from the Chroma collection: the names readers
use (`DerivedIndexes`, `tokenize`, `QuoteEntry`) and the one-shot entry points (the CLI, tests).
A long-lived process keeps its indexes in step through `HybridRetriever`, which owns an
`IndexKeeper` (vectorstore.index_keeper)."""

from __future__ import annotations

from pathlib import Path

from vectorstore.index_keeper import IndexKeeper
from vectorstore.index_snapshot import FORMAT, DerivedIndexes, Hit, QuoteEntry, tokenize
from vectorstore.store import NewsStore

__all__ = ["FORMAT", "DerivedIndexes", "Hit", "QuoteEntry", "build", "is_fresh", "load", "tokenize"]


def load(store: NewsStore, directory: Path | None) -> DerivedIndexes:
    """The saved index caught up with the collection (built first when missing or unreadable)."""
    return IndexKeeper(store, directory).open()


def build(store: NewsStore, directory: Path | None = None) -> DerivedIndexes:
    """A full rebuild from the collection, beside the saved index, swapped in when done."""
    return IndexKeeper(store, directory).rebuild()


def is_fresh(index: DerivedIndexes, store: NewsStore) -> bool:
    return index.stamp.get("generation") == store.generation() and index.n_chunks == store.count()
