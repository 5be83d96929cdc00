"""The data that flows from ingest into the store and out to the chatbot."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Article:
    id: str
    title: str
    text: str
    source: str | None = None
    agency: str | None = None
    published: str | None = None  # ISO date
    url: str | None = None
    byline: str | None = None
    content_hash: str = ""
    sources: list[str] = field(default_factory=list)
    origin: str = ""  # file path or URL it was read from


@dataclass
class Chunk:
    id: str  # "{article_id}:{n}"
    article_id: str
    n: int
    text: str
    start: int  # character span in the cleaned article text
    end: int
    n_tokens: int


@dataclass
class Quote:
    speaker: str
    text: str  # the quoted words
    sentence: str  # the whole sentence that carries the quote
    chunk_id: str
    article_id: str
    roles: list[str] = field(default_factory=list)  # how the article describes the speaker ("French President")


@dataclass
class Passage:
    """A chunk as the chatbot sees it: text plus the article metadata a citation needs."""

    chunk_id: str
    article_id: str
    text: str
    title: str = ""
    source: str | None = None
    published: str | None = None
    url: str | None = None
    score: float = 0.0
    quotes: list[dict[str, Any]] = field(default_factory=list)

    def speaker_of(self, sentence: str) -> str | None:
        """Who said the quote this sentence of the passage carries, when the quote index knows."""
        return next((q.get("speaker") for q in self.quotes if q.get("sentence", "").strip() == sentence.strip()), None)

    def as_dict(self) -> dict[str, object]:
        return {
            "chunk_id": self.chunk_id,
            "article_id": self.article_id,
            "title": self.title,
            "source": self.source,
            "published": self.published,
            "url": self.url,
            "text": self.text,
            "score": round(self.score, 6),
        }
