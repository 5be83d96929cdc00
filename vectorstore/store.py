"""The one place that talks to Chroma.

Everything the chatbot needs lives in one collection: a chunk's text, vector and the
metadata of its article (title, sources, date, URL, quotes found in it). The lexical and
quote indexes are derived from that collection, so a Chroma server shared by several
workers is the single source of truth.

Writes are crash-safe by construction: an article's chunks go in one upsert with ids
`{article_id}:{n}` (idempotent), stale chunks of an older version are deleted after it,
and an article counts as stored only when every chunk carries the new content hash.

Every write is also a change the derived indexes can catch up on without re-reading the store:
it takes the next number of the collection's `generation` counter just before its Chroma call
and stamps it on each chunk it writes (`seq`); a delete first leaves a tombstone with its number
in a second collection (`{name}__deleted`), then deletes (vectorstore.changes reads both).

The embedded store survives SIGKILL too. Chroma keeps every write in a log in SQLite
(transactional) and rewrites its HNSW files in place every `sync_threshold` writes, also
while replaying the log in a process that only reads; a kill in the middle of that rewrite
leaves files Chroma cannot load ("Failed to apply logs to the hnsw segment writer", a torn
index_metadata.pickle), and as Chroma then purged the log up to the last rewrite, the
vectors were lost. So a new store keeps its whole log (Chroma's automatic purge off: about
one more copy of each written chunk in chroma.sqlite3), and a process that finds the store
left by a holder that died (vectorstore.lock) drops the HNSW files before Chroma opens them:
Chroma rebuilds them from the log, once, on first use.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vectorstore.errors import StoreError
from vectorstore.records import Article, Chunk, Passage, Quote

if TYPE_CHECKING:  # chromadb itself is imported when a client is made (see NewsStore.opener)
    from chromadb import ClientAPI

_GET_PAGE = 5000
SEQ = "seq"  # the write number stamped on each chunk (see NewsStore.upsert_chunks)
TOMBSTONES_SUFFIX = "__deleted"


@dataclass
class StoredArticle:
    id: str
    title: str
    source: str | None
    sources: list[str]
    published: str | None
    url: str | None
    content_hash: str
    n_chunks: int
    byline: str | None = None
    agency: str | None = None


def make_client(chroma_path: Path | None = None, chroma_url: str | None = None,
                recover: bool = False) -> ClientAPI:
    """A Chroma client; `recover` (the last holder died) rebuilds the vector index from the log."""
    from vectorstore.chroma import ChromaSettings, chromadb

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if chroma_url:
        from urllib.parse import urlsplit

        parts = urlsplit(chroma_url)
        return chromadb.HttpClient(
            host=parts.hostname or "127.0.0.1", port=parts.port or 8000,
            ssl=parts.scheme == "https", settings=chroma_settings,
        )
    if chroma_path is None:
        return chromadb.EphemeralClient(settings=chroma_settings)
    chroma_path.mkdir(parents=True, exist_ok=True)
    db = chroma_path / "chroma.sqlite3"
    if recover and db.exists():
        _drop_vector_index(chroma_path, db)
    client = chromadb.PersistentClient(path=str(chroma_path), settings=chroma_settings)
    _keep_whole_log(db)
    return client


_NO_PURGE = '{"automatically_purge":false,"_type":"EmbeddingsQueueConfigurationInternal"}'


def _log_is_whole(con: sqlite3.Connection) -> bool:
    """Chroma's write log still holds every write since the store was created."""
    config = con.execute("SELECT config_json_str FROM embeddings_queue_config").fetchone()
    first = con.execute("SELECT MIN(seq_id) FROM embeddings_queue").fetchone()[0]
    return config is not None and not json.loads(config[0]).get("automatically_purge", True) and first in (None, 1)


def _keep_whole_log(db: Path) -> None:
    """Turn Chroma's log purge off in a store that has never been written (older stores keep it)."""
    try:
        with closing(sqlite3.connect(db)) as con:
            if _log_is_whole(con) or con.execute("SELECT 1 FROM embeddings_queue LIMIT 1").fetchone() \
                    or con.execute("SELECT 1 FROM embeddings LIMIT 1").fetchone():
                return
            con.execute("UPDATE embeddings_queue_config SET config_json_str = ?", (_NO_PURGE,))
            con.commit()
    except sqlite3.Error:  # another Chroma schema: keep its defaults
        return


