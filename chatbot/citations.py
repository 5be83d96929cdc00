"""Check every [n] marker an LLM wrote: it must name a given passage that supports the sentence.

Sentences whose markers all fail, or uncited sentences no passage supports, are dropped;
citations are renumbered in order of first use and quote the passage's best sentence.
"""

from __future__ import annotations

import re

from chatbot.answer import ABSTAIN_TEXT, Answer, Citation
from ingest.sentences import split_sentences
from vectorstore.indexes import tokenize
from vectorstore.records import Passage

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
SUPPORT = 0.5


def _terms(text: str) -> set[str]:
    return set(tokenize([_MARKER.sub(" ", text)])[0])


def best_sentence(claim: str, passage: Passage) -> tuple[str, float]:
    """The passage sentence sharing most of the claim's words, and that share."""
    claim_terms = _terms(claim)
    best, share = "", 0.0
    for sentence in split_sentences(passage.text):
        shared = len(claim_terms & _terms(sentence)) / max(1, len(claim_terms))
        if shared > share:
            best, share = sentence.strip(), shared
    return best, share


def check_citations(question: str, text: str, passages: list[Passage]) -> Answer:
    if ABSTAIN_TEXT.lower().rstrip(".") in text.lower():
        return Answer(question, ABSTAIN_TEXT, abstained=True, mode="llm")
    numbering: dict[int, int] = {}
    citations: list[Citation] = []
    kept: list[str] = []
    for sentence in split_sentences(text.strip()):
        claim = _MARKER.sub("", sentence).strip()
        if len(_terms(claim)) == 0:
            continue
        given = [int(n) for m in _MARKER.finditer(sentence) for n in m.group(1).split(",")]
        valid = []
        for n in given or range(1, len(passages) + 1):
            if 1 <= n <= len(passages):
                quote, share = best_sentence(claim, passages[n - 1])
                if share >= SUPPORT:
                    valid.append((n, quote, share))
        if not given and valid:
            valid = [max(valid, key=lambda v: v[2])]
        if not valid:
            continue  # unsupported: never shown as cited
        markers = []
        for n, quote, _ in valid:
            if n not in numbering:
                numbering[n] = len(numbering) + 1
                citations.append(Citation.of(numbering[n], passages[n - 1], quote))
            markers.append(f"[{numbering[n]}]")
        kept.append(f"{claim} {''.join(dict.fromkeys(markers))}")
    if not kept:
        return Answer(question, ABSTAIN_TEXT, abstained=True, mode="llm")
    return Answer(question, " ".join(kept), citations, mode="llm")
