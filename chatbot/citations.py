"""Check every [n] marker an LLM wrote: it must name a given passage that supports the sentence.

Sentences whose markers all fail, or uncited sentences no passage supports, are dropped;
citations are renumbered in order of first use and quote the passage's best sentence.

The passages are untrusted (anyone can write an article), so what the LLM writes is also made
inert before anyone sees it: markdown images and links, HTML tags and URLs other than the cited
articles' own are removed (a client that renders markdown would otherwise fetch them — a way to
leak the question to whoever wrote the article), and sentences that repeat the system prompt are
dropped. An LLM answer streams by checked sentence (`CheckedStream`): a sentence is shown only
once it has passed the check, so nothing shown is ever taken back. A sentence planted
in an article to instruct an AI ("Ignore the previous instructions…", "Assistant: …") is never
the evidence for a claim, unless the question asks about it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

import prompts
from chatbot.answer import ABSTAIN_TEXT, Answer, Citation
from text.sentences import sentence_spans, split_sentences
from vectorstore.indexes import tokenize
from vectorstore.records import Passage

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
SUPPORT = 0.5

# -- markup that makes a client fetch or link somewhere -----------------------------------------

_MD_IMAGE = re.compile(r"!\[[^\]\n]{0,300}\]\s*(?:\([^)\n]*\)?|\[[^\]\n]*\]?)")  # ![alt](url), ![alt][ref]
_MD_LINK = re.compile(r"\[([^\]\n]{0,300})\]\(\s*([^)\s]*)[^)\n]*\)")  # [text](url "title")
_MD_REFERENCE = re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*<?(?:[a-z][a-z0-9+.-]*:|/|www\.)\S*.*$", re.M | re.I)  # [ref]: url
_HTML_TAG = re.compile(r"</?[a-z!?][^<>]*>?", re.I)  # <img …>, <a …>, <http://…>, <!-- …
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


class CheckedStream:
    """LLM text in, checked sentences out: tokens are held until their sentence ends, then the
    sentence is checked (its [n] markers against the passages, see `check`) and sent, or dropped.
    What is sent is final: the answer is exactly the concatenation of the pieces sent.

    feed(piece) returns what may be shown now (possibly ""); flush() returns the rest once the
    LLM has finished; answer() is the checked Answer. A sentence ends where `split_sentences`
    ends it, which it can only tell once the next sentence has begun (or a line has ended)."""

    def __init__(self, question: str, passages: list[Passage]) -> None:
        self.question, self.passages = question, passages
        self.buffer = ""  # text not yet cut into sentences
        self.numbering: dict[int, int] = {}  # passage number -> citation number, in order of first use
        self.citations: list[Citation] = []
        self.kept: list[str] = []
        self.abstained = False  # the LLM said it cannot answer before any sentence was kept
        self.sent = ""

    def feed(self, piece: str) -> str:
        self.buffer += piece
        spans = sentence_spans(self.buffer)
        if spans and "\n" not in self.buffer[spans[-1][1]:]:
            spans = spans[:-1]  # the last sentence may still grow
        if not spans:
            return ""
        sentences = [self.buffer[s:e] for s, e in spans]
        self.buffer = self.buffer[spans[-1][1]:].lstrip()
        return self._send("".join(self._checked(s) for s in sentences))

    def flush(self) -> str:
        sentences = split_sentences(self.buffer)
        self.buffer = ""
        shown = "".join(self._checked(s) for s in sentences)
        if not self.kept:
            shown = ABSTAIN_TEXT  # nothing supported (or the LLM said so): the abstention is the answer
        return self._send(shown)

    def answer(self) -> Answer:
        """The answer as sent so far (call flush() first for the whole of it)."""
        if not self.kept:
            return Answer(self.question, ABSTAIN_TEXT, abstained=True, mode="llm")
        return Answer(self.question, self.sent, list(self.citations), mode="llm")

    def _send(self, text: str) -> str:
        self.sent += text
        return text

    def _checked(self, sentence: str) -> str:
        """The sentence as shown (" " first unless it opens the answer), or "" when dropped."""
        if self.abstained:
            return ""
        if ABSTAIN_TEXT.lower().rstrip(".") in sentence.lower():
            self.abstained = not self.kept  # after a checked sentence, it is only a sentence to drop
            return ""
        claim = self.check(sentence)
        if claim is None:
            return ""
        self.kept.append(claim)
        return claim if len(self.kept) == 1 else " " + claim

    def check(self, sentence: str) -> str | None:
        """The sentence with its markers renumbered and nothing a renderer would fetch, or None when
        it is dropped: it repeats the rules, says nothing or what was said, or no passage it names
        (none named: any passage) supports it."""
        if echoes_prompt(sentence):
            return None  # the rules are not news, and never shown
        bare = " ".join(inert(_MARKER.sub("", sentence)).split())  # the claim without markup or any URL
        if len(_terms(bare)) == 0 or any(bare in k for k in self.kept):
            return None  # nothing to check, or said already
        given = [int(n) for m in _MARKER.finditer(sentence) for n in m.group(1).split(",")]
        valid = []
        for n in given or range(1, len(self.passages) + 1):
            if 1 <= n <= len(self.passages):
                quote, share = best_sentence(bare, self.passages[n - 1], self.question)
                if share >= SUPPORT:
                    valid.append((n, quote, share))
        if not given and valid:
            valid = [max(valid, key=lambda v: v[2])]
        if not valid:
            return None  # unsupported: never shown as cited
        markers = []
        for n, quote, _ in valid:
            if n not in self.numbering:
                self.numbering[n] = len(self.numbering) + 1
                self.citations.append(Citation.of(self.numbering[n], self.passages[n - 1], quote))
            markers.append(f"[{self.numbering[n]}]")
        cited_urls = [self.passages[n - 1].url or "" for n, _, _ in valid]
        claim = " ".join(inert(_MARKER.sub("", sentence), cited_urls).split())
        return f"{claim} {''.join(dict.fromkeys(markers))}"


def check_citations(question: str, text: str, passages: list[Passage]) -> Answer:
    """The checked answer to a whole LLM text: the same check, and the same answer, as streaming it."""
    checked = CheckedStream(question, passages)
    checked.feed(text.strip())
    checked.flush()
    return checked.answer()
