"""The lexical (BM25) index of the chunks, on Tantivy: segments written as chunks change, merged in
the background, and searched with block-max WAND, so a write costs what it adds and a query reads
only the postings it needs.

Chosen over SQLite FTS5 and the earlier bm25s matrix by measurement (`python -m bench.lexical_engines`):
at 100k chunks a question's top 60 took p50 0.8 ms here, 391 ms with FTS5's `bm25()` (it scores
every matching row before sorting) and 4.8 ms with bm25s, which also has no way to add a chunk
without re-indexing all of them.

The words indexed are newsbot's own (`tokenize`: stop words out, Snowball stems), so BM25 sees
what the chatbot scores with. A chunk's document is its headline and its text; its metadata is
stored beside it, so a hit brings what a citation needs without a trip to Chroma.

Tantivy ranks with BM25 at k1 = 1.2 and cannot be told otherwise; the retrieval newsbot was tuned
and measured with is bm25s's (Lucene's formula, k1 = 1.5, b = 0.75), and on the dev weeks k1 = 1.2
cost two questions of 105. So Tantivy finds a pool of candidates and they are scored again here
with that formula, from the stored words and live document counts: the same ranking as before.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import bm25s
import tantivy

_STOPWORDS = "english"
_TOKEN = r"(?u)\b\w+\b"
WRITER_HEAP = 64_000_000
WRITER_WAIT_S = 60.0
K1, B = 1.5, 0.75  # bm25s's defaults, which newsbot's retrieval was tuned with
POOL = 120  # candidates Tantivy hands over for rescoring, at least (a larger pool changed no dev top 60)
_TOKENIZE_BATCH = 2000


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


def lexical_text(doc: str, meta: dict[str, Any]) -> str:
    """What BM25 reads of a chunk: a chunk rarely repeats what its headline names."""
    return f"{meta.get('title', '')}\n{doc}"


def version_of(doc: str, meta: dict[str, Any]) -> str:
    """Which version of a chunk a document holds (its text and metadata, the write number aside)."""
    rest = {k: v for k, v in meta.items() if k != "seq"}
    return hashlib.sha1(f"{doc}\0{json.dumps(rest, sort_keys=True)}".encode()).hexdigest()


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("body", stored=True, tokenizer_name="whitespace", index_option="freq")
    sb.add_integer_field("length", stored=False, indexed=False, fast=True)  # words, for the average length
    sb.add_text_field("article_id", stored=False, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("sources", stored=False, tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("day", stored=False, indexed=True, fast=True)
    sb.add_integer_field("lead", stored=False, indexed=True, fast=False)  # 1: the article's first chunk
    sb.add_integer_field("quoted", stored=False, indexed=True, fast=False)  # 1: it carries quotes
    sb.add_text_field("version", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_bytes_field("meta", stored=True, indexed=False, fast=False)
    return sb.build()


SCHEMA = _schema()


@dataclass
class Hit:
    chunk_id: str
    score: float
    meta: dict[str, Any]


class LexicalSnapshot:
    """One committed state of the index, for reading: later writes do not change it."""

    def __init__(self, searcher: tantivy.Searcher) -> None:
        self.searcher = searcher
        self.n_docs = int(searcher.num_docs)

    def _filtered(self, query: tantivy.Query, source: str | None, article_id: str | None,
                  day_from: int | None, day_to: int | None) -> tantivy.Query:
        must = [query]
        if source:
            must.append(tantivy.Query.term_query(SCHEMA, "sources", source))
        if article_id:
            must.append(tantivy.Query.term_query(SCHEMA, "article_id", article_id))
        if day_from is not None or day_to is not None:
            must.append(tantivy.Query.range_query(SCHEMA, "day", tantivy.FieldType.Integer, day_from, day_to))
        if len(must) == 1:
            return query
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in must])

    @cached_property
    def average_length(self) -> float:
        if not self.n_docs:
            return 1.0
        total = self.searcher.aggregate(tantivy.Query.all_query(), {"t": {"sum": {"field": "length"}}})["t"]["value"]
        return max(1.0, float(total or 0) / self.n_docs)

    def search(self, tokens: list[str], k: int, source: str | None = None, article_id: str | None = None,
               day_from: int | None = None, day_to: int | None = None) -> list[Hit]:
        """The k best chunks for these words by BM25 (a word the question repeats counts again)."""
        if not tokens or not self.n_docs or k <= 0:
            return []
        words = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(SCHEMA, "body", t)) for t in dict.fromkeys(tokens)])
        query = self._filtered(words, source, article_id, day_from, day_to)
        pool = self.searcher.search(query, max(POOL, 3 * k), count=False).hits
        weight = Counter(tokens)  # a repeated word counts again
        idf = {t: self.idf(t) for t in weight}
        scored = []
        for _, address in pool:
            doc = self.searcher.doc(address)
            terms = doc.get_first("body").split()
            norm = K1 * (1 - B + B * len(terms) / self.average_length)
            score = 0.0
            for t, times in weight.items():
                tf = terms.count(t)
                if tf:
                    score += times * idf[t] * tf / (tf + norm)
            scored.append((score, doc))
        hits = [(score, doc.get_first("id"), doc) for score, doc in scored]
        hits.sort(key=lambda row: (-row[0], row[1]))  # equal scores in id order, however the segments lie
        return [Hit(cid, score, json.loads(bytes(doc.get_first("meta")))) for score, cid, doc in hits[:k]]

    def idf(self, term: str) -> float:
        df = self.doc_freq(term)
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))

    def _hit(self, score: float, address: Any) -> Hit:
        doc = self.searcher.doc(address)
        return Hit(doc.get_first("id"), float(score), json.loads(bytes(doc.get_first("meta"))))

    def doc_freq(self, term: str) -> int:
        """Chunks that hold the word now (Tantivy's own statistics count deleted ones until a merge)."""
        if not self.n_docs:
            return 0
        return int(self.searcher.search(tantivy.Query.term_query(SCHEMA, "body", term), 1, count=True).count)

    def version(self, chunk_id: str) -> str | None:
        """The version of the chunk this snapshot holds, None when it holds none."""
        if not self.n_docs:
            return None
        hits = self.searcher.search(tantivy.Query.term_query(SCHEMA, "id", chunk_id), 1, count=False).hits
        return self.searcher.doc(hits[0][1]).get_first("version") if hits else None

    def get(self, chunk_id: str) -> Hit | None:
        hits = self.searcher.search(tantivy.Query.term_query(SCHEMA, "id", chunk_id), 1, count=False).hits
        return self._hit(0.0, hits[0][1]) if hits else None

    def where(self, field: str, value: int, limit: int | None = None, newest_first: bool = False) -> Iterator[Hit]:
        """Chunks whose integer field holds the value (`lead`, `quoted`), newest first when asked."""
        if not self.n_docs:
            return
        query = tantivy.Query.term_query(SCHEMA, field, value)
        n = limit if limit is not None else self.n_docs
        result = self.searcher.search(query, n, count=False, order_by_field="day") if newest_first \
            else self.searcher.search(query, n, count=False)
        for _, address in result.hits:
            yield self._hit(0.0, address)

    def count(self, field: str, value: int) -> int:
        if not self.n_docs:
            return 0
        return int(self.searcher.search(tantivy.Query.term_query(SCHEMA, field, value), 1, count=True).count)

    def versions(self) -> dict[str, str]:
        """chunk id -> version of every document (reads them all: for checks, not for answering)."""
        out = {}
        for _, address in self.searcher.search(tantivy.Query.all_query(), max(1, self.n_docs), count=False).hits:
            doc = self.searcher.doc(address)
            out[doc.get_first("id")] = doc.get_first("version")
        return out

    def all(self) -> Iterator[Hit]:
        """Every document (for tools and checks: it reads them all)."""
        for _, address in self.searcher.search(tantivy.Query.all_query(), max(1, self.n_docs), count=False).hits:
            yield self._hit(0.0, address)


def _batched(rows: Iterable[Any], n: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


class LexicalIndex:
    """A Tantivy index in a folder (or in memory). A write takes the folder's writer lock for as long
    as it lasts, so several keepers (processes sharing a data dir with a Chroma server, or two
    retrievers in one process) take turns instead of locking each other out."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is None:
            self.index = tantivy.Index(SCHEMA)
        else:
            path.mkdir(parents=True, exist_ok=True)
            self.index = tantivy.Index(SCHEMA, path=str(path), reuse=True)
        self._lock = threading.Lock()

    @staticmethod
    def exists(path: Path) -> bool:
        return (path / "meta.json").is_file()

    def _writer(self, wait_s: float = WRITER_WAIT_S) -> Any:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return self.index.writer(heap_size=WRITER_HEAP, num_threads=1)
            except ValueError:  # LockBusy: another keeper is writing; its writes are short
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def write(self, present: Iterable[tuple[str, str, dict[str, Any]]], gone: Iterable[str],
              commit_every: int = 0) -> LexicalSnapshot:
        """Replace or add each present chunk and remove each gone one, then commit (also every
        `commit_every` chunks when given); returns the committed state."""
        with self._lock:
            writer = self._writer()
            try:
                for cid in gone:
                    writer.delete_documents_by_term("id", cid)
                added = 0
                for rows in _batched(present, _TOKENIZE_BATCH):
                    words = tokenize([lexical_text(doc, meta) for _, doc, meta in rows])  # one call: much faster
                    for (cid, doc, meta), tokens in zip(rows, words):
                        writer.delete_documents_by_term("id", cid)
                        writer.add_document(self._document(cid, doc, meta, tokens))
                    added += len(rows)
                    if commit_every and added >= commit_every:
                        writer.commit()
                        added = 0
                writer.commit()
            finally:
                del writer  # lets go of the folder's lock
            return self.snapshot()

    @staticmethod
    def _document(cid: str, doc: str, meta: dict[str, Any], tokens: list[str]) -> tantivy.Document:
        fields: dict[str, Any] = {
            "id": cid, "body": " ".join(tokens), "length": len(tokens), "version": version_of(doc, meta),
            "day": int(meta.get("published_day") or 0), "lead": int(meta.get("n", -1) == 0 and "article_id" in meta),
            "quoted": int(bool(meta.get("quotes"))), "meta": json.dumps(meta).encode(),
        }
        document = tantivy.Document(**fields)
        if meta.get("article_id"):
            document.add_text("article_id", str(meta["article_id"]))
        for source in meta.get("sources") or []:
            document.add_text("sources", str(source))
        return document

    def snapshot(self) -> LexicalSnapshot:
        self.index.reload()
        return LexicalSnapshot(self.index.searcher())
