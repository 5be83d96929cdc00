"""What a question asks for: its content terms, a speaker ("what did X say about Y"), and
the kind of answer it expects (a number, a date, a name)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from vectorstore.records import Passage

_SAY = re.compile(
    r"^\s*(?:and\s+)?(?:what|how)(?P<more>\s+else)?\s+(?:did|does|has|have|had|do)\s+(?P<who>.+?)\s+"
    r"(?P<verb>say|said|tell|told|think|thought|claim|claimed|argue|argued|warn|warned|call|called|describe|described|"
    r"insist|insisted|suggest|suggested|propose|proposed|announce|announced|reveal|revealed|admit|admitted|"
    r"deny|denied|mean|meant|promise|promised|predict|predicted)\b"
    r"(?:\s+(?:(?:about|on|of|regarding|concerning)\s+)?(?P<topic>.+?))?\s*\??\s*$",
    re.IGNORECASE,
)
_QUOTE_Q = re.compile(r"^\s*(?:quotes?|statements?)\s+(?:by|from)\s+(?P<who>.+?)(?:\s+(?:about|on)\s+(?P<topic>.+?))?\??$", re.I)
_NUMBER_Q = re.compile(r"\bhow\s+(?:many|much|old|far|large|big)\b|\bwhat\s+(?:number|percentage|share|proportion)\b", re.I)
_DATE_Q = re.compile(r"^\s*(?:and\s+)?when\b|\bwhat\s+(?:year|date|day|month|time)\b|\bin\s+what\s+year\b|"
                     r"\bhow\s+(?:long|soon)\b", re.I)
_YES_NO = re.compile(r"^\s*(?:and\s+)?(?:did|does|do|is|are|was|were|has|have|had|will|would|can|could|should)\b", re.I)
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_PRONOUNS = {"he", "she", "him", "her", "his", "hers", "they", "them", "their", "it", "its", "this", "that"}


_QT_PATTERNS = [
    ("number", re.compile(r"\bhow\s+(?:many|much|old|far|long|large|big|high)\b|\bwhat\s+(?:number|percent|percentage|"
                          r"share|proportion|amount|price|age)\b", re.I)),
    ("date", re.compile(r"^\s*when\b|\bwhat\s+(?:year|date|day|month|time)\b|\bin\s+what\s+year\b", re.I)),
    ("place", re.compile(r"\bwhere\b|\b(?:which|what)\s+(?:\w+\s+)?(?:country|countries|city|cities|state|states|"
                         r"nation|region|island|continent|capital|town|county|province|place)\b", re.I)),
    ("org", re.compile(r"\b(?:which|what)\s+(?:\w+\s+)?(?:company|companies|firm|team|club|organi[sz]ation|brand|"
                       r"network|airline|bank|retailer|automaker|agency|group|party|university|band|app|platform|"
                       r"network|league|school)\b", re.I)),
    ("who", re.compile(r"^\s*(?:who|whom|whose)\b|\bwho\s+(?:is|was|has|will|won|became)\b|\b(?:which|what)\s+"
                       r"(?:\w+\s+)?(?:person|people|man|woman|actor|actress|singer|president|leader|player|star|"
                       r"celebrity|ceo|politician|senator|official|athlete|rapper|musician|director|author|judge|"
                       r"minister|governor|candidate|coach)\b", re.I)),
    ("yesno", re.compile(r"^\s*(?:did|does|do|is|are|was|were|has|have|had|will|would|can|could|should)\b", re.I)),
    ("which", re.compile(r"\bwhich\b", re.I)),
    ("what", re.compile(r"\bwhat\b", re.I)),
]


def question_type(question: str) -> str:
    """The kind of answer asked for: who, place, org, number, date, yesno, which, or what."""
    for name, pattern in _QT_PATTERNS:
        if pattern.search(question):
            return name
    return "what"


@dataclass
class QuestionInfo:
    text: str
    speaker: str | None = None  # as written in the question ("Macron", "the French president")
    topic: str | None = None
    verb: str = "say"  # what the speaker did: "say", "tell", "announce" …
    wants_more: bool = False  # "what else did he say?"
    wants_number: bool = False
    wants_date: bool = False
    is_yes_no: bool = False  # "Did the resolution pass?"
    years: frozenset[str] = frozenset()  # "the 2018 World Cup"

    @property
    def is_speaker_question(self) -> bool:
        return self.speaker is not None


def analyse(question: str) -> QuestionInfo:
    info = QuestionInfo(question.strip())
    m = _SAY.match(question) or _QUOTE_Q.match(question)
    if m and m.group("who").lower() not in _PRONOUNS:
        info.speaker = m.group("who").strip()
        info.topic = (m.group("topic") or "").strip() or None
        groups = m.groupdict()
        info.verb = (groups.get("verb") or "say").lower()
        info.wants_more = bool(groups.get("more"))
    info.wants_number = bool(_NUMBER_Q.search(question))
    info.wants_date = bool(_DATE_Q.search(question))
    info.is_yes_no = bool(_YES_NO.match(question))
    info.years = frozenset(_YEAR.findall(question))
    return info


_NUMBER = re.compile(r"\d|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|"
                     r"twenty|thirty|forty|fifty|hundred|thousand|million|billion|trillion|half|"
                     r"decade|percent)\b", re.I)
_DATE = re.compile(r"\b(?:1[89]\d\d|20\d\d|january|february|march|april|may|june|july|august|september|"
                   r"october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|monday|"
                   r"tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tomorrow|week|weeks|"
                   r"month|months|year|years|ago|soon|earlier|later|next|last|since|until|within)\b", re.I)


def mentions_years(info: QuestionInfo, passage: Passage) -> bool:
    """Does the passage talk about the year the question names (in its text, headline or date)?"""
    if not info.years:
        return True
    found = _YEAR.findall(" ".join((passage.title, passage.text, (passage.published or "")[:4])))
    return not info.years.isdisjoint(found)


def satisfies(info: QuestionInfo, sentence: str) -> bool:
    """Does the sentence hold the kind of thing the question asks for?"""
    if info.wants_number and not _NUMBER.search(sentence):
        return False
    return not (info.wants_date and not _DATE.search(sentence))
