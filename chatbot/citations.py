"""Check every [n] marker an LLM wrote: it must name a given passage that supports the sentence.

Sentences whose markers all fail, or uncited sentences no passage supports, are dropped;
citations are renumbered in order of first use and quote the passage's best sentence.

The passages are untrusted (anyone can write an article), so what the LLM writes is also made
inert before anyone sees it: markdown images and links, HTML tags and URLs other than the cited
articles' own are removed (a client that renders markdown would otherwise fetch them — a way to
leak the question to whoever wrote the article), and sentences that repeat the system prompt are
dropped. `StreamGuard` does the same to the tokens streamed before the check. A sentence planted
in an article to instruct an AI ("Ignore the previous instructions…", "Assistant: …") is never
the evidence for a claim, unless the question asks about it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

import prompts
from chatbot.answer import ABSTAIN_TEXT, Answer, Citation
from text.sentences import split_sentences
from vectorstore.indexes import tokenize
from vectorstore.records import Passage

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
SUPPORT = 0.5

# -- markup that makes a client fetch or link somewhere -----------------------------------------

_MD_IMAGE = re.compile(r"!\[[^\]\n]{0,300}\]\s*(?:\([^)\n]*\)?|\[[^\]\n]*\]?)")  # ![alt](url), ![alt][ref]
_MD_LINK = re.compile(r"\[([^\]\n]{0,300})\]\(\s*([^)\s]*)[^)\n]*\)")  # [text](url "title")
_MD_REFERENCE = re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*<?(?:[a-z][a-z0-9+.-]*:|/|www\.)\S*.*$", re.M | re.I)  # [ref]: url
_HTML_TAG = re.compile(r"</?[a-z!?][^<>]*>?", re.I)  # <img …>, <a …>, <http://…>, <!-- …
_CLOSED_TAG = re.compile(r"</?[a-z!?][^<>]*>", re.I)
_OPEN_TAG = re.compile(r"</?[a-z!?][^<>]*$", re.I)  # a tag still being written
_TAG_HOLD = 500  # characters of an unclosed tag held back before giving up waiting for its ">"
_URL = re.compile(r"(?:\b[a-z][a-z0-9+.-]{0,20}://|\bwww\.|\b(?:data|javascript|vbscript|file|mailto):(?=\S))[^\s<>\"'`]*",
                  re.I)
_URL_TAIL = ".,;:!?)]}'\""


def _same_url(url: str, allowed: set[str]) -> bool:
    return url.rstrip("/").lower() in allowed


def inert(text: str, allowed_urls: Iterable[str] = ()) -> str:
    """`text` with nothing a markdown or HTML renderer would fetch or turn into a link: images are
    removed, links keep their text, tags and URLs go, except URLs in `allowed_urls` (the cited
    articles' own), which stay as plain text. Works on any piece that ends at a word boundary."""
    allowed = {u.rstrip("/").lower() for u in allowed_urls if u}

    def link(m: re.Match[str]) -> str:
        text, url = m.group(1), m.group(2)
        return f"{text} ({url})" if _same_url(url, allowed) else text

    def url(m: re.Match[str]) -> str:
        found = m.group(0)
        bare = found.rstrip(_URL_TAIL)
        return found if _same_url(bare, allowed) else found[len(bare):]

    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(link, text)
    text = _MD_REFERENCE.sub("", text)
    text = _HTML_TAG.sub("", text)
    text = _URL.sub(url, text)
    # What is left of a construct cut by the stream, or written oddly, can no longer form one.
    return text.replace("![", "[").replace("](", "] (")


# -- the system prompt must not be repeated -------------------------------------------------------

_SHINGLE = 6  # words in a row shared with the system prompt that count as repeating it


def _words(text: str) -> list[str]:
    return [w for w in (re.sub(r"[^\w']", "", t.lower()) for t in text.split()) if w]


@cache
def _prompt_shingles() -> frozenset[tuple[str, ...]]:
    """Every run of _SHINGLE words in the system prompt, except the abstain sentence it quotes."""
    words = _words(prompts.load("answer_system").render().replace(ABSTAIN_TEXT, " "))
    return frozenset(tuple(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1))


def echoes_prompt(text: str) -> bool:
    """True when `text` repeats _SHINGLE or more words in a row of the system prompt."""
    words, shingles = _words(text), _prompt_shingles()
    return any(tuple(words[i : i + _SHINGLE]) in shingles for i in range(len(words) - _SHINGLE + 1))


class StreamGuard:
    """Makes streamed LLM text inert as it arrives: a word is released once the next one has begun
    (so a URL or markup is seen whole), and the last _SHINGLE - 1 words are held back so that a
    run repeating the system prompt is caught before any of it is shown.

    feed(piece) returns what may be shown now (possibly ""); flush() returns the rest."""

    def __init__(self, allowed_urls: Iterable[str] = ()) -> None:
        self.allowed_urls = [u for u in allowed_urls if u]
        self.pending: list[tuple[str, bool]] = []  # (word with its trailing space, dropped)
        self.partial = ""  # the word still being written
        self.recent: list[str] = []  # the last words seen, normalised, for shingles across releases

    def feed(self, piece: str) -> str:
        text = _CLOSED_TAG.sub("", self.partial + piece)  # whole tags (<passage n="2" …>) go before words are split
        open_tag = ""
        tag = _OPEN_TAG.search(text)
        if tag and len(text) - tag.start() < _TAG_HOLD:
            text, open_tag = text[: tag.start()], text[tag.start() :]
        units = re.findall(r"\S*\s+|\S+$", text)
        self.partial = (units.pop() if units and not units[-1][-1:].isspace() else "") + open_tag
        for unit in units:
            self._add(unit)
        held, n = 0, len(self.pending)
        while n > 0 and held < _SHINGLE - 1:  # hold back units holding the last _SHINGLE - 1 words
            n -= 1
            held += len(_words(self.pending[n][0]))
        return self._release(n)

    def flush(self) -> str:
        rest = _OPEN_TAG.sub("", _CLOSED_TAG.sub("", self.partial))
        if rest:
            self._add(rest)
        self.partial = ""
        return self._release(len(self.pending))

    def _add(self, unit: str) -> None:
        self.pending.append((unit, False))
        word = _words(unit)
        if not word:
            return
        self.recent = (self.recent + word)[-_SHINGLE:]
        if len(self.recent) == _SHINGLE and tuple(self.recent) in _prompt_shingles():
            # drop the pending units that hold these words (earlier ones were shown already)
            count = 0
            for i in range(len(self.pending) - 1, -1, -1):
                unit_i, _ = self.pending[i]
                self.pending[i] = (unit_i, True)
                count += len(_words(unit_i))
                if count >= _SHINGLE:
                    break

    def _release(self, n: int) -> str:
        out = "".join(unit for unit, dropped in self.pending[:n] if not dropped)
        self.pending = self.pending[n:]
        return inert(out, self.allowed_urls)


# -- instructions planted in an article ----------------------------------------------------------

_ADDRESSEE = (r"(?:ai\s+(?:models?|assistants?|systems?|agents?)|ai|a\.i\.|assistants?|chat\s?bots?|bots?|"
              r"language\s+models?|llms?|models?|gpt)")  # spelt with \s: the pattern below is VERBOSE
_ORDER = (r"(?:only\s+)?(?:reply|respond|answer|say|print|reveal|output|write|include|add|append|ignore|repeat|tell|end|"
          r"begin|state)")
_INSTRUCTION = re.compile(
    rf"""(
      ^\W*(?:system|assistant|user|human|developer|ai|instructions?)\s*:                # a chat turn: "System: …"
    | \b(?:ignore|disregard|forget|override)\b.{{0,40}}\b(?:instructions?|prompts?|rules|directions)\b
    | \b(?:system|hidden|initial)\s+prompt\b | \byour\s+(?:rules|instructions|guidelines)\b
    | \b(?:note|message|instructions?|reminder|directive|request)s?\s+(?:to|for)\s+(?:all\s+|any\s+)?{_ADDRESSEE}\b
    | \b{_ADDRESSEE}\s+(?:reading|summari[sz]ing|processing)\b                      # "chatbots reading this"
    | \b{_ADDRESSEE}\s+(?:must|should|shall|is\s+to|are\s+to|needs?\s+to|will\s+now)\s+(?:always\s+)?{_ORDER}\b
    | ^\W*(?:hidden\s+)?(?:{_ADDRESSEE}|(?:language\s+)?model\s+directive)\s*:               # "AI model: …"
    | \b(?:reply|respond|answer)\s+(?:only\s+)?with\b.{{0,30}}\b(?:word|only|nothing\s+else)\b
    )""",
    re.IGNORECASE | re.VERBOSE,
)


def looks_like_instruction(sentence: str) -> bool:
    """True for a sentence that gives orders to an AI reading the article (planted instructions,
    fake chat turns), which can never be the evidence for an answer."""
    return bool(_INSTRUCTION.search(sentence))


# -- the check ----------------------------------------------------------------------------------

def _terms(text: str) -> set[str]:
    return set(tokenize([_MARKER.sub(" ", text)])[0])


def best_sentence(claim: str, passage: Passage, question: str | None = None) -> tuple[str, float]:
    """The passage sentence sharing most of the claim's words, and that share. Instructions planted
    in the passage do not count, unless the question is about them (shares half its words with one)."""
    claim_terms = _terms(claim)
    asked = _terms(question) if question else set()
    best, share = "", 0.0
    for sentence in split_sentences(passage.text):
        terms = _terms(sentence)
        if looks_like_instruction(sentence) and len(asked & terms) < max(1, len(asked)) / 2:
            continue
        shared = len(claim_terms & terms) / max(1, len(claim_terms))
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
        if echoes_prompt(sentence):
            continue  # the rules are not news, and never shown
        bare = " ".join(inert(_MARKER.sub("", sentence)).split())  # the claim without markup or any URL
        if len(_terms(bare)) == 0 or any(bare in k for k in kept):
            continue  # nothing to check, or said already
        given = [int(n) for m in _MARKER.finditer(sentence) for n in m.group(1).split(",")]
        valid = []
        for n in given or range(1, len(passages) + 1):
            if 1 <= n <= len(passages):
                quote, share = best_sentence(bare, passages[n - 1], question)
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
        cited_urls = [passages[n - 1].url or "" for n, _, _ in valid]
        claim = " ".join(inert(_MARKER.sub("", sentence), cited_urls).split())
        kept.append(f"{claim} {''.join(dict.fromkeys(markers))}")
    if not kept:
        return Answer(question, ABSTAIN_TEXT, abstained=True, mode="llm")
    return Answer(question, " ".join(kept), citations, mode="llm")
