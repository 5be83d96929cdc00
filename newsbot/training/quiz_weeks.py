"""Past news-quiz weeks in the RealTimeQA layout, turned into labelled candidate pools.

Each week folder holds `questions.jsonl` (question, question_date, choices, gold) and
`corpus.jsonl[.gz]` (title, body, url, published_at, source; `question_ids`: the questions whose own
web search returned the page). A question's pool is its pages, cleaned as `newsbot ingest` cleans
them; its candidates are the sentences the reader would be shown (statements, best by the same
lexical prefilter as `ask`), each labelled by the quiz's choices: the gold choice inside is a
positive, another choice inside a hard negative, and a sentence whose headline or preceding
sentence holds the gold is left out (neither)."""

from __future__ import annotations

import gzip
import json
import math
import pickle
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.sentence_pool import is_statement, key_terms, lexical_scores, pool_sentences, reader_text
from ingest.article import build_article
from ingest.errors import IngestError
from ingest.raw import RawDoc
from ingest.sources import record_to_doc
from newsbot.evaluation.scorer import contains
from vectorstore.indexes import tokenize

POSITIVE, NEGATIVE, LEFT_OUT = 1, 0, -1
POOL_VERSION = 1  # bump when candidates or labels change, so cached pools are rebuilt


@dataclass
class Candidate:
    text: str  # what the reader reads beside the question (chatbot.sentence_pool.reader_text)
    sentence: str
    title: str
    label: int  # POSITIVE, NEGATIVE or LEFT_OUT
    other_choice: bool  # holds another choice of the quiz: a hard negative
    prefilter: float  # the lexical score that decides what the reader is shown
    rank: int  # by prefilter among the question's statements (0 = best)


@dataclass
class QuizQuestion:
    week: str
    question_id: str
    question: str
    date: str | None
    choices: list[str]
    gold: str
    candidates: list[Candidate] = field(default_factory=list)  # best prefilter first

    def right(self, text: str) -> bool:
        """The benchmark's rule: the gold choice inside and no other choice."""
        others = [c for c in self.choices if c != self.gold and not contains(self.gold, c)]
        return contains(text, self.gold) and not any(contains(text, c) for c in others)

    @property
    def positives(self) -> list[Candidate]:
        return [c for c in self.candidates if c.label == POSITIVE]


def week_dirs(data_dir: Path) -> list[Path]:
    found = [d for d in sorted(Path(data_dir).iterdir()) if d.is_dir() and (d / "questions.jsonl").exists()
             and ((d / "corpus.jsonl").exists() or (d / "corpus.jsonl.gz").exists())]
    if not found:
        raise ValueError(f"{data_dir}: no week folders with questions.jsonl and corpus.jsonl[.gz]")
    return found


def jsonl(path: Path) -> Iterator[dict[str, Any]]:
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def corpus_file(week: Path) -> Path:
    return week / "corpus.jsonl" if (week / "corpus.jsonl").exists() else week / "corpus.jsonl.gz"


def iso_day(day: str | None) -> str | None:
    return day.replace("/", "-")[:10] if day else None


class _WeekTerms:
    """IDF over the week's pages, as the store's lexical index gives it over chunks at query time."""

    def __init__(self, docs: list[str]) -> None:
        self.n = max(1, len(docs))
        self.df = Counter(t for words in tokenize(docs) for t in set(words)) if docs else Counter()

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))


def load_week(week: Path, keep: int = 64) -> list[QuizQuestion]:
    """The week's questions that have pages, each with its `keep` best candidates by prefilter (a
    sentence further down that holds the gold is mostly a chance mention: "Westerly: The Rhode Island
    fire marshal…" for where Brown University is)."""
    pages: list[tuple[set[str], Any]] = []
    for i, record in enumerate(jsonl(corpus_file(week))):
        doc = record_to_doc(record, f"{week.name}#{i}")
        if not isinstance(doc, RawDoc):
            continue
        try:
            pages.append((set(record.get("question_ids") or []), build_article(doc)))
        except IngestError:  # too short, no text: `newsbot ingest` would skip it too
            continue
    terms = _WeekTerms([f"{a.title}\n{a.text}" for _, a in pages])
    out = []
    for q in jsonl(week / "questions.jsonl"):
        mine = [a for ids, a in pages if q["question_id"] in ids]
        if mine:
            quiz = QuizQuestion(week.name, q["question_id"], q["question"], iso_day(q.get("question_date")),
                                list(q["choices"]), q["gold"])
            quiz.candidates = _candidates(quiz, [(a.title, a.text) for a in mine], terms, keep)
            out.append(quiz)
    return out


def _candidates(q: QuizQuestion, passages: list[tuple[str, str]], terms: _WeekTerms, keep: int) -> list[Candidate]:
    sentences = [s for s in pool_sentences(passages) if is_statement(s.text)]
    scores, _ = lexical_scores(key_terms(q.question), sentences, terms.idf)
    others = [c for c in q.choices if c != q.gold and not contains(q.gold, c)]
    out: list[Candidate] = []
    for rank, i in enumerate(np.argsort(-scores, kind="stable")[:keep]):
        s = sentences[i]
        title = passages[s.passage][0]
        gold = contains(s.text, q.gold)
        other = any(contains(f"{title} {s.text}", c) for c in others)
        if gold and not other:
            label = POSITIVE
        elif gold or contains(f"{title} {s.previous}", q.gold):
            label = LEFT_OUT
        else:
            label = NEGATIVE
        out.append(Candidate(reader_text(s, title), s.text, title, label, other, float(scores[i]), rank))
    return out


def load_weeks(dirs: Sequence[Path], cache: Path | None, keep: int = 64,
               progress: Callable[[str], None] = print) -> list[QuizQuestion]:
    """Every week's questions, each week cached as a pickle in `cache` (pools cost ~2 s a week to build)."""
    out: list[QuizQuestion] = []
    for n, week in enumerate(dirs, 1):
        path = cache / f"{week.name}-v{POOL_VERSION}-keep{keep}.pickle" if cache else None
        if path is not None and path.exists():
            with path.open("rb") as f:
                questions = pickle.load(f)
        else:
            questions = load_week(week, keep)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                with tmp.open("wb") as f:
                    pickle.dump(questions, f)
                tmp.replace(path)
        out += questions
        if n % 20 == 0 or n == len(dirs):
            progress(f"pools: {n}/{len(dirs)} weeks, {len(out)} questions, "
                     f"{sum(bool(q.positives) for q in out)} with a positive")
    return out
