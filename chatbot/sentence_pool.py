"""The reader's candidates: every sentence of the retrieved passages, in its context (the sentence
before it and the headline), and a cheap lexical score that picks which of them the neural reader
reads. Training (`newsbot train-reader`) builds its candidates with the same functions, so the
reader learns on the kind of sentences it is shown."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from text.sentences import split_sentences
from vectorstore.indexes import tokenize

NOISE = set(tokenize([
    "say said says tell told think call called according report reported news article what who whom whose which "
    "when where why how did does do doing done is are was were be been being many much about could would should "
    "might may can will also has have had there their they them this that these those "
    "me us please give show explain describe summarise summarize know anything something latest"
])[0])
_MIN_WORDS = 4  # a candidate at all
_STATEMENT_WORDS = 6  # a candidate the answer may quote


@dataclass
class PoolSentence:
    text: str
    previous: str  # the sentence before it in its passage ("" for the first)
    passage: int  # index into the passages read
    position: int  # sentence index within the passage
    words: set[str]
    context: set[str]  # words of the sentence before it and of the headline


def pool_sentences(passages: Sequence[tuple[str, str]]) -> list[PoolSentence]:
    """Each distinct sentence of (headline, text) passages, four words or more, in passage order;
    tokenised in one call (per-call overhead dominated when it was one call per passage)."""
    split = [split_sentences(text) for _, text in passages]
    flat = [s.strip() for parts in split for s in parts]
    words = tokenize(flat + [title for title, _ in passages]) if flat else []
    titles = [set(w) for w in words[len(flat):]]
    out: list[PoolSentence] = []
    seen: set[str] = set()
    i = 0
    for pi, parts in enumerate(split):
        for si in range(len(parts)):
            text, w = flat[i], set(words[i])
            before = (flat[i - 1], set(words[i - 1])) if si else ("", set())
            i += 1
            if text in seen or len(text.split()) < _MIN_WORDS:
                continue
            seen.add(text)
            out.append(PoolSentence(text, before[0], pi, si, w, before[1] | titles[pi]))
    return out


def is_statement(sentence: str) -> bool:
    """A full sentence that asserts something: not a heading, not a question."""
    text = sentence.strip().rstrip("\"”’)")
    return len(sentence.split()) >= _STATEMENT_WORDS and bool(re.search(r"[.!…]$", text))


def key_terms(question: str) -> list[str]:
    """The question's content words (stemmed), each once, question words and "say" removed."""
    return [t for t in dict.fromkeys(tokenize([question])[0]) if t not in NOISE]


def lexical_scores(terms: Sequence[str], sentences: Sequence[PoolSentence], idf: Callable[[str], float],
                   ranks: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(prefilter score, coverage) per sentence. Coverage: the share of the question's IDF weight the
    sentence carries, or 0.8 of what it carries with its context. The score adds its context's share
    and a small prior for the passage's retrieval rank."""
    weights = {t: idf(t) for t in terms}
    total = sum(weights.values())
    if not sentences:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.float32)
    if total <= 0:
        return np.zeros(len(sentences), dtype=np.float32), np.zeros(len(sentences), dtype=np.float32)
    own = np.array([sum(w for t, w in weights.items() if t in s.words) for s in sentences]) / total
    around = np.array([sum(w for t, w in weights.items() if t in s.words or t in s.context) for s in sentences]) / total
    prior = np.array([0.1 / (1 + r) for r in ranks]) if ranks is not None else 0.0
    return (own + 0.25 * around + prior).astype(np.float32), np.maximum(own, 0.8 * around).astype(np.float32)


def reader_text(sentence: PoolSentence, title: str) -> str:
    """What the neural reader reads beside the question: the sentence first (truncation cuts the
    end), then its headline and the sentence before it."""
    parts = [sentence.text, title.strip(), sentence.previous]
    return " [SEP] ".join(p for p in parts if p)
