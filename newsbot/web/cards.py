"""Source cards for the chat page, as HTML built here: every article-derived string is escaped,
and only http(s) links become links."""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from chatbot.answer import Answer, Citation, human_date

CARDS_CSS = """
.nb-sources { list-style: none; padding: 0; margin: 0; display: grid; gap: 0.6rem; }
.nb-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6rem 0.8rem; }
.nb-card .nb-n { font-weight: 600; margin-right: 0.3rem; }
.nb-card .nb-title { font-weight: 600; }
.nb-card .nb-meta { display: block; color: var(--body-text-color-subdued); font-size: 0.85em; }
.nb-card blockquote { margin: 0.4rem 0 0; padding-left: 0.6rem; border-left: 3px solid var(--color-accent); }
.nb-card mark { background: var(--color-accent-soft); color: inherit; }
.nb-empty { color: var(--body-text-color-subdued); }
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


def source_cards(answer: Answer) -> str:
    if not answer.citations:
        return '<p class="nb-empty">No sources for this answer.</p>'
    return '<ol class="nb-sources">' + "".join(card(c) for c in answer.citations) + "</ol>"


def card(c: Citation) -> str:
    title = escape(c.title or "Untitled article")
    url = safe_url(c.url)
    if url:
        title = f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer nofollow">{title}</a>'
    meta = " · ".join(escape(x) for x in (c.source, human_date(c.published)) if x)
    return (f'<li class="nb-card" id="nb-source-{c.n}"><span class="nb-n">[{c.n}]</span>'
            f'<span class="nb-title">{title}</span><span class="nb-meta">{meta}</span>'
            f"<blockquote><mark>{escape(c.quote)}</mark></blockquote></li>")