def _drop_vector_index(chroma_path: Path, db: Path) -> None:
    """Remove the HNSW files and their log position, so Chroma rebuilds them from the whole log.

    Done before Chroma opens the folder, so torn files are never loaded; repeated after a kill
    here, as the store stays marked as left by a dead holder until this process lets go.
    """
    try:
        with closing(sqlite3.connect(db)) as con:
            if not _log_is_whole(con):
                return
            segments = [row[0] for row in con.execute("SELECT id FROM segments WHERE scope = 'VECTOR'")]
            for segment in segments:
                shutil.rmtree(chroma_path / segment, ignore_errors=True)
            con.executemany("DELETE FROM max_seq_id WHERE segment_id = ?", [(s,) for s in segments])
            con.commit()
    except sqlite3.Error:
        return


def day_number(iso: str | None) -> int:
    return int(iso.replace("-", "")) if iso and len(iso) == 10 else 0


def chunk_metadata(article: Article, chunk: Chunk, n_chunks: int, quotes: Sequence[Quote]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "article_id": article.id, "n": chunk.n, "n_chunks": n_chunks, "title": article.title,
        "content_hash": article.content_hash, "start": chunk.start, "end": chunk.end,
        "n_tokens": chunk.n_tokens, "published_day": day_number(article.published),
    }
    optional = {
        "source": article.source, "agency": article.agency, "published": article.published,
        "url": article.url, "byline": article.byline, "origin": article.origin,
    }
    meta.update({k: v for k, v in optional.items() if v})
    if article.sources:
        meta["sources"] = list(article.sources)
    mine = [q for q in quotes if q.chunk_id == chunk.id]
    if mine:
        meta["quotes"] = json.dumps([{"speaker": q.speaker, "text": q.text, "sentence": q.sentence,
                                      **({"roles": q.roles} if q.roles else {})} for q in mine])
        meta["speakers"] = sorted({q.speaker.split()[-1].lower() for q in mine})
    return meta


def passage_from(chunk_id: str, text: str, meta: dict[str, Any] | None, score: float = 0.0) -> Passage:
    meta = meta or {}
    return Passage(
        chunk_id=chunk_id, article_id=str(meta.get("article_id", chunk_id)), text=text,
        title=str(meta.get("title", "")), source=meta.get("source"), published=meta.get("published"),
        url=meta.get("url"), score=score, quotes=json.loads(meta["quotes"]) if meta.get("quotes") else [],
    )


