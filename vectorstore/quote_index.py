"""The quote index: who said what, by the speaker's name as attributed, kept chunk by chunk
(`vectorstore.people` groups the names into people and matches a question's description).

`quote_entries` is the one place that reads quotes out of a chunk's stored metadata; the rest
only files and replaces what it returns, so what a stored quote carries can grow there alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_SCOPE = ("article_id", "sources", "published_day", "published", "title", "source")  # for filters and "quoted in"


@dataclass(frozen=True)
class QuoteEntry:
    speaker: str
    text: str
    sentence: str
    chunk_id: str
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)  # the chunk's article, date, outlets
    roles: tuple[str, ...] = ()  # how the article describes the speaker ("French President")

    @property
    def published(self) -> str:
        """The article's date, for newest-first answers."""
        return str(self.meta.get("published") or "")


def quote_entries(chunk_id: str, meta: Mapping[str, Any]) -> list[tuple[str, QuoteEntry]]:
    """(speaker, entry) for each quote stored with a chunk."""
    quotes = json.loads(meta.get("quotes") or "[]")
    if not quotes:
        return []
    scope = {k: meta[k] for k in _SCOPE if k in meta}
    return [(q["speaker"], QuoteEntry(q["speaker"], q["text"], q["sentence"], chunk_id, scope,
                                      tuple(q.get("roles") or ())))
            for q in quotes if str(q.get("speaker", "")).strip()]


class QuoteBook:
    """The writer's side: entries per chunk, so a change replaces only that chunk's quotes, and a
    published mapping that is replaced (never changed in place) for readers."""

    def __init__(self) -> None:
        self._of_chunk: dict[str, list[tuple[str, QuoteEntry]]] = {}
        self._chunks_of_key: dict[str, set[str]] = {}
        self._touched: set[str] = set()
        self.published: Mapping[str, tuple[QuoteEntry, ...]] = {}

    def put(self, chunk_id: str, meta: Mapping[str, Any] | None) -> None:
        """The chunk's quotes now (None: the chunk is gone)."""
        for key, _ in self._of_chunk.pop(chunk_id, []):
            self._chunks_of_key.get(key, set()).discard(chunk_id)
            self._touched.add(key)
        entries = quote_entries(chunk_id, meta) if meta is not None else []
        if entries:
            self._of_chunk[chunk_id] = entries
            for key, _ in entries:
                self._chunks_of_key.setdefault(key, set()).add(chunk_id)
                self._touched.add(key)

    def publish(self) -> Mapping[str, tuple[QuoteEntry, ...]]:
        """A new mapping with the touched speakers' entries rebuilt (by chunk id, then as stored)."""
        if not self._touched:
            return self.published
        published = dict(self.published)
        for key in self._touched:
            chunks = sorted(self._chunks_of_key.get(key, ()))
            entries = tuple(e for cid in chunks for k, e in self._of_chunk[cid] if k == key)
            if entries:
                published[key] = entries
            else:
                published.pop(key, None)
                self._chunks_of_key.pop(key, None)
        self._touched.clear()
        self.published = published
        return published
