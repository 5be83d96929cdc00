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
    speaker = next((q.get("speaker") for q in passage.quotes if q.get("sentence", "").strip() == sentence.strip()), None)
    if not speaker:
        return sentence
    return _SAID.sub(lambda m: f"[{speaker}] {m.group(2)}", sentence, count=1)


def shown(sentence: str, passage: Passage) -> str:
    return name_the_speaker(calm_capitals(sentence), passage)


def short_answer(info: QuestionInfo, sentence: str) -> str | None:
    """The number, date or name the sentence gives for the question, nearest to a word it shares
    with the question; None when the question does not ask for one thing ("which countries…"), or
    the sentence has none, or shares no word with the question to anchor the choice."""
    kind = question_type(info.text)
    if _PLURAL_ASK.search(info.text):
        return None
    if info.wants_number or kind == "number":
        found = [(m.start(), m.group(0).strip().rstrip(",.")) for m in _NUMBER.finditer(sentence)]
    elif info.wants_date or kind == "date":
        found = [(m.start(), m.group(0)) for m in _DATE.finditer(sentence)]
    elif kind == "who":
        found = [(end - len(name), name) for _, end, name in person_names(sentence)]  # the name, not its title
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
    anchors = [start for start, p in prefixes.items() if p in asked and not any(a <= start < b for a, b in echoed)]
    if not found or not anchors:
        return None
    distance = {text: min(abs(at - a) for a in anchors) for at, text in found}
    ranked = sorted(distance.items(), key=lambda kv: kv[1])
    if len(ranked) > 1 and ranked[1][1] - ranked[0][1] < 4:  # two about as near: the sentence does not single one out
        return None
    return ranked[0][0]
