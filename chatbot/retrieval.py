"""Retrieval for the chatbot: the question is analysed (speaker, topic) and handed to the
one hybrid retriever in `vectorstore.hybrid`."""

from __future__ import annotations

from dataclasses import dataclass, field

from chatbot.question import QuestionInfo, analyse
from vectorstore.hybrid import Filters, HybridRetriever
from vectorstore.indexes import QuoteEntry
from vectorstore.records import Passage

__all__ = ["Filters", "HybridRetriever", "Retrieved", "retrieve"]


@dataclass
class Retrieved:
    passages: list[Passage]
    info: QuestionInfo
    speaker_quotes: list[QuoteEntry] = field(default_factory=list)
    speaker_known: bool = True


def retrieve(hybrid: HybridRetriever, question: str, k: int = 10, filters: Filters | None = None,
             as_of: str | None = None) -> Retrieved:
    info = analyse(question)
    found = hybrid.search(question, k, filters, as_of, speaker=info.speaker, topic=info.topic)
    return Retrieved(found.passages, info, found.speaker_quotes, found.speaker_known)
