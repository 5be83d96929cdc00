"""RSS and Atom feeds through feedparser; each entry becomes a document."""

from __future__ import annotations

from collections.abc import Iterator

import feedparser

from ingest.sources import Failure, Loaded, RawDoc


def parse_feed(data: bytes, origin: str) -> Iterator[Loaded]:
    # feedparser hands XML to a non-resolving SAX parser: no external entities are fetched.
    feed = feedparser.parse(data, resolve_relative_uris=False, sanitize_html=True)
    if not feed.entries:
        reason = getattr(feed, "bozo_exception", None) or "no entries"
        yield Failure(origin, f"feed does not parse ({str(reason)[:120]})")
        return
    outlet = feed.feed.get("title")
    for i, entry in enumerate(feed.entries, 1):
        contents = entry.get("content") or []
        body = contents[0].get("value") if contents else entry.get("summary", "")
        if not body or not body.strip():
            yield Failure(f"{origin}#{i}", "feed entry has no text")
            continue
        hints = {
            "title": entry.get("title"),
            "url": entry.get("link"),
            "published": entry.get("published") or entry.get("updated"),
            "source": outlet,
            "author": entry.get("author"),
        }
        yield RawDoc(f"{origin}#{i}", body, is_html=True, hints={k: v for k, v in hints.items() if v})
