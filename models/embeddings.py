"""The embedder (MiniLM by default), exposed as LangChain `Embeddings`.

Two backends give the same normalised vectors (cosine >= 0.999), so a store written by one is read
by the other: `onnx` (default) runs an ONNX export of the model on ONNX Runtime and never imports
torch, transformers or sentence-transformers; `torch` runs sentence-transformers. The ONNX export
is made once per model (content-addressed, in `onnx_cache_dir`) by `newsbot prepare-models` at
install, or on first use when missing.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

BACKENDS = ("onnx", "torch")
log = logging.getLogger(__name__)


class ModelUnavailable(RuntimeError):
    """The configured embedding model cannot be loaded from this machine."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@lru_cache(maxsize=2)
def load_model(name: str) -> Any:
    """The sentence-transformers model (torch backend), loaded once per process."""
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(name, device="cpu", local_files_only=True)
    except (OSError, ValueError) as exc:  # a missing folder, or a hub name not in the local cache
        raise _not_offline(name, _first_line(exc)) from exc


def model_folder(name: str) -> Path:
    """The local sentence-transformers folder for `name`: a path, or a hub name already in the local cache."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    # worded as sentence-transformers words it, so both backends say the same
    reason = f"{name} is not a folder" if path.exists() else f"Path {name} not found"
    if not (path.exists() or path.is_absolute() or name.startswith((".", "~"))):  # a hub name: the local cache
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(name, local_files_only=True))
        except Exception as exc:  # noqa: BLE001 - hub errors come in many types; all mean "not here"
            reason = _first_line(exc)
    raise _not_offline(name, reason)


def _not_offline(name: str, reason: str) -> ModelUnavailable:
    """The one wording both backends use for a model that is not on this machine."""
    return ModelUnavailable(f"the embedding model {name!r} cannot be loaded offline ({reason}); set "
                            "NEWSBOT_EMBEDDING_MODEL to a sentence-transformers folder or a model already in the local cache")


def onnx_export(name: str, cache_dir: str | Path, quantize: bool = False) -> Path:
    """The ONNX export of the model `name` in `cache_dir`, made now (in a child process) if missing."""
    from models.onnx_embeddings import OnnxModelError, ensure_onnx

    folder = model_folder(name)
    try:
        return ensure_onnx(folder, Path(cache_dir).expanduser(), quantize=quantize)
    except OSError as exc:  # the cache, not the model
        raise ModelUnavailable(
            f"the ONNX export of the embedding model {name!r} cannot be written to {str(cache_dir)!r} "
            f"({_first_line(exc)}); set NEWSBOT_ONNX_CACHE_DIR to a writable folder, or NEWSBOT_EMBEDDING_BACKEND=torch"
        ) from exc
    except OnnxModelError as exc:
        raise ModelUnavailable(
            f"the embedding model {name!r} cannot be exported to ONNX ({_first_line(exc)}); set "
            "NEWSBOT_EMBEDDING_MODEL to a sentence-transformers folder, or NEWSBOT_EMBEDDING_BACKEND=torch") from exc


class NewsEmbeddings(Embeddings):
    """Normalised sentence embeddings, batched; the backend loads on first use (or `load()`)."""

    def __init__(self, model_name: str, batch_size: int = 64, backend: str = "onnx",
                 cache_dir: str | Path | None = None, quantize: bool = False) -> None:
        if backend not in BACKENDS:
            raise ModelUnavailable(f"embedding backend {backend!r} is not one of {', '.join(BACKENDS)}; "
                                   "set NEWSBOT_EMBEDDING_BACKEND")
        self.model_name = model_name
        self.batch_size = batch_size
        self.backend = backend
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.quantize = quantize
        self._onnx: Any = None
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        """The loaded backend: an `OnnxEmbeddings` or a `SentenceTransformer`."""
        if self.backend == "torch":
            return load_model(self.model_name)
        if self._onnx is None:
            with self._lock:
                if self._onnx is None:
                    from models.onnx_embeddings import OnnxEmbeddings, OnnxModelError

                    export = onnx_export(self.model_name, self.cache_dir, self.quantize)
                    try:
                        onnx = OnnxEmbeddings(export, batch_size=self.batch_size)
                        onnx.load()
                    except OnnxModelError as exc:
                        raise ModelUnavailable(
                            f"the ONNX export of the embedding model {self.model_name!r} cannot be loaded "
                            f"({_first_line(exc)}); delete it to have it made again, or set "
                            "NEWSBOT_EMBEDDING_BACKEND=torch") from exc
                    self._onnx = onnx
        return self._onnx

    def load(self) -> None:
        """Load the model now rather than on the first text."""
        _ = self.model

    @property
    def precision(self) -> str:
        """The weights' precision, int8 or fp32, as a store records it of its vectors (torch and fp32
        ONNX give the same vectors)."""
        return "int8" if self.backend == "onnx" and self.quantize else "fp32"

    def matching(self, precision: str | None) -> NewsEmbeddings:
        """This embedder, or the same model on ONNX with the weights a store was filled with: int8 and
        fp32 vectors answer each other, but a store's own precision keeps its recall (on the dev weeks
        int8 questions on an fp32 store found the gold in the top 4 for 2 fewer of 105)."""
        if precision not in ("int8", "fp32") or precision == self.precision or self.backend != "onnx":
            return self
        log.info("this store's vectors are %s: embedding with the %s weights (NEWSBOT_ONNX_QUANTIZE is for new stores)",
                 precision, precision)
        return NewsEmbeddings(self.model_name, self.batch_size, backend="onnx", cache_dir=self.cache_dir,
                              quantize=precision == "int8")

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        if self.backend == "onnx":
            return self.model.encode(list(texts)).tolist()
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    @classmethod
    def from_settings(cls, settings: Any) -> NewsEmbeddings:
        return cls(settings.embedding_model, settings.embedding_batch_size,
                   backend=getattr(settings, "embedding_backend", "onnx"),
                   cache_dir=getattr(settings, "onnx_cache_dir", None),
                   quantize=getattr(settings, "onnx_quantize", True))


def default_cache_dir() -> Path:
    """Where ONNX exports live when no `onnx_cache_dir` is given: per user, shared by every store."""
    import os

    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsbot" / "onnx"
