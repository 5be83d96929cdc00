"""Read sources (files, folders, JSON/JSONL, HTML, RSS/Atom, URLs) into raw documents.

Each loader yields either a RawDoc or a Failure naming the input and the reason, so one
bad input never stops the batch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.errors import IngestError

TEXT_SUFFIXES = {".txt", ".md"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json", ".jsonl"}
FEED_SUFFIXES = {".rss", ".atom", ".xml"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES | FEED_SUFFIXES

_BODY_FIELDS = ("body", "text", "content")
_DATE_FIELDS = ("published_at", "published", "date")
_HTML_TAG = re.compile(r"<(p|div|article|br|html|body)\b", re.IGNORECASE)


@dataclass
class RawDoc:
    origin: str
    text: str
    is_html: bool = False
    hints: dict[str, str] = field(default_factory=dict)  # title, url, published, source, author


@dataclass
class Failure:
    origin: str
    reason: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.reason}"


Loaded = RawDoc | Failure


def iter_sources(sources: list[str], max_bytes: int, max_decompressed: int, timeout: float,
                 allow_private: bool = False) -> Iterator[Loaded]:
    for source in sources:
        if source.startswith(("http://", "https://")):
            from ingest.fetch import load_url

            yield from load_url(source, max_bytes, timeout, allow_private)
            continue
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and suffix(p) in SUPPORTED)
            if not files:
                yield Failure(source, "folder holds no .txt, .md, .html, .json, .jsonl or feed files")
            for file in files:
                yield from load_file(file, max_bytes, max_decompressed)
        elif path.is_file():
            yield from load_file(path, max_bytes, max_decompressed)
        else:
            yield Failure(source, "no such file, folder or URL")


def suffix(path: Path) -> str:
    """The type-bearing suffix, looking through a trailing .gz."""
    suffixes = path.suffixes
    if suffixes and suffixes[-1] == ".gz" and len(suffixes) > 1:
        return suffixes[-2].lower()
    return path.suffix.lower()


def read_bytes(path: Path, max_bytes: int, max_decompressed: int) -> bytes:
    size = path.stat().st_size
    if size == 0:
        raise IngestError("empty file")
    if size > max_bytes:
        raise IngestError(f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
    data = path.read_bytes()
    if path.suffix.lower() == ".gz":
        data = _gunzip_capped(data, max_decompressed)
    return data


def _gunzip_capped(data: bytes, cap: int) -> bytes:
    import zlib

    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, cap + 1)
    except zlib.error as exc:
        raise IngestError(f"not valid gzip ({exc})") from None
    if len(out) > cap:
        raise IngestError(f"expands past the {cap:,}-byte decompression limit")
    return out


def decode(data: bytes, declared: str | None = None) -> str:
    """Text from bytes: declared charset, else UTF-8, else detection; binary is refused."""
    if not data.strip():
        raise IngestError("empty file")
    sample = data[:8192]
    if sample.count(b"\x00") > len(sample) // 100 + 1:
        raise IngestError("binary content, not text")
    for encoding in filter(None, (declared, "utf-8-sig")):
        try:
            return data.decode(encoding).replace("\x00", "")
        except (UnicodeDecodeError, LookupError):
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise IngestError("undecodable text (not UTF-8 and no charset detected)")
    return str(best).replace("\x00", "")


def load_file(path: Path, max_bytes: int, max_decompressed: int) -> Iterator[Loaded]:
    origin = str(path)
    try:
        data = read_bytes(path, max_bytes, max_decompressed)
        kind = suffix(path)
        if kind in FEED_SUFFIXES:
            from ingest.feeds import parse_feed

            yield from parse_feed(data, origin)
            return
        text = decode(data)
        if kind in JSON_SUFFIXES:
            yield from parse_json_records(text, origin, jsonl=kind == ".jsonl")
        else:
            yield RawDoc(origin, text, is_html=kind in HTML_SUFFIXES)
    except IngestError as exc:
        yield Failure(origin, str(exc))
    except OSError as exc:
        yield Failure(origin, f"cannot read ({exc.strerror or exc})")


def parse_json_records(text: str, origin: str, jsonl: bool) -> Iterator[Loaded]:
    if not jsonl or text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Failure(origin, f"invalid JSON ({exc.msg} at line {exc.lineno})")
            return
        records = data if isinstance(data, list) else [data]
        for i, record in enumerate(records, 1):
            yield record_to_doc(record, f"{origin}#{i}")
        return
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Failure(f"{origin}:{lineno}", f"invalid JSON line ({exc.msg})")
            continue
        yield record_to_doc(record, f"{origin}:{lineno}")


def _field(record: dict[str, Any], names: tuple[str, ...], origin: str) -> str | None:
    for name in names:
        value = record.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise IngestError(f"field {name!r} should be text, got {type(value).__name__}")
        return str(value)
    return None


def record_to_doc(record: object, origin: str) -> Loaded:
    if not isinstance(record, dict):
        return Failure(origin, f"record should be a JSON object, got {type(record).__name__}")
    try:
        body = _field(record, _BODY_FIELDS, origin)
        if not body or not body.strip():
            return Failure(origin, "record has no body, text or content")
        hints = {
            "title": _field(record, ("title", "headline"), origin),
            "url": _field(record, ("url", "link"), origin),
            "published": _field(record, _DATE_FIELDS, origin),
            "source": _field(record, ("source", "outlet", "site_name"), origin),
            "author": _field(record, ("author", "byline"), origin),
        }
    except IngestError as exc:
        return Failure(origin, str(exc))
    is_html = bool(_HTML_TAG.search(body[:5000]))
    return RawDoc(origin, body, is_html=is_html, hints={k: v for k, v in hints.items() if v})

