""""What did X say about Y": the person the question means, their words on Y, or an honest reason
there are none.

Three outcomes, never "no quotes" while a quote by a person of that name or role is stored:
their quotes on the topic (the sentence or the ones around it carry the topic's words); "I found
quotes from X, but none about Y" (with where they are quoted); and, when no stored quote fits the
description, "No article I have quotes X" or "The articles mention X but quote nothing X said"."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from chatbot.answer import human_date
from chatbot.question import QuestionInfo
from chatbot.retrieval import Retrieved
from text.roles import ROLE_WORDS, concept, norm, variants, words
from text.sentences import split_sentences
from vectorstore.indexes import DerivedIndexes, QuoteEntry, tokenize
from vectorstore.people import Speaker, content_words
from vectorstore.records import Passage

_ON_TOPIC = 0.5  # the share of the topic's weight a quote (with the sentences around it) must carry
_NOISE = set(tokenize(["what who when where why how did does do is are was were about say said tell told think "
                       "his her their he she they it this that these those also else"])[0])
_SAYING = {"say", "said", "tell", "told"}


@dataclass
class Quoted:
    quote: QuoteEntry
    passage: Passage
    coverage: float  # of the topic, by the quote's own sentence
    context: float  # of the topic, by the sentence with its neighbours


@dataclass
class SpeakerPick:
    person: Speaker | None = None
    quotes: list[Quoted] = field(default_factory=list)  # on the topic, best first
    message: str | None = None  # why there is nothing to quote
    preface: str | None = None  # who the answer is about, when the question named a role or fits several
    fall_back: bool = False  # not a question about someone's words after all: answer it the ordinary way


def _variants(word: str) -> set[str]:
    """The stems of a topic word and of its variants ("American" also finds "US")."""
    return set(tokenize([" ".join(variants(word))])[0])


def _topic(info: QuestionInfo, index: DerivedIndexes) -> list[tuple[set[str], float]] | None:
    """The topic's words that some article uses, each as its stems (with variants) and its weight;
    None when the topic is words no article uses ("China's trade policy" asked of the seed)."""
    if not info.topic:
        return []
    speaker = set(tokenize([info.speaker or ""])[0])
    terms, unknown = [], 0
    for word in words(info.topic):
        stems = _variants(word) - speaker - _NOISE
        known = {s for s in stems if index.doc_freq.get(s)}
        if known:
            terms.append((known, max(index.idf(s) for s in known)))
        elif stems:
            unknown += 1
    return None if unknown and not terms else terms


def _share(terms: list[tuple[set[str], float]], found: set[str]) -> float:
    total = sum(w for _, w in terms)
    return sum(w for stems, w in terms if stems & found) / total if total else 1.0


def _in_context(sentence: str, passage: Passage) -> set[str]:
    """The words of the sentence and of the ones right before and after it."""
    sentences = [s.strip() for s in split_sentences(passage.text)]
    target = sentence.strip()
    at = next((i for i, s in enumerate(sentences) if s == target or target in s or s in target), None)
    near = [target] if at is None else sentences[max(0, at - 1): at + 2]
    return set(tokenize([" ".join(near)])[0])


def _quoted(person: Speaker, terms: list[tuple[set[str], float]] | None, passages: dict[str, Passage],
            said_before: str, verb: str = "say") -> list[Quoted]:
    out: dict[str, Quoted] = {}
    cue = set(tokenize([verb])[0]) - _NOISE  # "What did Macron insist…": the quote he "insisted" first
    for q in person.quotes:
        passage = passages.get(q.chunk_id)
        if passage is None or q.sentence not in passage.text or q.sentence in out:
            continue
        if said_before and q.text[:40] in said_before:  # "what else did he say?"
            continue
        if terms is None:
            out[q.sentence] = Quoted(q, passage, 0.0, 0.0)
            continue
        own = set(tokenize([q.sentence])[0])
        said_so = 0.5 if cue & own else 0.0
        out[q.sentence] = Quoted(q, passage, _share(terms, own) + said_so, _share(terms, _in_context(q.sentence, passage)))
    return sorted(out.values(), key=lambda c: (c.coverage + 0.5 * c.context, len(c.quote.text)), reverse=True)


def _where_quoted(person: Speaker) -> str:
    """"in “Headline” (AFP, 24 Feb 2025)" for the articles that quote the person, newest first."""
    seen: dict[str, str] = {}
    for q in sorted(person.quotes, key=lambda q: q.published, reverse=True):
        meta = q.meta
        title = str(meta.get("title") or "an untitled article")
        if title not in seen and len(seen) < 3:
            outlet = " · ".join(x for x in (meta.get("source"), human_date(meta.get("published"))) if x)
            seen[title] = f"“{title}”" + (f" ({outlet})" if outlet else "")
    return "; ".join(seen.values())


def _is_role(description: str) -> bool:
    return any(w in ROLE_WORDS for w in content_words(description))


def _nobody(info: QuestionInfo, index: DerivedIndexes) -> SpeakerPick:
    asked = (info.speaker or "").strip()
    names = [w for w in re.findall(r"[\w’'-]+", asked) if w[:1].isupper() and w.lower() not in ROLE_WORDS
             and not concept(norm(w)).startswith("#")]  # "the Chinese president" names a role, not a person
    saying = info.verb in _SAYING
    if not names:
        if not _is_role(asked) or not saying:
            return SpeakerPick(fall_back=True)
        return SpeakerPick(message=f"No article I have quotes anyone described as {asked}.")
    mentioned = all(index.doc_freq.get(t) for t in tokenize([" ".join(names)])[0])
    if not saying and mentioned:
        return SpeakerPick(fall_back=True)  # "What did Apple announce?": the articles may say so without quoting
    name = " ".join(names)
    if mentioned:
        return SpeakerPick(message=f"The articles mention {name} but quote nothing {name} said.")
    return SpeakerPick(message=f"No article I have quotes {name}.")


def pick(info: QuestionInfo, retrieved: Retrieved, index: DerivedIndexes, said_before: str = "") -> SpeakerPick:
    """The person the question means and their quotes on its topic, or why there are none."""
    if not retrieved.speakers:
        return _nobody(info, index)
    terms = _topic(info, index)
    best_score = retrieved.speakers[0].score
    tied = [p for p in retrieved.speakers if p.score == best_score]
    scored = []
    for person in tied:
        quotes = _quoted(person, terms, retrieved.speaker_passages, said_before, info.verb)
        on_topic = [q for q in quotes if max(q.coverage, q.context) >= _ON_TOPIC]
        scored.append((len(on_topic), len(quotes), person, on_topic))
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    _, _, person, on_topic = scored[0]
    if not on_topic:
        if info.verb not in _SAYING:
            return SpeakerPick(person, fall_back=True)
        about = f" about {info.topic.rstrip('?. ')}" if info.topic else ""
        more = " else" if said_before else ""
        return SpeakerPick(person, message=f"I found quotes from {person.name}, but none{more}{about}. "
                                           f"The articles quote {person.name} in {_where_quoted(person)}.")
    preface = None
    others = [p.name for _, _, p, _ in scored[1:]]
    if others:
        preface = (f"Several people fit “{info.speaker}”; these are the words of {person.described}, "
                   f"the best quoted on this (also: {', '.join(others)}).")
    elif not person.by_name:
        role = next((r for r in person.roles if set(map(concept, content_words(info.speaker or "")))
                     <= {concept(w) for w in content_words(r)}), person.roles[0] if person.roles else "")
        preface = f"{person.name}, {role}:" if role else None
    return SpeakerPick(person, on_topic, preface=preface)


@dataclass
class QuotesFound:
    """A person's attributed quotes, for `newsbot quotes`, /api/quotes and the MCP tool."""

    asked: str
    about: str | None
    person: str | None = None
    roles: list[str] = field(default_factory=list)
    quotes: list[dict[str, Any]] = field(default_factory=list)  # newest first, each with its source
    message: str | None = None  # why there are none

    def as_dict(self) -> dict[str, object]:
        return {"person": self.person, "asked": self.asked, "about": self.about, "roles": self.roles,
                "quotes": self.quotes, **({"message": self.message} if self.message else {})}


def quotes_of(asked: str, about: str | None, retrieved: Retrieved, index: DerivedIndexes) -> QuotesFound:
    info = QuestionInfo(asked, speaker=asked, topic=about or None)
    chosen = pick(info, retrieved, index)
    found = QuotesFound(asked, about, chosen.person.name if chosen.person else None,
                        list(chosen.person.roles) if chosen.person else [], message=chosen.message)
    rows = sorted(chosen.quotes, key=lambda q: q.quote.published, reverse=True)
    for q in rows:
        p = q.passage
        found.quotes.append({"speaker": q.quote.speaker, "quote": q.quote.text, "sentence": q.quote.sentence,
                             "chunk_id": p.chunk_id, "article_id": p.article_id, "title": p.title, "source": p.source,
                             "published": p.published, "url": p.url})
    if chosen.fall_back and not found.message:
        found.message = f"No article I have quotes anyone described as {asked}."
    return found
