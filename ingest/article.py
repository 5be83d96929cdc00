"""From a raw document to an Article: clean, find metadata, give it a stable id."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ingest.clean import clean_text, normalise, strip_markup
from ingest.errors import IngestError
from ingest.html import extract_html
from ingest.metadata import find_agency, find_date, find_title, parse_date
from ingest.raw import RawDoc
from vectorstore.records import Article

_TRACKING = re.compile(r"^(utm_|fbclid|gclid|mc_|ref$|cmpid|ocid)")
_MIN_WORDS = 8


def canonical_url(url: str) -> str | None:
    """The URL without tracking parameters, fragment and "www.", or None when it is not an http(s)
    URL with a host a browser could open ("http:javascript:alert(1)", "http://javascript:alert(1)")."""
    parts = urlsplit(url.strip())
    try:
        parts.port  # noqa: B018 - raises ValueError when the port is not a number
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or any(c.isspace() for c in parts.hostname):
        return None
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if not _TRACKING.match(k)])
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower().removeprefix("www."), path, query, ""))


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def normalised_for_hash(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def _outlet_from_url(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or None


def build_article(raw: RawDoc) -> Article:
    hints = dict(raw.hints)
    text = raw.text
    if raw.is_html:
        text, html_hints = extract_html(raw.text, hints.get("url"))
        hints = {**html_hints, **hints}
    else:
        text = strip_markup(text)
    hints = {k: " ".join(normalise(v).split()) for k, v in hints.items()}  # no invisible characters in titles either
    clean = clean_text(text)
    lines = clean.lines
    title = (hints.get("title") or "").strip() or find_title(clean)
    if title:
        lines = [ln for ln in lines if ln != title]
    body = "\n\n".join(lines)
    if len(body.split()) < _MIN_WORDS:
        raise IngestError("no article text left after removing page furniture")
    if not title:
        title = " ".join(body.split()[:12]) + "…"
    agency = find_agency(clean)
    published = parse_date(hints.get("published")) or find_date(clean)
    url = canonical_url(hints.get("url", ""))
    source = hints.get("source") or _outlet_from_url(url) or agency
    content_hash = _digest(normalised_for_hash(body))
    return Article(
        id=_digest(url) if url else content_hash, title=title, text=body, source=source,
        agency=agency, published=published, url=url,
        byline=hints.get("author") or (clean.bylines[0] if clean.bylines else None),
        content_hash=content_hash, sources=[source] if source else [], origin=raw.origin,
    )
