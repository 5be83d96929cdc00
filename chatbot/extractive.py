"""The default answerer: picks the sentences of the retrieved passages that answer the
question and cites each one. No LLM, so every word of the answer is the articles' own."""

from __future__ import annotations

from dataclasses import dataclass

from chatbot.answer import ABSTAIN_TEXT, Answer, Citation, after_attribution, attribution
from chatbot.presentation import calm_capitals, short_answer, shown
from chatbot.question import QuestionInfo
from chatbot.reader import known_terms, usable_sentences
from chatbot.retrieval import Retrieved
from chatbot.sentence_pool import key_terms, lexical_scores
from chatbot.speakers import pick
from text.sentences import split_sentences
from vectorstore.indexes import DerivedIndexes, tokenize
from vectorstore.records import Passage

__all__ = ["Candidate", "compose", "extractive_answer"]

_MAX_SENTENCES = 3
_PASSAGES_READ = 6  # without the reader: the sentences of the first six passages


@dataclass
class Candidate:
    sentence: str
    passage: Passage
    rank: int
    coverage: float
    score: float
    by_speaker: bool = False


def unknown_share(terms: list[str], index: DerivedIndexes) -> float:
    """The share of the question's weight carried by words no stored article uses."""
    total = sum(index.idf(t) for t in terms)
    return sum(index.idf(t) for t in terms if not index.doc_freq.get(t)) / total if total else 1.0


def _coverage(terms: list[str], words: set[str], index: DerivedIndexes) -> float:
    """The share of the question's weight (IDF) that the words carry."""
    total = sum(index.idf(t) for t in terms)
    return sum(index.idf(t) for t in terms if t in words) / total if total else 0.0


def _sentences_in_context(passage: Passage) -> list[tuple[str, set[str], set[str]]]:
    """Each sentence with its words and those of the sentence before it (a subheading, or the
    sentence naming what a quote is about)."""
    sentences = split_sentences(passage.text)
    words = tokenize(sentences) if sentences else []
    return [(s, set(w), set(words[i - 1]) if i else set()) for i, (s, w) in enumerate(zip(sentences, words))]


def lexical_candidates(info: QuestionInfo, retrieved: Retrieved, index: DerivedIndexes) -> list[Candidate]:
    """Without the reader: the sentences of the first passages by the lexical prefilter's score, a
    sentence the asked speaker's quote index holds first."""
    passages = retrieved.passages[:_PASSAGES_READ]
    sentences = usable_sentences(info, passages)
    scores, coverage = lexical_scores(known_terms(info.text, index), sentences, index.idf,
                                      [s.passage for s in sentences])
    speaker_sentences = {q.sentence for q in retrieved.speaker_quotes}
    found = []
    for s, score, cov in zip(sentences, scores, coverage):
        by_speaker = any(s.text in q or q in s.text for q in speaker_sentences)
        found.append(Candidate(s.text, passages[s.passage], s.passage, float(cov), float(score) + 0.6 * by_speaker,
                               by_speaker))
    return sorted(found, key=lambda c: c.score, reverse=True)


def read_candidates(retrieved: Retrieved) -> list[Candidate]:
    """The sentences the reader scored, most likely first."""
    reading = retrieved.reading
    assert reading is not None
    rank_of = {p: r for r, p in enumerate(reading.order)}
    return [Candidate(reading.sentences[i].text, reading.pool[reading.sentences[i].passage],
                      rank_of[reading.sentences[i].passage], float(reading.coverage[i]), float(reading.scores[i]))
            for i in reading.read()]


def _speaker_candidates(retrieved: Retrieved, index: DerivedIndexes, info: QuestionInfo) -> list[Candidate]:
    """For "what did X say": X's quoted sentences, found in the retrieved passages or the index."""
    by_id = {p.chunk_id: p for p in retrieved.passages}
    speaker_words = set(tokenize([info.speaker or ""])[0])
    terms = [t for t in known_terms(info.text, index) if t not in speaker_words]
    out: list[Candidate] = []
    seen: set[str] = set()
    for rank, q in enumerate(retrieved.speaker_quotes):
        passage = by_id.get(q.chunk_id)
        if passage is None or q.sentence in seen or q.sentence not in passage.text:
            continue
        seen.add(q.sentence)
        in_context = {s.strip(): (w, around) for s, w, around in _sentences_in_context(passage)}
        words, around = in_context.get(q.sentence.strip(), (set(tokenize([q.sentence])[0]), set()))
        cov = _coverage(terms, words, index) if terms else 1.0
        context = _coverage(terms, words | around, index) if terms else 1.0
        out.append(Candidate(q.sentence, passage, rank, cov, 1.0 + cov + 0.5 * context - rank * 0.01, True))
    return sorted(out, key=lambda c: c.score, reverse=True)


def speaker_answer(question: str, info: QuestionInfo, retrieved: Retrieved, index: DerivedIndexes,
                   said_before: str = "") -> Answer | None:
    """The person's words on the topic, newest first, or the honest reason there are none; None when
    the question is not about someone's words after all ("What did the company announce?")."""
    chosen = pick(info, retrieved, index, said_before)
    if chosen.fall_back:
        return None
    if chosen.message or not chosen.quotes:
        return Answer(question, chosen.message or ABSTAIN_TEXT, abstained=True)
    best = chosen.quotes[0].coverage + 0.5 * chosen.quotes[0].context
    kept = [q for q in chosen.quotes if q.coverage + 0.5 * q.context >= 0.6 * best][:_MAX_SENTENCES]
    kept.sort(key=lambda q: q.quote.published, reverse=True)  # newest first; sort keeps the best first within a day
    answer = compose(question, [Candidate(q.quote.sentence, q.passage, 0, q.coverage, 1.0, True) for q in kept])
    if chosen.preface:
        answer.answer = f"{chosen.preface}\n\n{answer.answer}"
    return answer


