"""Source cards for the chat page, as HTML built here: every article-derived string is escaped,
and only http(s) links become links.

The panel keeps a section per answer, newest first, so an earlier answer keeps its sources. A
section has one card per article, listing each sentence quoted from it with its number; the
quote numbered n in answer t has the id `nb-a{t}-s{n}`, which the page's script (static/chat.js)
makes the answer's `[n]` bring into view."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chatbot.answer import Citation, human_date

NO_SOURCES = '<p class="nb-empty">The sources of each answer appear here.</p>'
CARDS_JS = (Path(__file__).resolve().parent / "static" / "chat.js").read_text(encoding="utf-8")
CARDS_CSS = """
.nb-answer-sources { margin: 0 0 1.2rem; scroll-margin-top: 0.5rem; }
.nb-answer-sources h4.nb-for { margin: 0 0 0.4rem; font-size: 0.9em; font-weight: 600;
  color: var(--body-text-color-subdued); }
.nb-sources { list-style: none; padding: 0; margin: 0; display: grid; gap: 0.6rem; }
.nb-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6rem 0.8rem; }
.nb-card .nb-title { font-weight: 600; }
.nb-card .nb-meta { display: block; color: var(--body-text-color-subdued); font-size: 0.85em; }
.nb-card blockquote { margin: 0.4rem 0 0; padding-left: 0.6rem; border-left: 3px solid var(--color-accent); }
.nb-card .nb-quotes { list-style: none; padding: 0; margin: 0; display: grid; gap: 0.35rem; }
.nb-card .nb-quote { margin: 0; padding: 0.1rem 0.2rem; border-radius: 4px; scroll-margin: 4rem; }
.nb-card .nb-n { font-weight: 600; margin-right: 0.3rem; }
.nb-card mark { background: var(--color-accent-soft); color: inherit; }
.nb-card .nb-quote.nb-hit { outline: 2px solid var(--color-accent); }
.nb-card .nb-said { display: block; font-size: 0.85em; color: var(--body-text-color-subdued); }
.nb-empty { color: var(--body-text-color-subdued); }
#nb-chat .nb-linked + .md:not(.nb-linked) { display: none; }
#nb-chat button.nb-ref { all: unset; cursor: pointer; color: var(--link-text-color, var(--color-accent));
  text-decoration: underline; text-underline-offset: 2px; }
#nb-chat button.nb-ref:focus-visible { outline: 2px solid var(--color-accent); border-radius: 2px; }
"""


def safe_url(url: str | None) -> str | None:
    """The URL when it is http(s) with a host a browser can parse; never javascript:, data: and the like,
    nor "http:///x" or "http://javascript:alert(1)" (no host, or a port that is not a number)."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    try:
        parts.port  # noqa: B018 - raises ValueError when the port is not a number
    except ValueError:
        return None
    host = parts.hostname or ""
    if parts.scheme not in {"http", "https"} or not host or any(c.isspace() for c in host):
        return None
    return url.strip()


def sources_panel(answers: Iterable[Mapping[str, Any]]) -> str:
    """A section per answer, newest first. Each answer is the JSON of an Answer with `turn`, the
    answer's place among the chat's replies (1 for the first), which makes its ids unique."""
    sections = [answer_sources(a["turn"], a["question"], [as_citation(c) for c in a["citations"]])
                for a in reversed(list(answers))]
    return "".join(sections) or NO_SOURCES


def as_citation(data: Mapping[str, Any] | Citation) -> Citation:
    return data if isinstance(data, Citation) else Citation(**data)


def answer_sources(turn: int, question: str, citations: list[Citation]) -> str:
    asked = question if len(question) <= 120 else question[:119] + "…"
    head = f'<h4 class="nb-for">Sources for “{escape(asked)}”</h4>'
    if not citations:
        body = '<p class="nb-empty">No sources for this answer.</p>'
    else:
        body = '<ol class="nb-sources">' + "".join(card(turn, quotes) for quotes in by_article(citations)) + "</ol>"
    return f'<section class="nb-answer-sources" id="nb-a{int(turn)}">{head}{body}</section>'


def by_article(citations: list[Citation]) -> list[list[Citation]]:
    """The citations grouped by article, in the order each article is first cited."""
    groups: dict[str, list[Citation]] = {}
    for c in citations:
        groups.setdefault(c.article_id, []).append(c)
    return list(groups.values())


def said_by(citation: Citation) -> str:
    """"— Emmanuel Macron" under a quoted sentence, naming who the quote index says spoke."""
    return f'<span class="nb-said">— {escape(citation.speaker)}</span>' if citation.speaker else ""


def card(turn: int, quotes: list[Citation]) -> str:
    """One article: its headline (a link only when its URL is http(s)), outlet and date, then each
    sentence quoted from it, numbered as the answer cites it."""
    first = quotes[0]
    title = escape(first.title or "Untitled article")
    url = safe_url(first.url)
    if url:
        title = f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer nofollow">{title}</a>'
    meta = " · ".join(escape(x) for x in (first.source, human_date(first.published)) if x)
    items = "".join(f'<li class="nb-quote" id="nb-a{int(turn)}-s{int(c.n)}" tabindex="-1"><span class="nb-n">[{int(c.n)}]</span>'
                    f"<mark>{escape(c.quote)}</mark>{said_by(c)}</li>" for c in quotes)
    return (f'<li class="nb-card"><span class="nb-title">{title}</span><span class="nb-meta">{meta}</span>'
            f'<blockquote><ol class="nb-quotes">{items}</ol></blockquote></li>')
