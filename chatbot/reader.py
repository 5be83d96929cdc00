"""The reader: every sentence of the retrieved passages is a candidate; a lexical prefilter (the
share of the question's weight a sentence and its context carry) picks the few the neural
cross-encoder newsbot trained on past news quizzes reads, and its calibrated probabilities pick the
answer and move the best sentence's passage first (the answerer's coverage line decides abstaining)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.question import QuestionInfo, mentions_years, satisfies
from chatbot.sentence_pool import PoolSentence, is_statement, key_terms, lexical_scores, pool_sentences, reader_text
from models.reader_model import BUNDLED_READER, ReaderModel, ReaderUnavailable
from vectorstore.indexes import DerivedIndexes
from vectorstore.records import Passage

__all__ = ["Reader", "Reading", "ReaderUnavailable", "known_terms", "usable_sentences"]


@dataclass
class Reading:
    pool: list[Passage]  # the passages read, in retrieval order
    sentences: list[PoolSentence]  # the usable ones (PoolSentence.passage indexes into pool)
    coverage: np.ndarray  # per sentence: the share of the question it (or, 0.8-weighted, its context) carries
    scores: np.ndarray  # per sentence: the reader's probability that it answers; -1 where it was not read
    order: list[int]  # pool indexes, best passage first
    abstain_below: float = 0.0  # the model's calibrated "the articles do not say" line
    compose_ratio: float = 0.8  # further sentences join the answer when this close to the best

    def passages(self, k: int) -> list[Passage]:
        return [self.pool[i] for i in self.order[:k]]

    def read(self) -> list[int]:
        """The sentences the reader scored, most likely first."""
        return [int(i) for i in np.argsort(-self.scores, kind="stable") if self.scores[i] >= 0]


def known_terms(question: str, index: DerivedIndexes) -> list[str]:
    """Key terms some stored article uses; the others cannot tell one sentence from another."""
    return [t for t in key_terms(question) if index.doc_freq.get(t)]


def usable_sentences(info: QuestionInfo, passages: Sequence[Passage]) -> list[PoolSentence]:
    """The sentences that could answer at all: statements, of the kind asked for ("how many" wants a
    number), from passages about the year the question names."""
    years_ok = [mentions_years(info, p) for p in passages]
    return [s for s in pool_sentences([(p.title, p.text) for p in passages])
            if years_ok[s.passage] and is_statement(s.text) and satisfies(info, s.text)]


class Reader:
    def __init__(self, model: ReaderModel, pool: int = 20, promote: int = 1) -> None:
        self.model = model
        self.pool = pool
        self.promote = promote

    @classmethod
    def from_settings(cls, settings: Any) -> Reader | None:
        if not settings.reader:
            return None
        return cls(ReaderModel.load(Path(settings.reader_model or BUNDLED_READER)), settings.reader_pool,
                   settings.reader_promote)

    def read(self, info: QuestionInfo, passages: list[Passage], index: DerivedIndexes) -> Reading:
        sentences = usable_sentences(info, passages)
        lexical, coverage = lexical_scores(known_terms(info.text, index), sentences, index.idf,
                                           [s.passage for s in sentences])
        shown = np.argsort(-lexical, kind="stable")[:self.model.shown]
        scores = np.full(len(sentences), -1.0, dtype=np.float32)
        if len(shown):
            texts = [reader_text(sentences[i], passages[sentences[i].passage].title) for i in shown]
            scores[shown] = self.model.probabilities(self.model.logits(info.text, texts), lexical[shown])
        # The passage of the best sentence first, the rest in retrieval order: re-ranking every passage by
        # its best sentence lost answer recall@4 on RealTimeQA (0.448 against 0.495, the linear reader).
        best = [sentences[i].passage for i in np.argsort(-scores, kind="stable")[:self.promote] if scores[i] >= 0]
        lead = list(dict.fromkeys(best))
        order = lead + [i for i in range(len(passages)) if i not in lead]
        return Reading(passages, sentences, coverage, scores, order, self.model.abstain_below,
                       self.model.compose_ratio)
