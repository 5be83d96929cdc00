"""Sentence-transformers embeddings, exposed as LangChain `Embeddings`."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from langchain_core.embeddings import Embeddings


class ModelUnavailable(RuntimeError):
    """The configured embedding model cannot be loaded from this machine."""


@lru_cache(maxsize=2)
def load_model(name: str) -> Any:
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(name, device="cpu", local_files_only=True)
    except (OSError, ValueError) as exc:  # a missing folder, or a hub name not in the local cache
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelUnavailable(
            f"the embedding model {name!r} cannot be loaded offline ({reason}); set NEWSBOT_EMBEDDING_MODEL "
            "to a sentence-transformers folder or a model already in the local cache") from exc


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
