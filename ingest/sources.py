"""Read sources (files, folders, JSON/JSONL, HTML, RSS/Atom, URLs) into raw documents.

Each loader yields either a RawDoc or a Failure naming the input and the reason, so one
bad input never stops the batch.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.errors import IngestError
from ingest.raw import Failure, Loaded, RawDoc, decode

TEXT_SUFFIXES = {".txt", ".md"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json", ".jsonl"}
FEED_SUFFIXES = {".rss", ".atom", ".xml"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES | FEED_SUFFIXES

_BODY_FIELDS = ("body", "text", "content")
_DATE_FIELDS = ("published_at", "published", "date")
_HTML_TAG = re.compile(r"<(p|div|article|br|html|body)\b", re.IGNORECASE)
_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "true/false",
               type(None): "null"}


def display_path(path: Path) -> str:
    """The path as valid UTF-8 text: bytes that are not UTF-8 in a file name are shown as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


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
                yield Failure(display_path(path), "folder holds no .txt, .md, .html, .json, .jsonl or feed files")
            for file in files:
                yield from load_file(file, max_bytes, max_decompressed)
        elif path.is_file():
            yield from load_file(path, max_bytes, max_decompressed)
        else:
            yield Failure(display_path(path), "no such file, folder or URL")


def suffix(path: Path) -> str:
    """The type-bearing suffix, looking through a trailing .gz."""
    suffixes = path.suffixes
    if suffixes and suffixes[-1] == ".gz" and len(suffixes) > 1:
        return suffixes[-2].lower()
    return path.suffix.lower()


def read_bytes(path: Path, max_bytes: int, max_decompressed: int) -> bytes:
    """The file's bytes, never more than `max_bytes` read; a .gz is inflated up to the smaller of
    the two limits, so a compressed file cannot bring in more text than an uncompressed one may."""
    size = path.stat().st_size
    if size == 0:
        raise IngestError("empty file")
    if size > max_bytes:
        raise IngestError(f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
    with path.open("rb") as f:
        data = f.read(max_bytes + 1)  # the file may have grown since stat()
    if len(data) > max_bytes:
        raise IngestError(f"file is over the {max_bytes:,}-byte limit")
    if path.suffix.lower() == ".gz":
        data = _gunzip_capped(data, min(max_decompressed, max_bytes))
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
    if not inflater.eof and not inflater.unconsumed_tail:
        raise IngestError("not valid gzip (the compressed data is cut short)")
    return out


def load_file(path: Path, max_bytes: int, max_decompressed: int) -> Iterator[Loaded]:
    origin = display_path(path)
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
            data = load_json(text)
        except IngestError as exc:
            yield Failure(origin, str(exc))
            return
        if not isinstance(data, list):  # one record: the file is its name
            yield record_to_doc(data, origin)
            return
        for i, record in enumerate(data, 1):
            yield record_to_doc(record, f"{origin}#{i}")
        return
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = load_json(line, one_line=True)
        except IngestError as exc:
            yield Failure(f"{origin}:{lineno}", str(exc))
            continue
        yield record_to_doc(record, f"{origin}:{lineno}")


def load_json(text: str, one_line: bool = False) -> Any:
    """json.loads with its other failures (too deep, too many digits) as IngestError too."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"column {exc.colno}" if one_line else f"line {exc.lineno}, column {exc.colno}"
        raise IngestError(f"invalid JSON{' line' if one_line else ''} ({exc.msg}: {where})") from None
    except RecursionError:
        raise IngestError("invalid JSON (nested too deeply to read)") from None
    except ValueError as exc:  # e.g. an integer longer than Python's int/str conversion limit
        raise IngestError(f"invalid JSON ({str(exc).split(';')[0]})") from None


def json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _field(record: dict[str, Any], names: tuple[str, ...], origin: str) -> str | None:
    for name in names:
        value = record.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise IngestError(f"field {name!r} should be text, got a JSON {json_type(value)}")
        return str(value)
    return None


def record_to_doc(record: object, origin: str) -> Loaded:
    if not isinstance(record, dict):
        return Failure(origin, f"record should be a JSON object, got a JSON {json_type(record)}")
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

