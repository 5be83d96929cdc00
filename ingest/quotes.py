"""Direct quotes (`QUOTE`, `FoundQuote`) and the earlier rules for who said them (`find_quotes`).

Ingest attributes quotes with a parse (`ingest.people`); these rules stay as the baseline that
`bench/attribution.py` measures it against. They handle the shapes news copy uses: "…," Macron
said / said Macron / Macron said: "…" / Macron told X that Europe is ready to "step up" / "…," he
said (the pronoun resolves to the subject of the sentence, else to the last named speaker)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from text.names import person_names
from text.sentences import sentence_spans

QUOTE = re.compile(r"“([^”]{2,})”|\"([^\"\n]{2,})\"")
_VERBS = (
    r"said|says|say|told|tells|added|adds|insisted|insisting|stated|declared|warned|warning|"
    r"argued|noted|wrote|tweeted|posted|asked|replied|announced|called|calling|described|"
    r"urged|urging|saying|explained|claimed|claiming|stressed|vowed|acknowledged|admitted|"
    r"recalled|predicted|suggested|telling|responded|continued|conceded|remarked|promised"
)
_VERB = re.compile(rf"\b({_VERBS})\b")
_PRONOUN = re.compile(r"\b(he|she|they)\s+(?:had\s+|has\s+|also\s+|then\s+)?(?:" + _VERBS + r")\b")
_PREPOSITIONS = {"with", "to", "by", "for", "from", "of", "about", "against", "on", "at", "in"}


@dataclass
class FoundQuote:
    speaker: str
    text: str
    start: int  # span of the sentence(s) that carry the quote
    end: int


def _subject(frame: str) -> str | None:
    """The first name not governed by a preposition: the sentence's likely subject. A lone
    capitalised first word ("Opposition leader Tom Hart …") gives way to a full name after it."""
    found = [(start, name) for start, _end, name in person_names(frame)
             if not frame[:start].split() or frame[:start].split()[-1].lower().strip(",") not in _PREPOSITIONS]
    if not found:
        return None
    first_start, first = found[0]
    if not frame[:first_start].strip() and " " not in first:
        full = next((name for _, name in found[1:] if " " in name), None)
        return full or first
    return first


def _speaker(frame: str, last: str | None) -> str | None:
    verb = _VERB.search(frame)
    if not verb:
        return None
    after = re.match(r"\s*,?\s*([A-Z][\w'’\-]+(?:\s+[A-Z][\w'’\-]+)*)", frame[verb.end() :])
    pronoun = _PRONOUN.search(frame)
    if verb.group(1).endswith("ing"):
        return _subject(frame[: verb.start()]) or last
    before = [n for n in person_names(frame[: verb.start()]) if verb.start() - n[1] < 40]
    if pronoun and pronoun.start() < verb.end() and (not before or before[-1][1] < pronoun.start()):
        return _subject(frame[: pronoun.start()]) or last
    if before:
        return before[-1][2]
    if after and frame[: verb.start()].rstrip().endswith((",", "”", "Q")):  # “…,” said Ana Lopez
        names = person_names(after.group(1))
        if names:
            return names[0][2]
    return _subject(frame[: verb.start()]) or last


def _canonical(name: str, full_names: list[str]) -> str:
    last = name.split()[-1]
    longer = [f for f in full_names if f.split()[-1] == last and len(f) > len(name)]
    return max(longer, key=len) if longer else name


def find_quotes(text: str) -> list[FoundQuote]:
    spans = sentence_spans(text)
    full_names = sorted({n for _, _, n in person_names(text) if " " in n})
    quotes: list[FoundQuote] = []
    last: str | None = None
    for para in re.finditer(r"[^\n]+", text):
        body = para.group(0)
        matches = list(QUOTE.finditer(body))
        if not matches:
            continue
        frame = QUOTE.sub(" Q ", body)
        speaker = _speaker(frame, last)
        if not speaker:
            continue
        speaker = _canonical(speaker, full_names)
        last = speaker
        for m in matches:
            if speaker.split()[-1] in m.group(0):  # a name inside the quote is its topic
                continue
            q_start, q_end = para.start() + m.start(), para.start() + m.end()
            covering = [(s, e) for s, e in spans if s < q_end and e > q_start]
            start, end = (covering[0][0], covering[-1][1]) if covering else (q_start, q_end)
            quotes.append(FoundQuote(speaker, (m.group(1) or m.group(2)).strip(), start, end))
    return quotes
