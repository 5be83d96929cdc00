"""Retrieval for the chatbot: the question is analysed (speaker, topic) and handed to the
one hybrid retriever in `vectorstore.hybrid`; with the learned reader, a larger pool is read and
re-ranked by its best sentence."""

from __future__ import annotations

from dataclasses import dataclass, field

from chatbot.question import QuestionInfo, analyse
from chatbot.reader import Reader, Reading
from vectorstore.hybrid import Filters, HybridRetriever, Signals
from vectorstore.indexes import QuoteEntry
from vectorstore.people import Speaker
from vectorstore.records import Passage

__all__ = ["Filters", "HybridRetriever", "Retrieved", "retrieve"]


@dataclass
class Retrieved:
    passages: list[Passage]
    info: QuestionInfo
    speaker_quotes: list[QuoteEntry] = field(default_factory=list)
    speaker_known: bool = True
    signals: dict[str, Signals] = field(default_factory=dict)  # each retriever's view of the passages
    reading: Reading | None = None  # the reader's scores, when it is on
    speakers: list[Speaker] = field(default_factory=list)  # the quoted people the question's speaker fits
    speaker_passages: dict[str, Passage] = field(default_factory=dict)  # the chunks that hold their quotes


def retrieve(hybrid: HybridRetriever, question: str, k: int = 10, filters: Filters | None = None,
             as_of: str | None = None, reader: Reader | None = None) -> Retrieved:
    info = analyse(question)
    if info.is_speaker_question:  # "what did X say": the quote index ranks, not the reader
        reader = None
    found = hybrid.search(question, max(k, reader.pool) if reader else k, filters, as_of, speaker=info.speaker,
                          topic=info.topic)
    if reader is None:
        return Retrieved(found.passages, info, found.speaker_quotes, found.speaker_known, found.signals,
                         speakers=found.speakers, speaker_passages=found.speaker_passages)
    reading = reader.read(info, found.passages, hybrid.index)
    return Retrieved(reading.passages(k), info, found.speaker_quotes, found.speaker_known, found.signals, reading,
                     found.speakers, found.speaker_passages)
