"""Sentence spans: a rule-based splitter that knows news abbreviations and quotes."""

from __future__ import annotations

import re

_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sen", "rep", "gov", "gen", "col", "lt", "sgt", "capt",
    "st", "jr", "sr", "no", "vs", "etc", "inc", "co", "corp", "ltd", "dept", "est", "approx",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "u.s", "u.k", "u.n", "e.u", "a.m", "p.m", "d.c", "pres", "atty", "mt", "ft",
}
_END = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s+["'“‘(\[]?[A-Z0-9])""")


def _is_abbreviation(text: str, end: int) -> bool:
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start:end].rstrip(".").lower().lstrip("(\"'“‘")
    return word in _ABBREV or (len(word) == 1 and word.isalpha())


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences; paragraph breaks always end a sentence."""
    spans: list[tuple[int, int]] = []
    for para in re.finditer(r"[^\n]+", text):
        start = para.start()
        body = para.group(0)
        for m in _END.finditer(body):
            if body[m.start()] == "." and _is_abbreviation(body, m.start()):
                continue
            spans.append((start, para.start() + m.end()))
            start = para.start() + m.end()
            while start < para.end() and text[start].isspace():
                start += 1
        if start < para.end():
            spans.append((start, para.end()))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def split_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]
