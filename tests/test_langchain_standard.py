"""LangChain's own standard test suites against newsbot's components (package `langchain-tests`)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import (
    EmbeddingsIntegrationTests,
    RetrieversIntegrationTests,
    VectorStoreIntegrationTests,
)

from models.embeddings import NewsEmbeddings
from newsbot.settings import Settings
from vectorstore import NewsRetriever, NewsVectorStore

SEED = Path(__file__).resolve().parents[1] / "seeds"


class TestNewsVectorStore(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self) -> Iterator[VectorStore]:
        folder = tempfile.mkdtemp(prefix="nb-lc-")
        yield NewsVectorStore(self.get_embeddings(), persist_directory=folder, collection_name="standard")
        shutil.rmtree(folder, ignore_errors=True)


class TestNewsRetrieverOwnDocuments(RetrieversIntegrationTests):
    """Hybrid retrieval over documents the test adds itself (deterministic fake embeddings)."""

    @property
    def retriever_constructor(self) -> type[NewsRetriever]:
        return NewsRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        store = NewsVectorStore(self._embeddings(), persist_directory=tempfile.mkdtemp(prefix="nb-lcr-"))
        store.add_texts([f"Story {i}: the council voted on the harbour budget, item {i}." for i in range(6)])
        return {"store": store}

    @property
    def retriever_query_example(self) -> str:
        return "harbour budget vote"

    @staticmethod
    def _embeddings() -> Embeddings:
        from langchain_core.embeddings import DeterministicFakeEmbedding

        return DeterministicFakeEmbedding(size=16)


@pytest.fixture(scope="module")
def seeded_store(tmp_path_factory: pytest.TempPathFactory) -> NewsVectorStore:
    from ingest.pipeline import Ingestor

    settings = Settings(data_dir=tmp_path_factory.mktemp("lc-seed"))
    store = NewsVectorStore.from_settings(settings)
    Ingestor(settings, store.news_store, store.embeddings).run([str(SEED)])
    return store


class TestNewsRetrieverSeed(RetrieversIntegrationTests):
    """The same suite on the ingested seed article, with the real MiniLM embedder."""

    @pytest.fixture(autouse=True)
    def _store(self, seeded_store: NewsVectorStore) -> None:
        type(self).store = seeded_store

    @property
    def retriever_constructor(self) -> type[NewsRetriever]:
        return NewsRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"store": type(self).store}

    @property
    def retriever_query_example(self) -> str:
        return "What did Macron say about troops?"


class TestNewsEmbeddings(EmbeddingsIntegrationTests):
    """The default backend: ONNX Runtime."""

    @property
    def embeddings_class(self) -> type[NewsEmbeddings]:
        return NewsEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model_name": Settings().embedding_model}


class TestNewsEmbeddingsTorch(TestNewsEmbeddings):
    """The same suite on the sentence-transformers (torch) backend."""

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model_name": Settings().embedding_model, "backend": "torch"}


def test_seed_documents_carry_citation_metadata(seeded_store: NewsVectorStore) -> None:
    docs = NewsRetriever(store=seeded_store, k=3).invoke("What did Macron say about troops?")
    assert docs and all(d.metadata["title"].startswith("Macron backs Trump") for d in docs)
    assert {"chunk_id", "article_id", "source", "published", "url"} <= docs[0].metadata.keys()
    assert docs[0].metadata["published"] == "2025-02-24"
    assert "American backup" in " ".join(d.page_content for d in docs)


def test_retriever_filters_by_source(seeded_store: NewsVectorStore) -> None:
    assert NewsRetriever(store=seeded_store, source="AFP").invoke("troops")
    assert NewsRetriever(store=seeded_store, source="Nowhere Gazette").invoke("troops") == []


def test_readme_langchain_example_runs(seeded_store: NewsVectorStore, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = readme.split("<!-- langchain-example -->")[1].split("```python")[1].split("```")[0]
    monkeypatch.setenv("NEWSBOT_DATA_DIR", str(seeded_store.news_store.index_dir.parent))  # the seeded store
    exec(example, {})
    assert "Macron backs Trump" in capsys.readouterr().out
