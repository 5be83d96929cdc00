"""The learned reader: scores every sentence of the retrieved pool with the model newsbot trained on
past news quizzes, re-ranks the passages by their best sentence, and hands the scored sentences to
the answerer (which picks and abstains by them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.reader_features import FEATURES, PassageView, Sentence, featurize
from models.reader_model import BUNDLED_READER, ReaderModel, ReaderUnavailable
from vectorstore.hybrid import Signals
from vectorstore.indexes import DerivedIndexes
from vectorstore.records import Passage

__all__ = ["Reader", "Reading", "ReaderUnavailable"]


@dataclass
class Reading:
    pool: list[Passage]  # the passages read, in retrieval order
    sentences: list[Sentence]  # Sentence.passage indexes into pool
    scores: np.ndarray  # per sentence: probability it answers the question
    coverage: np.ndarray  # per sentence: the share of the question it (or, 0.8-weighted, its context) carries
    hand_tuned: np.ndarray  # per sentence: the hand-tuned coverage score (the model's prior)
    order: list[int]  # pool indexes, best passage first
    abstain_below: float = 0.0  # the model's calibrated "the articles do not say" line
    compose_ratio: float = 0.8  # further sentences join the answer when this close to the best

    def passages(self, k: int) -> list[Passage]:
        return [self.pool[i] for i in self.order[:k]]


def views(passages: list[Passage], signals: dict[str, Signals]) -> list[PassageView]:
    out = []
    for p in passages:
        s = signals.get(p.chunk_id, Signals())
        out.append(PassageView(p.text, p.title, p.published, p.score, s.dense_sim, s.dense_rank, s.lexical_rank))
    return out


class Reader:
    def __init__(self, model: ReaderModel, pool: int = 40, promote: int = 1) -> None:
        self.model = model
        self.pool = pool
        self.promote = promote

    @classmethod
    def from_settings(cls, settings: Any) -> Reader | None:
        if not settings.reader:
            return None
        return cls(ReaderModel.load(Path(settings.reader_model or BUNDLED_READER)), settings.reader_pool, settings.reader_promote)

    def read(self, question: str, passages: list[Passage], signals: dict[str, Signals], index: DerivedIndexes,
             as_of: str | None = None, speaker_sentences: list[str] | None = None) -> Reading:
        sentences, X = featurize(question, views(passages, signals), index.idf, lambda t: bool(index.doc_freq.get(t)),
                                 as_of, speaker_sentences or [])
        scores = self.model.probabilities(X)
        coverage = np.maximum(X[:, FEATURES.index("cov")], 0.8 * X[:, FEATURES.index("ctx_cov")]) if len(X) else scores
        # The passages of the best sentences first, the rest in retrieval order: re-ranking every passage
        # by its best sentence lost answer recall@4 on RealTimeQA (0.448 against 0.495).
        lead = list(dict.fromkeys(sentences[i].passage for i in np.argsort(-scores)[:self.promote]))
        order = lead + [i for i in range(len(passages)) if i not in lead]
        hand_tuned = sum((w * X[:, FEATURES.index(f)] for f, w in (self.model.prior or {}).items()),
                         np.zeros(len(X), dtype=np.float32))
        return Reading(passages, sentences, scores, coverage, hand_tuned, order, self.model.abstain_below,
                       self.model.compose_ratio)
