"""What a reader sees of the derived indexes: one snapshot (`DerivedIndexes`), a committed state
of the Tantivy index (vectorstore.lexical) with the quote index and the outlets of the same moment.
It never changes; the worker's `IndexKeeper` (vectorstore.index_keeper) makes the next one from
what was written since, and the retriever swaps it in, so a question is answered from one
consistent state and never waits for a write.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from vectorstore.lexical import Hit, LexicalSnapshot, tokenize
from vectorstore.quote_index import QuoteEntry

__all__ = ["FORMAT", "DerivedIndexes", "DocFreq", "Hit", "QuoteEntry", "tokenize"]

# 4: Tantivy with the words stored for rescoring, caught up by write numbers (2: bm25s);
# 5: quotes filed by the speaker's full name, with the roles the article gives them
FORMAT = 5


class DocFreq(Mapping[str, int]):
    """word -> chunks holding it, read from the snapshot (only words some chunk holds are keys)."""

    def __init__(self, lexical: LexicalSnapshot) -> None:
        self._lexical = lexical

    def __getitem__(self, term: str) -> int:
        n = self._lexical.doc_freq(term) if isinstance(term, str) and term else 0
        if not n:
            raise KeyError(term)
        return n

    def __iter__(self) -> Iterator[str]:
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)

    @cached_property
    def _all(self) -> dict[str, int]:  # every word: for checks and tools, it reads the whole dictionary
        import tantivy

        if not self._lexical.n_docs:
            return {}
        terms = self._lexical.searcher.terms_with_prefix("body", "", filter_query=tantivy.Query.all_query())
        return {term: int(n) for term, n in terms if n}


@dataclass(frozen=True, eq=False)
class DerivedIndexes:
    lexical: LexicalSnapshot
    quotes: Mapping[str, tuple[QuoteEntry, ...]]  # by speaker, as attributed (see vectorstore.people)
    outlet_names: tuple[str, ...]
    stamp: dict[str, int] = field(default_factory=dict)  # generation seen, chunks held, format

    # -- what answering reads ------------------------------------------------------------------
    def lexical_top(self, query: str, k: int, source: str | None = None, article_id: str | None = None,
                    day_from: int | None = None, day_to: int | None = None) -> list[Hit]:
        """The k best chunks by BM25 for the question's words, within the filters."""
        return self.lexical.search(tokenize([query])[0], k, source, article_id, day_from, day_to)

    @cached_property
    def doc_freq(self) -> DocFreq:
        return DocFreq(self.lexical)

    def idf(self, term: str) -> float:
        n = max(1, self.n_chunks)
        df = self.doc_freq.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    @property
    def n_chunks(self) -> int:
        return self.lexical.n_docs

    @cached_property
    def n_articles(self) -> int:
        return self.lexical.count("lead", 1)

    def outlets(self) -> list[str]:
        """The outlets of the stored articles, sorted."""
        return list(self.outlet_names)

    def meta(self, chunk_id: str) -> dict[str, Any] | None:
        hit = self.lexical.get(chunk_id)
        return hit.meta if hit else None

    def newest_articles(self, n: int) -> list[dict[str, Any]]:
        """The first chunk's metadata of the n most recent articles."""
        return [hit.meta for hit in self.lexical.where("lead", 1, limit=n, newest_first=True)]

    # -- whole-store views, for tools and checks (each reads every chunk once) ----------------
    @cached_property
    def _rows(self) -> list[tuple[str, dict[str, Any]]]:
        return sorted(((hit.chunk_id, hit.meta) for hit in self.lexical.all()), key=lambda row: row[0])

    @property
    def ids(self) -> list[str]:
        return [cid for cid, _ in self._rows]

    @property
    def metas(self) -> list[dict[str, Any]]:
        return [meta for _, meta in self._rows]

    @cached_property
    def row_of(self) -> dict[str, int]:
        return {cid: i for i, (cid, _) in enumerate(self._rows)}

    def lexical_scores(self, query: str) -> np.ndarray:
        """BM25 of every chunk, in the order of `ids` (for checks; answering uses `lexical_top`)."""
        scores = np.zeros(self.n_chunks, dtype=np.float32)
        for hit in self.lexical_top(query, self.n_chunks):
            scores[self.row_of[hit.chunk_id]] = hit.score
        return scores
