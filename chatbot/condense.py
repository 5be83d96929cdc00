"""Turn a follow-up ("and what about Trump?") into a standalone question.

Without an LLM the topic is carried over by rules: "what about X" swaps the previous
question's subject for X, pronouns take the last named person, and a bare follow-up
borrows the previous question's content words.
"""

from __future__ import annotations

import re

from chatbot.question import analyse
from text.names import person_names

_WHAT_ABOUT = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(?P<x>.+?)\s*\??\s*$", re.I)
_AND_X = re.compile(r"^\s*and\s+(?P<x>[A-Z][\w'’\- ]{1,60}?)\s*\??\s*$")
_PRONOUN = re.compile(r"\b(he|she|him|his|her|they|them|their)\b", re.I)
_IT = re.compile(r"\b(it|its)\b", re.I)  # needs the previous question's topic, not a person
# Capitalised because they open the sentence, not because they name someone ("Tell me about Macron").
_OPENERS = {"tell", "please", "show", "give", "summarise", "summarize", "explain", "describe", "list", "find",
            "what", "who", "whom", "how", "why", "when", "where", "which", "is", "are", "was", "did", "does", "do",
            "can", "could", "would", "and", "so", "also", "then"}
_FOLLOWUP_START = re.compile(r"^\s*(and|also|so|then|what else|anything else)\b", re.I)
_SPEAKER_PRONOUN = re.compile(r"^(\s*(?:and\s+)?(?:what|how)(?:\s+else)?\s+(?:did|does|has|had)\s+)(?:he|she|they)\s+",
                              re.I)
_STOP = {"what", "who", "when", "where", "which", "why", "how", "did", "does", "do", "is", "are", "was", "were",
         "the", "a", "an", "of", "to", "in", "on", "about", "say", "said", "many", "much", "and", "for", "with"}


def user_turns(history: list[dict[str, str]] | None) -> list[str]:
    return [m.get("content", "") for m in history or [] if m.get("role") == "user" and m.get("content")]


def _last_person(texts: list[str]) -> str | None:
    for text in reversed(texts):
        for _start, _end, name in person_names(text):
            words = name.split()
            while words and words[0].lower() in _OPENERS:
                words = words[1:]
            if words:
                return " ".join(words)
    return None


def needs_context(question: str) -> bool:
    words = question.split()
    return bool(_WHAT_ABOUT.match(question) or _AND_X.match(question) or _FOLLOWUP_START.match(question)
                or _PRONOUN.search(question) or _IT.search(question) or len(words) <= 4)


def _speaker_follow_up(question: str, previous: list[str], answers: list[str]) -> str | None:
    """"What else did he say?" -> "What else did the French president say?": the pronoun takes the
    person the previous question asked about, as that question put it."""
    info = analyse(question)
    if info.speaker is not None or not _SPEAKER_PRONOUN.match(question):
        return None
    person = next((s for s in (analyse(p).speaker for p in reversed(previous)) if s), None)
    person = person or _last_person(previous) or _last_person(answers[-1:])
    if not person:
        return None
    return _SPEAKER_PRONOUN.sub(lambda m: f"{m.group(1)}{person} ", question, count=1)


def condense(question: str, history: list[dict[str, str]] | None) -> str:
    """The standalone question (unchanged when it needs no context)."""
    previous = user_turns(history)
    if not previous or not needs_context(question):
        return question
    answers = [m.get("content", "") for m in history or [] if m.get("role") == "assistant"]
    spoken = _speaker_follow_up(question, previous, answers)
    if spoken:
        return spoken[:1].upper() + spoken[1:]
    last = previous[-1]
    swap = _WHAT_ABOUT.match(question) or _AND_X.match(question)
    if swap:
        x = swap.group("x").strip()
        subject = _last_person([last])
        if x[:1].isupper() and subject and subject in last:  # "and what about Trump?": another person
            return last.replace(subject, x, 1)
        about = re.search(r"\b(about|on|regarding)\s+.+?\s*\??\s*$", last, re.IGNORECASE)
        if about:  # "and what about security guarantees?": another topic
            return f"{last[: about.start()]}{about.group(1)} {x}?"
        return f"{last.rstrip('?')} — {x}?"
    person = _last_person(previous) or _last_person(answers[-1:])
    rewritten = _FOLLOWUP_START.sub("", question).strip()
    rewritten = rewritten[:1].upper() + rewritten[1:]
    if person and _PRONOUN.search(rewritten):
        rewritten = _PRONOUN.sub(lambda m: person + ("'s" if m.group(1).lower() in {"his", "their"} else ""),
                                 rewritten, count=1)
        return rewritten
    context = [w for w in re.findall(r"[\w'’\-]+", last) if w.lower() not in _STOP]
    return f"{rewritten.rstrip('?')} ({' '.join(context)})?"
