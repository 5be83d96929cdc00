"""How a quoted sentence is shown to a reader: the short answer it gives first (a number, a date, a
name), shouting capitals calmed, and "he said" naming who the quote index says spoke. Every word
shown still comes from the cited sentence; the citation keeps the sentence verbatim."""

from __future__ import annotations

import re

from chatbot.question import QuestionInfo, question_type
from text.names import person_names
from vectorstore.indexes import tokenize
from vectorstore.records import Passage

_SHOUT = re.compile(r"^(?:[“\"(]?[A-Z][A-Z'’.-]{2,}\s+){2,}")  # two or more all-caps words opening a sentence
_SAID = re.compile(r"(?<=[,”\"]\s)(he|she) (said|says|added|told)\b")
_NUMBER = re.compile(r"(?<![\w.])(?:\$|€|£)?\d[\d,.]*(?:\s?%|\s?(?:million|billion|trillion|percent))?(?![\w])")
_DATE = re.compile(r"\b(?:(?:January|February|March|April|May|June|July|August|September|October|November|"
                   r"December)\s+\d{1,2}(?:,\s+\d{4})?|\d{1,2}\s+(?:January|February|March|April|May|June|July|"
                   r"August|September|October|November|December)(?:\s+\d{4})?|(?:Monday|Tuesday|Wednesday|"
                   r"Thursday|Friday|Saturday|Sunday)|(?:19|20)\d\d)\b")
_YEAR = re.compile(r"(?:1[89]|20)\d\d")
_DAY_OF = re.compile(r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|January|February|March|April|June|July|"
                     r"August|September|October|November|December)\.?\s+$")