class NewsStore:
    """Articles as chunks in one Chroma collection (cosine), plus the derived indexes."""

    def __init__(self, client: ClientAPI, collection_name: str = "news", index_dir: Path | None = None):
        self.client = client
        self.index_dir = index_dir
        self.collection = client.get_or_create_collection(
            collection_name, configuration={"hnsw": {"space": "cosine"}},
            metadata={"generation": 0}, embedding_function=None,
        )
        self.tombstones = client.get_or_create_collection(f"{collection_name}{TOMBSTONES_SUFFIX}",
                                                          embedding_function=None)

    @classmethod
    def from_settings(cls, settings: Any) -> NewsStore:
        return cls.opener(settings)()

    @classmethod
    def opener(cls, settings: Any) -> Callable[[], NewsStore]:
        """Take the store's lock now (a store another process holds fails here, at once) and return
        what opens it: importing Chroma and opening the collection, the slow part, can come later."""
        from vectorstore.lock import acquire_store_lock

        died_holding = False if settings.chroma_url else acquire_store_lock(settings.data_dir)

        def open_store() -> NewsStore:
            from vectorstore.chroma import chromadb  # not `chromadb.errors` directly: that would import grpc

            try:
                client = make_client(settings.chroma_path, settings.chroma_url, recover=died_holding)
                return cls(client, settings.collection, settings.index_dir)
            except (chromadb.errors.ChromaError, sqlite3.DatabaseError) as exc:
                if settings.chroma_url:
                    raise
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise StoreError(f"{settings.chroma_path}: Chroma cannot open this store ({first}); "
                                 "restore it from a backup or ingest again into a new --data-dir") from None

        return open_store

    # -- generation: lets derived indexes know the collection changed --------------------
    def generation(self) -> int:
        meta = self.client.get_collection(self.collection.name).metadata or {}
        return int(meta.get("generation", 0))

    def bump_generation(self) -> int:
        """The next write number (two writers racing may both get the same one: readers allow for it)."""
        meta = dict(self.client.get_collection(self.collection.name).metadata or {})
        meta["generation"] = int(meta.get("generation", 0)) + 1
        self.collection.modify(metadata=meta)
        return int(meta["generation"])

    def embedded_with(self) -> str | None:
        """The precision of the vectors the store was filled with ("int8", "fp32"); a store filled
        before newsbot recorded it has fp32 ones (the default then), an empty one None."""
        meta = self.client.get_collection(self.collection.name).metadata or {}
        if meta.get("embedder"):
            return str(meta["embedder"])
        return "fp32" if self.count() else None

    def record_embedder(self, precision: str) -> None:
        """Say what fills an empty store, so that questions and later ingests embed the same way."""
        if self.count():
            return
        meta = dict(self.client.get_collection(self.collection.name).metadata or {})
        if meta.get("embedder") != precision:
            self.collection.modify(metadata={**meta, "embedder": precision})

    def upsert_chunks(self, ids: list[str], documents: list[str], metadatas: list[dict[str, Any] | None],
                      embeddings: list[list[float]], seq: int | None = None) -> None:
        """The one way chunks go in: stamped with a fresh write number (or the one given, taken by the
        same write), so readers find them as a change."""
        if not ids:
            return
        seq = seq or self.bump_generation()
        stamped = [{**(meta or {}), SEQ: seq} for meta in metadatas]
        self.collection.upsert(ids=ids, documents=documents, metadatas=stamped, embeddings=embeddings)

    def update_metadatas(self, ids: list[str], metadatas: list[dict[str, Any]]) -> None:
        if ids:
            seq = self.bump_generation()
            self.collection.update(ids=ids, metadatas=[{**meta, SEQ: seq} for meta in metadatas])

    def delete_chunks(self, ids: list[str], seq: int | None = None) -> None:
        """Tombstones first, then the delete: a delete killed in between leaves the chunks and a
        tombstone, which readers check against the collection (the chunks are still there)."""
        if not ids:
            return
        seq = seq or self.bump_generation()
        limit = self.client.get_max_batch_size()
        for start in range(0, len(ids), limit):
            page = ids[start : start + limit]
            self.tombstones.upsert(ids=page, metadatas=[{SEQ: seq}] * len(page), embeddings=[[1.0]] * len(page))
        self.collection.delete(ids=ids)

    # -- writes ----------------------------------------------------------------------------
    def write(self, items: Iterable[tuple[Article, list[Chunk], list[Quote], list[list[float]]]]) -> None:
        """Upsert the articles' chunks in one call, then drop chunks left from older versions."""
        ids, docs, metas, vectors = [], [], [], []
        batch = list(items)
        for article, chunks, quotes, embeddings in batch:
            for chunk, vector in zip(chunks, embeddings, strict=True):
                ids.append(chunk.id)
                docs.append(chunk.text)
                metas.append(chunk_metadata(article, chunk, len(chunks), quotes))
                vectors.append(vector)
        if not ids:
            return
        seq = self.bump_generation()  # one write number for the batch and the old chunks it replaces
        self.upsert_chunks(ids, docs, metas, vectors, seq)
        for article, chunks, _, _ in batch:
            self._delete_stale(article.id, {c.id for c in chunks}, seq)

    def _delete_stale(self, article_id: str, keep: set[str], seq: int) -> None:
        found = self.collection.get(where={"article_id": article_id}, include=[])
        self.delete_chunks([i for i in found["ids"] if i not in keep], seq)

    def add_source(self, article_id: str, source: str) -> None:
        found = self.collection.get(where={"article_id": article_id}, include=["metadatas"])
        metas = []
        for meta in found["metadatas"] or []:
            sources = list(meta.get("sources") or [])
            if source not in sources:
                sources.append(source)
            metas.append({**meta, "sources": sources})
        self.update_metadatas(found["ids"], metas)

    def delete_article(self, article_id: str) -> int:
        return self.delete_articles([article_id]).get(article_id, 0)

    def delete_articles(self, article_ids: Iterable[str]) -> dict[str, int]:
        """Delete whole articles; {article id: chunks deleted} for those found, in the order given.

        One look-up per page of ids, deletes in batches that never split an article (each
        article goes in one call), each with its tombstones."""
        wanted = list(dict.fromkeys(article_ids))
        chunk_ids: dict[str, list[str]] = {}
        for start in range(0, len(wanted), 500):
            page = wanted[start : start + 500]
            found = self.collection.get(where={"article_id": {"$in": page}}, include=["metadatas"])
            for cid, meta in zip(found["ids"], found["metadatas"] or []):
                chunk_ids.setdefault(str(meta["article_id"]), []).append(cid)
        limit = self.client.get_max_batch_size()
        batch: list[str] = []
        for article_id in wanted:
            ids = chunk_ids.get(article_id, [])
            if batch and len(batch) + len(ids) > limit:
                self.delete_chunks(batch)
                batch = []
            batch += ids
        self.delete_chunks(batch)
        return {a: len(chunk_ids[a]) for a in wanted if a in chunk_ids}

    # -- reads -----------------------------------------------------------------------------
    def article(self, article_id: str) -> StoredArticle | None:
        found = self.collection.get(where={"article_id": article_id}, include=["metadatas"])
        metas = found["metadatas"] or []
        if not metas:
            return None
        return _stored_article(metas)

    def article_state(self, article_id: str) -> tuple[str, bool] | None:
        """(content hash, complete) of what is stored for an article, or None."""
        found = self.collection.get(where={"article_id": article_id}, include=["metadatas"])
        metas = found["metadatas"] or []
        if not metas:
            return None
        hashes = {m.get("content_hash") for m in metas}
        complete = len(hashes) == 1 and len(metas) == int(metas[0].get("n_chunks", -1))
        return str(metas[0].get("content_hash")), complete

    def find_by_hash(self, content_hash: str) -> str | None:
        found = self.collection.get(where={"content_hash": content_hash}, include=["metadatas"], limit=1)
        metas = found["metadatas"] or []
        return str(metas[0]["article_id"]) if metas else None

    def article_chunks(self, article_id: str) -> list[Passage]:
        found = self.collection.get(where={"article_id": article_id}, include=["documents", "metadatas"])
        rows = sorted(zip(found["ids"], found["documents"] or [], found["metadatas"] or []),
                      key=lambda r: int(r[2].get("n", 0)))
        return [passage_from(i, d, m) for i, d, m in rows]

    def article_text(self, article_id: str) -> str:
        """The cleaned article, stitched back from its chunks by their character spans."""
        found = self.collection.get(where={"article_id": article_id}, include=["documents", "metadatas"])
        pieces = sorted(zip(found["documents"] or [], found["metadatas"] or []), key=lambda r: r[1]["start"])
        text, end = "", 0
        for doc, meta in pieces:
            start = int(meta["start"])
            if start > end:
                text += "\n\n"
                end = start
            text += doc[end - start :]
            end = max(end, int(meta["end"]))
        return text

    def iter_all(self, include_documents: bool = True) -> Iterable[tuple[str, str, dict[str, Any]]]:
        include = ["documents", "metadatas"] if include_documents else ["metadatas"]
        offset = 0
        while True:
            page = self.collection.get(include=include, limit=_GET_PAGE, offset=offset)
            ids = page["ids"]
            docs = page["documents"] if include_documents else [""] * len(ids)
            for cid, doc, meta in zip(ids, docs or [], page["metadatas"] or []):
                yield cid, doc, meta or {}
            if len(ids) < _GET_PAGE:
                return
            offset += _GET_PAGE

    def articles(self) -> list[StoredArticle]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for _, _, meta in self.iter_all(include_documents=False):
            if meta and "article_id" in meta:  # rows added through LangChain carry no article
                grouped.setdefault(str(meta["article_id"]), []).append(meta)
        return sorted((_stored_article(m) for m in grouped.values()),
                      key=lambda a: (a.published or "", a.title), reverse=True)

    def count(self) -> int:
        return self.collection.count()

    def dense_search(self, vector: list[float], k: int, where: dict[str, Any] | None = None) -> list[Passage]:
        if self.count() == 0:
            return []
        try:
            res = self.collection.query(query_embeddings=[vector], n_results=k, where=where or None,
                                        include=["documents", "metadatas", "distances"])
        except Exception as exc:  # chroma raises several types for a bad filter or empty match
            raise StoreError(f"dense search failed ({exc})") from exc
        return [passage_from(i, d, m, 1.0 - dist) for i, d, m, dist in
                zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0])]

    def get_passages(self, ids: list[str]) -> list[Passage]:
        if not ids:
            return []
        found = self.collection.get(ids=list(dict.fromkeys(ids)), include=["documents", "metadatas"])
        by_id = {i: passage_from(i, d, m) for i, d, m in zip(found["ids"], found["documents"], found["metadatas"])}
        return [by_id[i] for i in ids if i in by_id]


def _stored_article(metas: list[dict[str, Any]]) -> StoredArticle:
    first = min(metas, key=lambda m: int(m.get("n", 0)))
    return StoredArticle(
        id=str(first["article_id"]), title=str(first.get("title", "")), source=first.get("source"),
        sources=list(first.get("sources") or []), published=first.get("published"), url=first.get("url"),
        content_hash=str(first.get("content_hash", "")), n_chunks=len(metas), byline=first.get("byline"),
        agency=first.get("agency"),
    )
