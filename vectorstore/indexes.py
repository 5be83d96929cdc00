"""The lexical (BM25) and quote indexes, derived from the Chroma collection.

They are rebuilt from the collection whenever its generation or size differs from the
stamp saved beside them, so they follow ingests, updates and deletes (also those made by
another worker through a shared Chroma server) and survive restarts. A saved index is also
checked against the chunks' ids and content hashes: one saved by a reader in the middle of an
ingest that was then killed before its last generation bump is not mistaken for current.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from vectorstore.store import NewsStore

_STOPWORDS = "english"
_TOKEN = r"(?u)\b\w+\b"

def _stemmer() -> Any:
    try:
        import Stemmer

        return Stemmer.Stemmer("english")
    except ImportError:  # pragma: no cover - PyStemmer is a core dependency
        return None

_STEMMER = _stemmer()

def tokenize(texts: list[str]) -> list[list[str]]:
    return bm25s.tokenize(texts, token_pattern=_TOKEN, stopwords=_STOPWORDS, stemmer=_STEMMER,
                          return_ids=False, show_progress=False)

@dataclass
class QuoteEntry:
    speaker: str
    text: str
    sentence: str
    row: int  # index into DerivedIndexes.ids
    roles: tuple[str, ...] = ()  # how the article describes the speaker ("French President")
    published: str = ""  # the article's date, for newest-first answers

@dataclass
class DerivedIndexes:
    ids: list[str]
    metas: list[dict[str, Any]]
    bm25: bm25s.BM25 | None
    stamp: dict[str, int]
    quotes: dict[str, list[QuoteEntry]] = field(default_factory=dict)  # by speaker (see vectorstore.people)
    checked_at: float = 0.0
    row_of: dict[str, int] = field(default_factory=dict)
    doc_freq: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.row_of = {cid: i for i, cid in enumerate(self.ids)}

    def lexical_scores(self, query: str) -> np.ndarray:
        if self.bm25 is None or not self.ids:
            return np.zeros(len(self.ids), dtype=np.float32)
        tokens = [t for t in tokenize([query])[0] if t in self.bm25.vocab_dict]
        if not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(tokens), dtype=np.float32)

    def idf(self, term: str) -> float:
        n = max(1, len(self.ids))
        return math.log(1 + (n - self.doc_freq.get(term, 0) + 0.5) / (self.doc_freq.get(term, 0) + 0.5))

    def outlets(self) -> list[str]:
        """The outlets of the stored articles, sorted (every chunk of an article carries them all)."""
        return sorted({s for meta in self.metas if meta.get("n") == 0 for s in meta.get("sources") or []})

_FORMAT = 3  # 2: the headline is part of each chunk's lexical document; 3: quotes by speaker, with roles


def _stamp(store: NewsStore) -> dict[str, int]:
    return {"generation": store.generation(), "count": store.count(), "format": _FORMAT}

def build(store: NewsStore) -> DerivedIndexes:
    ids, docs, metas = [], [], []
    for cid, doc, meta in store.iter_all():
        ids.append(cid)
        docs.append(f"{meta.get('title', '')}\n{doc}")  # a chunk rarely repeats what its headline names
        metas.append(meta)
    bm25 = None
    tokens = tokenize(docs) if ids else []
    if ids:
        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=False)
    index = DerivedIndexes(ids, metas, bm25, _stamp(store), checked_at=time.monotonic())
    index.quotes = _quote_index(metas)
    index.doc_freq = dict(Counter(t for doc in tokens for t in set(doc)))
    return index

def quote_entries(meta: dict[str, Any], row: int) -> list[QuoteEntry]:
    """One chunk's quotes, from its metadata alone."""
    return [QuoteEntry(q["speaker"], q["text"], q["sentence"], row, tuple(q.get("roles") or ()),
                       str(meta.get("published") or "")) for q in json.loads(meta.get("quotes") or "[]")]


def _quote_index(metas: list[dict[str, Any]]) -> dict[str, list[QuoteEntry]]:
    quotes: dict[str, list[QuoteEntry]] = {}
    for row, meta in enumerate(metas):
        for q in quote_entries(meta, row):
            quotes.setdefault(q.speaker, []).append(q)
    return quotes

def _fingerprint(ids: list[str], metas: list[dict[str, Any]]) -> str:
    """Which version of which chunk the index holds (an article's text changes with its hash)."""
    digest = hashlib.sha1()
    for cid, meta in sorted(zip(ids, metas), key=lambda row: row[0]):
        digest.update(f"{cid}\t{meta.get('content_hash', '')}\n".encode())
    return digest.hexdigest()

def save(index: DerivedIndexes, directory: Path) -> None:
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if index.bm25 is not None:
        index.bm25.save(str(tmp / "bm25"), show_progress=False)
    (tmp / "ids.json").write_text(json.dumps(index.ids))
    (tmp / "df.json").write_text(json.dumps(index.doc_freq))
    (tmp / "chunks.sha1").write_text(_fingerprint(index.ids, index.metas))
    (tmp / "stamp.json").write_text(json.dumps(index.stamp))
    shutil.rmtree(directory, ignore_errors=True)
    tmp.rename(directory)  # the stamp and the index appear together or not at all

def load(store: NewsStore, directory: Path | None) -> DerivedIndexes:
    """The saved index when its stamp matches the collection, else a fresh build."""
    stamp = _stamp(store)
    if directory is not None and (directory / "stamp.json").exists():
        try:
            if json.loads((directory / "stamp.json").read_text()) == stamp:
                return _load_saved(store, directory, stamp)
        except (OSError, ValueError, KeyError):
            pass
    index = build(store)
    if directory is not None:
        save(index, directory)
    return index

def _load_saved(store: NewsStore, directory: Path, stamp: dict[str, int]) -> DerivedIndexes:
    ids = json.loads((directory / "ids.json").read_text())
    metas_by_id = {cid: meta for cid, _, meta in store.iter_all(include_documents=False)}
    if set(metas_by_id) != set(ids):
        raise KeyError("saved ids differ from the collection")
    metas = [metas_by_id[cid] for cid in ids]
    if (directory / "chunks.sha1").read_text() != _fingerprint(ids, metas):
        raise KeyError("saved index holds other versions of the chunks")
    bm25 = bm25s.BM25.load(str(directory / "bm25"), show_progress=False) if ids else None
    index = DerivedIndexes(ids, metas, bm25, stamp, checked_at=time.monotonic())
    index.quotes = _quote_index(metas)
    index.doc_freq = json.loads((directory / "df.json").read_text())
    return index

def is_fresh(index: DerivedIndexes, store: NewsStore) -> bool:
    return index.stamp == _stamp(store)