_NAME = re.compile(r"\b[A-Z][\w’'&.-]*[\w](?:\s+(?:of\s+|de\s+|the\s+)?[A-Z][\w’'&.-]*[\w])*")
_PLURAL_ASK = re.compile(r"\b(?:which|what)\s+(?:\w+\s+)?\w+(?<!s)s\b|\bwho\s+(?:are|were)\b", re.I)
_CALENDAR = re.compile(r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?|(?:January|February|March|April|"
                       r"June|July|August|September|October|November|December|Monday|Tuesday|Wednesday|Thursday|"
                       r"Friday|Saturday|Sunday)")  # a date, not the place or company asked for
_NOT_ANSWERS = {"The", "A", "An", "In", "On", "At", "But", "And", "It", "He", "She", "They", "We", "I", "This", "That",
                "His", "Her", "Their", "Its", "As", "For", "If", "When", "While", "After", "Before", "With", "By",
                "From", "Meanwhile", "According", "However", "Mr", "Mrs", "Ms", "Dr"}


def calm_capitals(sentence: str) -> str:
    """"FRENCH PRESIDENT EMMANUEL Macron has…" -> "French President Emmanuel Macron has…" (a lone
    acronym such as NATO is left alone)."""
    m = _SHOUT.match(sentence)
    if not m:
        return sentence
    return m.group(0).title() + sentence[m.end():]


def name_the_speaker(sentence: str, passage: Passage) -> str:
    """“…,” he said. -> “…,” [Emmanuel Macron] said. when the quote index knows who spoke."""
    speaker = passage.speaker_of(sentence)
    if not speaker:
        return sentence
    return _SAID.sub(lambda m: f"[{speaker}] {m.group(2)}", sentence, count=1)


def shown(sentence: str, passage: Passage) -> str:
    return name_the_speaker(calm_capitals(sentence), passage)


def short_answer(info: QuestionInfo, sentence: str) -> str | None:
    """The number, date or name the sentence gives for the question; None when the question does not
    ask for one thing ("which countries…"), or the sentence has none, or shares no word with the
    question to anchor the choice, or holds several that the question's words do not tell apart (see
    `_bound`)."""
    kind = question_type(info.text)
    if _PLURAL_ASK.search(info.text):
        return None
    if info.wants_number or kind == "number":  # a count or an amount, not a year or a day ("Feb. 24, 2022")
        found = [(m.start(), m.group(0).strip().rstrip(",.")) for m in _NUMBER.finditer(sentence)
                 if not _YEAR.fullmatch(m.group(0).strip().rstrip(",.")) and not _DAY_OF.search(sentence, 0, m.start())]
    elif info.wants_date or kind == "date":
        found = [(m.start(), m.group(0)) for m in _DATE.finditer(sentence)]
    elif kind == "who":  # the name, not its title; "Dec." or "Saturday" is no one
        found = [(end - len(name), name) for _, end, name in person_names(sentence) if not _CALENDAR.fullmatch(name)]
    elif kind in ("place", "org", "which"):
        found = [(m.start(), m.group(0)) for m in _NAME.finditer(sentence)
                 if m.group(0) not in _NOT_ANSWERS and not _CALENDAR.fullmatch(m.group(0))]
    else:
        return None
    asked = {t[:4] for t in tokenize([info.text])[0] if len(t) >= 4}
    words_at = list(re.finditer(r"\w+", sentence))
    stems = tokenize([m.group(0) for m in words_at]) if words_at else []
    prefixes = {m.start(): stem[0][:4] for m, stem in zip(words_at, stems) if stem and len(stem[0]) >= 4}
    question_words = {w.lower() for w in re.findall(r"\w+", info.text)}

    def from_question(at: int, text: str) -> bool:  # "Russia" answers nothing in a question about "Russian"…
        inside = [p for start, p in prefixes.items() if at <= start < at + len(text)]
        return all(w.lower() in question_words for w in re.findall(r"\w+", text)) or \
            bool(inside) and all(p in asked for p in inside)

    echoed = [(at, at + len(text)) for at, text in found if text and from_question(at, text)]
    found = [(at, text) for at, text in found if text and not from_question(at, text)]
    # anchors: the question's words in the sentence, except where the sentence only repeats a name it asked about
    asked |= _alike(info.text)
    prefixes.update({m.start(): _ALIKE_ANY[m.group(0).lower()] for m in words_at if m.group(0).lower() in _ALIKE_ANY})
    anchors = [start for start, p in prefixes.items() if p in asked and not any(a <= start < b for a, b in echoed)]
    if not found or not anchors:
        return None
    if len({text for _, text in found}) > 1:
        # here short verbs bind too ("won"), and so does a name the question repeats ("the Democratic primary")
        return _bound(sentence, found, asked | {t for t in tokenize([info.text])[0] if len(t) == 3} - _ASKING)
    return found[0][1]


# The pieces a sentence's structure is cut at: clause punctuation and the words that join phrases.
_PIECE = re.compile(r"\d[\d,.]*\d|[\w’'-]+|[,;:()—–]")
_JOINS = {",", ";", ":", "(", ")", "—", "–", "and", "or", "but", "while", "whereas", "with", "plus", "versus", "vs",
          "after", "before", "including"}
# Words a question and a sentence use for one another: "voted in favour" ~ "93 votes for".
_ALIKE = {"favour": "#for", "favor": "#for", "support": "#for", "supported": "#for", "supporting": "#for",
          "against": "#against", "opposed": "#against", "oppose": "#against", "opposing": "#against"}
_ALIKE_IN_SENTENCES = {"for": "#for"}  # "93 votes for"; in a question "for" is only a preposition
_ALIKE_ANY = {**_ALIKE, **_ALIKE_IN_SENTENCES}
_ASKING = set(tokenize(["who how why did was are has had can may does many much"])[0])
# Tuned on the training weeks' sentences that hold the gold answer (bench/lead_line.py --sentences):
_JOIN_COST = 6  # a join between a word and a candidate weighs as much as this many words
_CLEAR_LEAD = 0.3  # how much more weight the bound candidate needs than the next one


def _alike(question: str) -> set[str]:
    return {_ALIKE[w] for w in re.findall(r"\w+", question.lower()) if w in _ALIKE}


def _bound(sentence: str, found: list[tuple[int, str]], asked: set[str]) -> str | None:
    """Of several candidates, the one the question's words are bound to, nearest in the sentence's
    structure; None when none is bound more closely than every other.

    The sentence is cut into phrases at its joins ("The text won 93 votes for | and 18 votes against | ,
    with 65 abstentions"). A question word counts 1 / (1 + its distance) for a candidate: the words
    between them, and a phrase's worth more for each join between; each question word counts once, where
    it is nearest. Words before a candidate whose next phrase opens with another ("The text won" before
    "93 votes for and 18 votes against") govern both, and tell neither apart. The bound candidate must
    weigh clearly more than the next one: "votes" binds 93 and 18 alike, "in favour" ~ "for" only 93."""
    pieces = [(m.start(), m.group(0)) for m in _PIECE.finditer(sentence)]
    owner: dict[int, int] = {}  # piece -> the candidate it belongs to
    for i, (start, word) in enumerate(pieces):
        for at, text in found:
            if start < at + len(text) and start + len(word) > at:
                owner[i] = at
    joins = [word.lower() in _JOINS for _, word in pieces]
    phrase = [sum(joins[: i + 1]) for i in range(len(pieces))]
    opens = {phrase[i] for i in owner if i == 0 or joins[i - 1]}  # phrases that open with a candidate
    shared = {i for i in range(len(pieces)) if phrase[i] + 1 in opens and phrase[i] not in opens
              and any(phrase[j] == phrase[i] for j in owner if j > i)}
    concepts = [_ALIKE_ANY.get(word.lower()) or (stem[0][:4] if stem and len(stem[0]) >= 3 else None)
                for (_, word), stem in zip(pieces, tokenize([word for _, word in pieces]))]
    words = [(i, concept) for i, concept in enumerate(concepts) if concept is not None and concept in asked
             and not joins[i] and i not in owner and i not in shared]
    scores: dict[str, float] = {}
    for at, text in found:
        mine = [i for i, a in owner.items() if a == at]
        if not mine:
            continue
        first, last = min(mine), max(mine)
        best: dict[str, float] = {}
        for i, concept in words:
            lo, hi = (i, first) if i < first else (last, i)
            between = sum(not joins[j] for j in range(lo + 1, hi)) + _JOIN_COST * sum(joins[lo + 1: hi])
            best[concept] = max(best.get(concept, 0.0), 1.0 / (1 + between))
        scores[text] = max(scores.get(text, 0.0), sum(best.values()))
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    if not ranked or ranked[0][1] == 0 or len(ranked) > 1 and ranked[0][1] - ranked[1][1] < _CLEAR_LEAD:
        return None
    return ranked[0][0]
