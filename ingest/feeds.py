"""RSS and Atom feeds through feedparser; each entry becomes a document."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import feedparser

from ingest.raw import Failure, Loaded, RawDoc

_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")


def declares_entities(data: bytes) -> bool:
    """True when the prolog (before the root element) declares XML entities."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        data = data.decode("utf-16", "ignore").encode("utf-8", "ignore")
    first = _FIRST_ELEMENT.search(data)
    return bool(_ENTITY_DECLARATION.search(data[: first.start() if first else len(data)]))


def drop_invalid_charrefs(data: bytes) -> bytes:
    """Remove character references to no character (NUL, surrogates, past U+10FFFF): feedparser
    raises on them mid-parse instead of reporting a malformed feed."""

    def keep(match: re.Match[bytes]) -> bytes:
        value = int(match.group(1), 16) if match.group(1) else int(match.group(2))
        return b"" if value == 0 or 0xD800 <= value <= 0xDFFF or value > 0x10FFFF else match.group()

    return _CHARREF.sub(keep, data)


def parse_feed(data: bytes, origin: str) -> Iterator[Loaded]:
    # Entity declarations are how "billion laughs" and external-entity (XXE) attacks start;
    # real feeds do not need them, so such a feed is refused as a whole.
    if declares_entities(data):
        yield Failure(origin, "feed declares XML entities (<!ENTITY>); refused: entity expansion and external "
                              "entities are not allowed")
        return
    # Bytes go in as a stream: feedparser reads a bytes or str argument that names a file or URL
    # as that file or URL, so a feed whose whole content was a path would read the path.
    # It hands XML to a non-resolving SAX parser: no external entities or DTDs are fetched.
    try:
        feed = feedparser.parse(io.BytesIO(drop_invalid_charrefs(data)), resolve_relative_uris=False, sanitize_html=True)
    except Exception as exc:  # a parser bug must cost one input, not the batch
        yield Failure(origin, f"feed does not parse ({type(exc).__name__}: {str(exc)[:120]})")
        return
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
