"""Sentence-transformers embeddings, exposed as LangChain `Embeddings`."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from langchain_core.embeddings import Embeddings


@lru_cache(maxsize=2)
def load_model(name: str) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(name, device="cpu", local_files_only=True)


class NewsEmbeddings(Embeddings):
    """Normalised sentence-transformers vectors, batched; the model loads on first use."""

    def __init__(self, model_name: str, batch_size: int = 64) -> None:
        self.model_name = model_name
        self.batch_size = batch_size

    @property
    def model(self) -> Any:
        return load_model(self.model_name)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    @classmethod
    def from_settings(cls, settings: Any) -> NewsEmbeddings:
        return cls(settings.embedding_model, settings.embedding_batch_size)
