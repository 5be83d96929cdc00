"""LangChain faces of the store: `NewsVectorStore` (a `VectorStore`) and `NewsRetriever`
(a `BaseRetriever` running the hybrid retrieval). Both sit on the same Chroma collection
and the same derived BM25/quote indexes as the rest of newsbot."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore
from pydantic import ConfigDict

from vectorstore.chroma import chromadb
from vectorstore.hybrid import Filters, HybridRetriever
from vectorstore.records import Passage
from vectorstore.store import SEQ, NewsStore, make_client


def _as_given(meta: dict[str, Any] | None) -> dict[str, Any]:
    """A row's metadata as it was added: without the write number the store stamps on it."""
    return {k: v for k, v in (meta or {}).items() if k != SEQ}


class NewsVectorStore(VectorStore):
    """The project's Chroma collection as a LangChain `VectorStore`.

    Example:
        store = NewsVectorStore(NewsEmbeddings(model), persist_directory=".newsbot/chroma")
        store.add_texts(["Macron met Trump."], metadatas=[{"source": "AFP"}])
        store.similarity_search("Macron", k=1)
    """

    def __init__(self, embedding: Embeddings, *, persist_directory: str | None = None, collection_name: str = "news",
                 client: chromadb.ClientAPI | None = None, index_dir: Path | None = None) -> None:
        if persist_directory is not None and client is not None:
            msg = "give either persist_directory or client, not both (got both)"
            raise ValueError(msg)
        if client is None:
            client = make_client(Path(persist_directory) if persist_directory else None)
        self._embedding = embedding
        self.news_store = NewsStore(client, collection_name, index_dir)
        self._hybrid: HybridRetriever | None = None

    @classmethod
    def from_settings(cls, settings: Any, embedding: Embeddings | None = None) -> NewsVectorStore:
        """The store `newsbot` itself uses (same lock, same collection, same saved indexes)."""
        from models.embeddings import NewsEmbeddings

        news_store = NewsStore.from_settings(settings)
        store = cls(embedding or NewsEmbeddings.from_settings(settings), client=news_store.client,
                    collection_name=settings.collection,
                    index_dir=None if settings.chroma_url else settings.index_dir)
        store.news_store = news_store
        return store

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    @property
    def hybrid(self) -> HybridRetriever:
        if self._hybrid is None:
            self._hybrid = HybridRetriever(self.news_store, self._embedding, index_dir=self.news_store.index_dir)
        return self._hybrid

    # -- writes: through the store, which stamps each change so the BM25 and quote indexes follow --
    def add_texts(self, texts: Iterable[str], metadatas: list[dict] | None = None, *, ids: list[str] | None = None,
                  **kwargs: Any) -> list[str]:
        texts = list(texts)
        if not texts:
            return []
        ids = [i or str(uuid.uuid4()) for i in ids] if ids else [str(uuid.uuid4()) for _ in texts]
        metas = [dict(m) if m else None for m in (metadatas or [None] * len(texts))]
        vectors = self._embedding.embed_documents(texts)
        self.news_store.upsert_chunks(ids, texts, metas, vectors)
        return ids

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        ids = kwargs.pop("ids", None) or [d.id for d in documents]
        ids = ids if any(ids) else None
        return self.add_texts([d.page_content for d in documents], [d.metadata for d in documents], ids=ids, **kwargs)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        if ids:
            self.news_store.delete_chunks(list(ids))
        return True

    # -- reads -------------------------------------------------------------------------------------
    def get_by_ids(self, ids: list[str], /) -> list[Document]:
        found = self.news_store.collection.get(ids=list(ids), include=["documents", "metadatas"])
        docs = {i: Document(page_content=d, metadata=_as_given(m), id=i)
                for i, d, m in zip(found["ids"], found["documents"] or [], found["metadatas"] or [])}
        return [docs[i] for i in ids if i in docs]

    def similarity_search_by_vector_with_score(self, embedding: list[float], k: int = 4,
                                               filter: dict[str, Any] | None = None) -> list[tuple[Document, float]]:
        collection = self.news_store.collection
        if collection.count() == 0:
            return []
        res = collection.query(query_embeddings=[embedding], n_results=k, where=filter or None,
                               include=["documents", "metadatas", "distances"])
        return [(Document(page_content=d, metadata=_as_given(m), id=i), float(dist)) for i, d, m, dist in
                zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0])]

    def similarity_search_with_score(self, query: str, k: int = 4, filter: dict[str, Any] | None = None,
                                     **kwargs: Any) -> list[tuple[Document, float]]:
        return self.similarity_search_by_vector_with_score(self._embedding.embed_query(query), k, filter)

    def similarity_search(self, query: str, k: int = 4, filter: dict[str, Any] | None = None,
                          **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter)]

    def similarity_search_by_vector(self, embedding: list[float], k: int = 4, filter: dict[str, Any] | None = None,
                                    **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_by_vector_with_score(embedding, k, filter)]

    def _select_relevance_score_fn(self):  # noqa: ANN202 - LangChain's signature
        return lambda distance: 1.0 - distance  # cosine distance

    @classmethod
    def from_texts(cls, texts: list[str], embedding: Embeddings, metadatas: list[dict] | None = None, *,
                   ids: list[str] | None = None, persist_directory: str | None = None, collection_name: str = "news",
                   client: chromadb.ClientAPI | None = None, **kwargs: Any) -> NewsVectorStore:
        store = cls(embedding, persist_directory=persist_directory, collection_name=collection_name, client=client)
        store.add_texts(texts, metadatas, ids=ids)
        return store


def passage_document(p: Passage, metadata: dict[str, Any] | None = None) -> Document:
    meta = {key: value for key, value in (metadata or {}).items()}
    meta.update({"chunk_id": p.chunk_id, "article_id": p.article_id, "title": p.title, "source": p.source,
                 "published": p.published, "url": p.url, "score": p.score})
    return Document(page_content=p.text, metadata=meta, id=p.chunk_id)


class NewsRetriever(BaseRetriever):
    """Hybrid retrieval (dense + BM25, fused, filtered, diverse) as a LangChain retriever.

    Example:
        retriever = NewsRetriever(store=NewsVectorStore.from_settings(settings), k=5, source="AFP")
        retriever.invoke("What did Macron say about troops?", k=3)
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: NewsVectorStore
    k: int = 10
    source: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    article_id: str | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None) -> list[Document]:
        filters = Filters(self.source, self.date_from, self.date_to, self.article_id)
        found = self.store.hybrid.search(query, k or self.k, filters)
        return [passage_document(p) for p in found.passages]
