"""Article text and metadata from HTML, with text hidden from readers removed first."""

from __future__ import annotations

import re

import lxml.html
import trafilatura
from lxml import etree

_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0|opacity\s*:\s*0(?![.\d])", re.I)


def strip_hidden(html: str) -> str:
    """Drop comments, scripts and elements a reader cannot see (CSS-hidden, aria-hidden, hidden)."""
    try:
        parser = lxml.html.HTMLParser(remove_comments=True, huge_tree=False)
        root = lxml.html.document_fromstring(html, parser=parser)
    except (etree.ParserError, ValueError):
        return html
    for el in list(root.iter()):
        if not isinstance(el.tag, str):
            continue
        hidden = (
            el.tag in {"script", "style", "noscript", "template", "iframe", "object"}
            or el.get("hidden") is not None
            or el.get("aria-hidden") == "true"
            or _HIDDEN_STYLE.search(el.get("style") or "")
        )
        if hidden and el.getparent() is not None:
            el.drop_tree()
    return lxml.html.tostring(root, encoding="unicode")


def extract_html(html: str, url: str | None = None) -> tuple[str, dict[str, str]]:
    """(text, metadata) where metadata may hold title, published, source, author, url."""
    visible = strip_hidden(html)
    text = trafilatura.extract(visible, url=url, include_comments=False, include_tables=False,
                               favor_precision=True, deduplicate=True)
    if not text:
        text = trafilatura.extract(visible, url=url, include_comments=False, favor_recall=True)
    if not text:  # short fragments (feed summaries) that trafilatura finds too small
        try:
            text = lxml.html.fromstring(visible).text_content()
        except (etree.ParserError, ValueError):
            text = ""
    meta = trafilatura.extract_metadata(visible, default_url=url)
    hints: dict[str, str] = {}
    if meta is not None:
        for key, attr in (("title", "title"), ("published", "date"), ("source", "sitename"),
                          ("author", "author"), ("url", "url")):
            value = getattr(meta, attr, None)
            if value:
                hints[key] = str(value)
    return text or "", hints
