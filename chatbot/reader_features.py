"""The reader's view of a question: every candidate sentence of the retrieved passages, described
by features newsbot computes anyway (coverage, ranks, dense similarity, answer type, freshness,
agreement between passages). The same function builds training rows and scores live answers."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from text.sentences import split_sentences
from vectorstore.indexes import tokenize

_WH_WORDS = ("say said says tell told think call called according report reported news article what who whom whose "
             "which when where why how did does do doing done is are was were be been being many much about could "
             "would should might may can will also has have had there their they them this that these those me us "
             "please give show explain describe summarise summarize know anything something latest")
NOISE = set(tokenize([_WH_WORDS])[0])

_CAP = re.compile(r"\b[A-Z][\w’'&.-]*[\w]")
_NUM = re.compile(r"\b\d[\d,.]*\b|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
                  r"fifty|hundred|thousand|million|billion|trillion|dozen|half)\b", re.I)
_MONTH = re.compile(r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December|"
                    r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_QUOTE = re.compile(r"[“”\"]")
_COMMON_CAPS = {"The", "A", "An", "In", "On", "At", "But", "And", "It", "He", "She", "They", "We", "I", "This", "That",
                "These", "Those", "His", "Her", "Their", "Its", "Our", "As", "For", "If", "When", "While", "After",
                "Before", "With", "By", "From", "Of", "To", "Mr", "Mrs", "Ms", "Dr", "There", "What", "Who", "So",
                "Yes", "No", "According", "However", "Also", "Some", "Many", "More", "Most", "One", "Two", "Read",
                "Photo", "Image", "Getty", "Images", "AP", "Reuters", "AFP", "CNN", "BBC", "Click", "Sign", "Advertisement"}

QTYPES = ("who", "place", "org", "number", "date", "yesno", "which", "what")
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

FEATURES = (
    "cov", "ctx_cov", "title_cov", "passage_cov", "matched_idf", "cov_gap",
    "inv_rank", "fused_rel", "dense_sim", "has_dense", "inv_dense_rank", "inv_lex_rank",
    "position", "lead", "log_words", "is_quote", "by_speaker",
    "novel_caps", "novel_nums", "has_month", "has_year", "novel_agree", "title_caps", "title_agree",
    "fresh", "future", "log_age",
    "unknown_share", "q_terms",
    *(f"q_{t}" for t in QTYPES),
    "who_caps", "place_caps", "org_caps", "which_caps", "number_nums", "date_month", "date_year",
)


def question_type(question: str) -> str:
    for name, pattern in _QT_PATTERNS:
        if pattern.search(question):
            return name
    return "what"


@dataclass
class PassageView:
    """A retrieved passage with the signals retrieval already had for it."""

    text: str
    title: str = ""
    published: str | None = None
    fused: float = 0.0
    dense_sim: float | None = None
    dense_rank: int | None = None
    lex_rank: int | None = None


@dataclass
class Sentence:
    text: str
    passage: int  # index into the passages read
    position: int  # sentence index within the passage
    words: set[str] = field(default_factory=set)


def _caps(sentence: str) -> set[str]:
    found = set()
    for m in _CAP.finditer(sentence):
        word = m.group(0).rstrip(".")
        if word not in _COMMON_CAPS and len(word) > 1:
            found.add(word.lower())
    return found


def _days(as_of: str | None, published: str | None) -> int | None:
    if not as_of or not published:
        return None
    try:
        return (date.fromisoformat(as_of[:10]) - date.fromisoformat(published[:10])).days
    except ValueError:
        return None


def sentences_of(passages: Sequence[PassageView]) -> tuple[list[Sentence], list[set[str]]]:
    """The candidate sentences (each once, four words or more) and each passage's headline words,
    tokenised in one call (per-call overhead dominated when it was one call per passage)."""
    split = [split_sentences(p.text) for p in passages]
    flat = [s for parts in split for s in parts]
    words = tokenize(flat + [p.title for p in passages]) if flat or passages else []
    titles = [set(w) for w in words[len(flat):]]
    out: list[Sentence] = []
    seen: set[str] = set()
    i = 0
    for pi, parts in enumerate(split):
        for si, s in enumerate(parts):
            w = words[i]
            i += 1
            key = s.strip()
            if key in seen or len(key.split()) < 4:
                continue
            seen.add(key)
            out.append(Sentence(key, pi, si, set(w)))
    return out, titles


def featurize(question: str, passages: Sequence[PassageView], idf: Callable[[str], float],
              known: Callable[[str], bool], as_of: str | None = None,
              speaker_sentences: Sequence[str] = ()) -> tuple[list[Sentence], np.ndarray]:
    """(candidate sentences, their feature matrix) for one question."""
    sents, titles = sentences_of(passages)
    if not sents:
        return sents, np.zeros((0, len(FEATURES)), dtype=np.float32)
    all_terms = [t for t in dict.fromkeys(tokenize([question])[0]) if t not in NOISE]
    terms = [t for t in all_terms if known(t)]
    weights = {t: idf(t) for t in terms}
    total = sum(weights.values()) or 1.0
    total_all = sum(idf(t) for t in all_terms)
    unknown = (sum(idf(t) for t in all_terms if not known(t)) / total_all) if total_all else 1.0
    qtype = question_type(question)
    q_lower = question.lower()
    q_caps = _caps(question) | set(q_lower.split())
    q_nums = set(_NUM.findall(q_lower))

    passage_words: list[set[str]] = [set() for _ in passages]
    for s in sents:
        passage_words[s.passage] |= s.words
    by_passage: dict[int, list[Sentence]] = {}
    for s in sents:
        by_passage.setdefault(s.passage, []).append(s)
    max_fused = max((p.fused for p in passages), default=1.0) or 1.0

    def cov(words: set[str]) -> float:
        return sum(w for t, w in weights.items() if t in words) / total

    novel = [_caps(s.text) - q_caps for s in sents]
    cap_passages: dict[str, set[int]] = {}
    for s, caps in zip(sents, novel):
        for c in caps:
            cap_passages.setdefault(c, set()).add(s.passage)
    title_novel = [_caps(p.title) - q_caps for p in passages]
    for pi, caps in enumerate(title_novel):
        for c in caps:
            cap_passages.setdefault(c, set()).add(pi)
    n_pass = max(1, len(passages))
    speaker_set = [x.strip() for x in speaker_sentences]

    rows = []
    covs = [cov(s.words) for s in sents]
    best_cov = max(covs)
    for i, s in enumerate(sents):
        p = passages[s.passage]
        prev = by_passage[s.passage]
        before = next((x.words for x in prev if x.position == s.position - 1), set())
        c = covs[i]
        ctx = cov(s.words | before | titles[s.passage])
        caps = novel[i]
        nums = set(_NUM.findall(s.text.lower())) - q_nums
        has_month = 1.0 if _MONTH.search(s.text) else 0.0
        has_year = 1.0 if _YEAR.search(s.text) else 0.0
        agree = max((len(cap_passages[x]) for x in caps), default=0) / n_pass
        t_caps = title_novel[s.passage]
        t_agree = max((len(cap_passages[x]) for x in t_caps), default=0) / n_pass
        days = _days(as_of, p.published)
        n_caps = min(len(caps), 5) / 5
        n_nums = 1.0 if nums else 0.0
        qt = {t: 1.0 if qtype == t else 0.0 for t in QTYPES}
        rows.append([
            c, ctx, cov(titles[s.passage]), cov(passage_words[s.passage]),
            sum(w for t, w in weights.items() if t in s.words) / 10, c - best_cov,
            1 / (1 + s.passage), p.fused / max_fused,
            p.dense_sim if p.dense_sim is not None else 0.0, 1.0 if p.dense_sim is not None else 0.0,
            1 / (1 + p.dense_rank) if p.dense_rank is not None else 0.0,
            1 / (1 + p.lex_rank) if p.lex_rank is not None else 0.0,
            min(s.position, 20) / 20, 1.0 if s.position == 0 else 0.0,
            math.log(1 + len(s.text.split())) / 4, 1.0 if _QUOTE.search(s.text) else 0.0,
            1.0 if any(x in s.text or s.text in x for x in speaker_set) else 0.0,
            n_caps, n_nums, has_month, has_year, agree, min(len(t_caps), 5) / 5, t_agree,
            1.0 if days is not None and 0 <= days <= 8 else 0.0,
            1.0 if days is not None and days < -1 else 0.0,
            math.log(1 + abs(days)) / 6 if days is not None else 0.5,
            unknown, min(len(terms), 12) / 12,
            *(qt[t] for t in QTYPES),
            qt["who"] * n_caps, qt["place"] * n_caps, qt["org"] * n_caps, qt["which"] * n_caps,
            qt["number"] * n_nums, qt["date"] * has_month, qt["date"] * has_year,
        ])
    return sents, np.asarray(rows, dtype=np.float32)