def extractive_answer(question: str, info: QuestionInfo, retrieved: Retrieved, index: DerivedIndexes,
                      threshold: float, unknown_limit: float = 0.75, said_before: str = "") -> Answer:
    if info.is_speaker_question:
        spoken = speaker_answer(question, info, retrieved, index, said_before)
        if spoken is not None:
            return spoken
    if retrieved.reading is not None:
        return _read_answer(question, info, retrieved, index, threshold, unknown_limit)
    pool = lexical_candidates(info, retrieved, index)
    if info.is_speaker_question:
        quoted = _speaker_candidates(retrieved, index, info)
        pool = quoted + [c for c in pool if c.sentence not in {q.sentence for q in quoted}]
        if quoted:
            pool[0].coverage = max(pool[0].coverage, threshold)
    unknown = unknown_share(key_terms(info.text), index)
    speaker_found = bool(pool) and pool[0].by_speaker and info.is_speaker_question
    # "Did the rival resolution pass?": a sentence confirms only what it puts in words, so a yes/no
    # question is answered only by sentences that carry every one of its words (none can carry a
    # word no article uses).
    if info.is_yes_no:
        pool = [c for c in pool if c.coverage >= 1.0] if unknown == 0 else []
    if not pool or pool[0].coverage < threshold or (unknown >= unknown_limit and not speaker_found):
        return Answer(question, ABSTAIN_TEXT, abstained=True)
    best = pool[0]
    chosen = [best] + [c for c in pool[1:] if _joins(c.score, best.score, c.coverage, threshold)]
    return compose(question, chosen[:_MAX_SENTENCES], info)


def _joins(score: float, best: float, coverage: float, threshold: float) -> bool:
    """The hand-tuned rule for a further sentence: nearly as good as the best, and about the question."""
    return score >= 0.6 * best and coverage >= threshold * 0.8


def _read_answer(question: str, info: QuestionInfo, retrieved: Retrieved, index: DerivedIndexes,
                 threshold: float, unknown_limit: float) -> Answer:
    """The answer from the reader's probabilities: its best sentence, and up to two more nearly as
    likely; abstain when even the best is unlikely, or most of the question is words no article uses."""
    reading = retrieved.reading
    assert reading is not None
    pool = read_candidates(retrieved)
    unknown = unknown_share(key_terms(info.text), index)
    if info.is_yes_no:  # as above: a sentence confirms only what it puts in words
        pool = [c for c in pool if c.coverage >= 1.0] if unknown == 0 else []
    # The coverage line also decides, over the passages the hand-tuned path reads: across all 20, some
    # sentence about "capital" always carries enough of "What is the capital of Australia?".
    first = {reading.pool[i].chunk_id for i in range(min(_PASSAGES_READ, len(reading.pool)))}
    covered = max((c.coverage for c in pool if c.passage.chunk_id in first), default=0.0)
    if not pool or covered < threshold or pool[0].score < reading.abstain_below or unknown >= unknown_limit:
        return Answer(question, ABSTAIN_TEXT, abstained=True)
    best = pool[0]
    chosen = [best] + [c for c in pool[1:] if c.score >= reading.compose_ratio * best.score]
    return compose(question, chosen[:_MAX_SENTENCES], info)


def compose(question: str, chosen: list[Candidate], info: QuestionInfo | None = None) -> Answer:
    """"65 [1]" on a line of its own when the best sentence gives the number, date or name asked for
    (and no other sentence quoted gives another),
    then "According to AFP, 24 Feb 2025 (“Headline”), <sentence> [1] <sentence> [2]", one citation each.
    Sentences are shown with shouting capitals calmed and "he said" named; citations stay verbatim."""
    parts: list[str] = []
    citations: list[Citation] = []
    last_article = None
    for n, c in enumerate(chosen, 1):
        text = shown(c.sentence, c.passage)
        if c.passage.article_id == last_article:
            parts.append(f"{text} [{n}]")
        else:
            parts.append(f"{attribution(c.passage)} {after_attribution(text)} [{n}]")
        citations.append(Citation.of(n, c.passage, c.sentence))
        last_article = c.passage.article_id
    lead = _agreed_short_answer(info, chosen) if info is not None else None
    body = " ".join(parts)
    return Answer(question, f"{lead} [1]\n\n{body}" if lead else body, citations)


def _agreed_short_answer(info: QuestionInfo, chosen: list[Candidate]) -> str | None:
    """The best sentence's short answer, unless another sentence of the answer gives a different one."""
    if not chosen:
        return None
    lead = short_answer(info, calm_capitals(chosen[0].sentence))
    if lead is None:
        return None
    others = (short_answer(info, calm_capitals(c.sentence)) for c in chosen[1:])
    return None if any(o is not None and o.lower() != lead.lower() for o in others) else lead
