"""Remove page furniture from article text while keeping every sentence of the story.

The rules describe kinds of furniture that recur across outlets (donation appeals,
newsletter and cookie boxes, share bars, related-link lists, photo credits, trailing
widgets after the copyright line), never one site's strings.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Characters that hide text from a reader but not from a model: zero-width characters, joiners
# and fillers, bidi controls, the soft hyphen, interlinear annotation marks, the Unicode "tag" block
# (ASCII smuggling: every letter has an invisible twin at U+E0000 + its code) and the variation
# selectors (bytes smuggled after a visible character, one selector each).
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb\U0001d173-\U0001d17a\U000e0000-\U000e007f"
    "\U000e0100-\U000e01ef]"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

_UI_TOKENS = {
    "advertisement", "advertising", "ad", "sponsored", "sponsored content", "close", "menu",
    "search", "share", "share this", "share this article", "tweet", "email", "print", "comments",
    "comment", "skip to content", "skip to main content", "sign in", "log in", "login",
    "subscribe", "follow", "read more", "show more", "load more", "related", "related articles",
    "related stories", "most read", "most popular", "trending", "watch", "listen", "copy link",
    "link copied", "facebook", "twitter", "x", "whatsapp", "linkedin", "reddit", "pinterest",
    "instagram", "next", "previous", "back to top", "top", "more", "video", "photos", "gallery",
    "home", "news", "opinion contributor", "contributing", "developments:", "sign up", "sign up now",
}
# Headers that open a list of links to other stories: the headline-shaped lines after them go too.
_LIST_HEADERS = {"related", "related articles", "related stories", "more stories", "read more", "most read",
                 "most popular", "trending", "you may also like", "recommended", "more from", "latest news"}

# Phrases that only furniture uses: appeals for money, newsletters, cookie banners,
# app promotion, links to elsewhere, affiliate notes, author contact boxes.
_FURNITURE = re.compile(
    r"""(
      we\ need\ your\ help | readers\ like\ you | please\ (contribute|donate|support|subscribe)
    | (make|making)\ a\ (contribution|donation) | donat(e|ion)\ (now|today) | support\ (our|us|independent)
    | advertising\ revenue | become\ a\ (member|subscriber|supporter) | already\ a\ (member|subscriber)
    | subscribe\ (now|today|to\ our|for) | sign\ up\ (for|to|now|here) | (in|to)\ your\ inbox
    | our\ \w+(\ \w+)?\ newsletter | newsletter\ sign | enter\ your\ email | by\ signing\ up
    | (we|this\ (site|website))\ uses?\ cookies | cookie\ (policy|settings|preferences) | accept\ (all\ )?cookies
    | (read|see|our)\ privacy\ policy | terms\ of\ (use|service) | all\ rights\ reserved
    | check\ out\ (our|the\ all\ new) | want\ to\ know\ more | click\ here | read\ more\ (about|here|:)
    | follow\ us\ on | download\ (our|the)\ (free\ )?app | get\ the\ app | the\ .{1,30}\ app\ gets\ you
    | if\ you\ (make|buy)\ a\ purchase | we\ (may\ )?(earn|receive)\ a\ commission | affiliate\ link
    | occasionally\ recommend | reach\ (him|her|them)\ at | (email|contact)\ (him|her|them)\ at
    | need\ a\ news\ break | puzzles,\ games | escape\ your\ echo\ chamber | exclusive\ betting
    | this\ (story|article)\ has\ been\ updated\ with\ new\ information | ^contributing:
    )""",
    re.VERBOSE,  # matched against the lowercased line: IGNORECASE made this scan 3x slower
)

_CREDIT = (r"(?:[A-Z]{2,6}(?:/[A-Z][\w ]{1,20})?|Getty Images.*|Reuters|Shutterstock|Alamy|Sipa.*"
           r"|(?:Photo|Image|Picture|Credit)s?:.*|Rolling News)")
_LONE_CREDIT = re.compile(rf"^(?:{_CREDIT}|\(?(?:Photo|Image) by .*\)?)$")
_CAPTION = re.compile(rf"[.!?]\s+{_CREDIT}$")
_CLOCK = re.compile(r"\d{1,2}[:.]\d{2}\s*[ap]\.?m\.?", re.IGNORECASE)  # "11:16 a.m. ET" is a time, not a credit
_COPYRIGHT = re.compile(r"^(?:©|\(c\)|copyright\b)", re.IGNORECASE)
_DATELINE = re.compile(
    r"^(?:last\s+update[d]?|updated|published|posted|first\s+published)\b.{0,60}$", re.IGNORECASE
)
_BYLINE = re.compile(r"^(?i:by)\s+([A-Z][\w.'-]+(?:\s+(?:and\s+)?[A-Z][\w.'-]+){0,5})\s*(?:[,|].*)?$")
_SENTENCE_END = re.compile(r"[.!?…:;\"”’)\]]$")


@dataclass
class CleanText:
    lines: list[str]
    dropped: list[str] = field(default_factory=list)
    copyright: list[str] = field(default_factory=list)
    datelines: list[str] = field(default_factory=list)
    bylines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(self.lines)


def normalise(raw: str) -> str:
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub("", text)
    return text.replace("\u00a0", " ")


_MARKUP_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)|^\[//\]: ?#[^\n]*$", re.S | re.M)  # HTML comment, markdown "[//]: #"
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_MD_LINK = re.compile(r"(?<!!)\[([^\]\n]+)\]\([^)\n]*\)")


def strip_markup(text: str) -> str:
    """Plain text as a reader of the rendered page sees it: comments and images are not shown,
    a link shows its words. (Text planted there for a model is removed like CSS-hidden text.)"""
    text = _MARKUP_COMMENT.sub("", text)
    text = _MD_IMAGE.sub("", text)
    return _MD_LINK.sub(r"\1", text)


def _is_furniture(line: str) -> bool:
    bare = line.strip(" .:|•·-–—>»").lower()
    if bare in _UI_TOKENS or not bare:
        return True
    if _LONE_CREDIT.match(line) or (_CAPTION.search(line) and not _CLOCK.search(line)):
        return True
    if len(line.split()) <= 4 and line.endswith(("—", "–")):  # "Washington CNN —" dateline stubs
        return True
    return bool(_FURNITURE.search(line.lower())) and len(line.split()) < 60


def _is_list_item(line: str) -> bool:
    return len(line.split()) <= 4 and not _SENTENCE_END.search(line)


def _drop_link_lists(lines: list[str], dropped: list[str], run: int = 4) -> list[str]:
    """Runs of several short unpunctuated lines are menus or related-link lists."""
    kept: list[str] = []
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and _is_list_item(lines[j]):
            j += 1
        if j - i >= run:
            dropped.extend(lines[i:j])
        else:
            kept.extend(lines[i : max(j, i + 1)])
        i = max(j, i + 1)
    return kept


def clean_text(raw: str) -> CleanText:
    """Split into lines, drop furniture and return the story's lines in order."""
    lines = [re.sub(r"[ \t]+", " ", ln).strip() for ln in normalise(raw).split("\n")]
    lines = [ln for ln in lines if ln]
    out = CleanText(lines=[])
    seen: set[str] = set()
    kept: list[str] = []
    in_link_list = False
    for i, line in enumerate(lines):
        line = line.lstrip("#").strip() if line.startswith("#") else line  # markdown headings
        if in_link_list and not _SENTENCE_END.search(line):
            out.dropped.append(line)
            continue
        in_link_list = line.strip(" .:|").lower() in _LIST_HEADERS
        if _COPYRIGHT.match(line):
            out.copyright.append(line)
            if i >= len(lines) // 2:  # the copyright line closes the story: the rest is widgets
                out.dropped.extend(lines[i + 1 :])
                break
            continue
        if _DATELINE.match(line):
            out.datelines.append(line)
            continue
        byline = _BYLINE.match(line)
        if byline and len(line.split()) <= 12:
            out.bylines.append(byline.group(1))
            continue
        if _is_furniture(line) or line in seen:
            out.dropped.append(line)
            continue
        seen.add(line)
        kept.append(line)
    out.lines = _drop_link_lists(kept, out.dropped)
    return out


def looks_like_headline(line: str) -> bool:
    words = line.split()
    return 3 <= len(words) <= 25 and not re.search(r"[.!]$", line)
