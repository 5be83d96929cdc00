"""What every loader yields: a RawDoc or a Failure naming the input and the reason; and the
decoding of bytes to text that files and fetched pages share.

Below the loaders (sources, fetch, feeds), so none of them needs another to name these."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from ingest.errors import IngestError

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Byte-order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Signatures of binary formats that turn up under text names.
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "PNG image"), (b"\xff\xd8\xff", "JPEG image"), (b"GIF8", "GIF image"),
          (b"%PDF-", "PDF document"), (b"PK\x03\x04", "ZIP archive"), (b"\x1f\x8b", "gzip data (name it .gz)"),
          (b"SQLite format 3\x00", "SQLite database"), (b"\x7fELF", "executable"), (b"RIFF", "RIFF media"))
_WESTERN = ("cp1252", "latin_1", "iso8859_15")


@dataclass
class RawDoc:
    origin: str
    text: str
    is_html: bool = False
    hints: dict[str, str] = field(default_factory=dict)  # title, url, published, source, author

    def __post_init__(self) -> None:
        """NUL and lone surrogates (JSON's "\\ud800", a feed's "&#xD800;") cannot be stored;
        hints are one-line fields, so control characters in them become spaces."""
        self.text = _UNSTORABLE.sub("", self.text)
        hints = {k: " ".join(_UNPRINTABLE.sub(" ", _UNSTORABLE.sub("", v)).split()) for k, v in self.hints.items()}
        self.hints = {k: v for k, v in hints.items() if v}


@dataclass
class Failure:
    origin: str
    reason: str

    def __str__(self) -> str:
        """One line, whatever the file name or the parser's message holds."""
        return f"{one_line(self.origin)}: {one_line(self.reason)}"


def one_line(text: str) -> str:
    """Control characters (newlines included) shown escaped, so a name cannot forge another line."""
    return _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], text)


Loaded = RawDoc | Failure


def decode(data: bytes, declared: str | None = None) -> str:
    """Text from bytes: byte-order mark, else declared charset, else UTF-8, else detection;
    binary and text already riddled with U+FFFD (a damaged encoding) are refused."""
    if not data.strip():
        raise IngestError("empty file")
    return _checked(_decode(data, declared).replace("\x00", ""))


def _decode(data: bytes, declared: str | None) -> str:
    bom = next((encoding for mark, encoding in _BOMS if data.startswith(mark)), None)
    if bom:
        try:
            return data.decode(bom)
        except UnicodeDecodeError:
            raise IngestError(f"undecodable text (starts with a {bom} byte-order mark but is not {bom})") from None
    kind = next((name for magic, name in _MAGIC if data.startswith(magic)), None)
    sample = data[:8192]
    if kind or sample.count(b"\x00") > len(sample) // 100 + 1:
        raise IngestError(f"binary content, not text{f' ({kind})' if kind else ''}")
    for encoding in filter(None, (declared, "utf-8")):
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    return _detect(data)


def _detect(data: bytes) -> str:
    """The detected charset's text; among equally good guesses Windows-1252 wins, as in browsers
    (Latin-1 text read as Windows-1250 turns "crêpe" into "crępe")."""
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    best = matches.best()
    if best is None or best.encoding is None:
        raise IngestError("undecodable text (not UTF-8 and no charset detected)")
    tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    return str(next((m for m in tied if m.encoding in _WESTERN), best))


def _checked(text: str) -> str:
    if not text.strip():
        raise IngestError("empty file")
    damaged = text.count("\ufffd")
    if damaged > max(3, len(text) // 100):
        raise IngestError(f"undecodable text ({damaged:,} U+FFFD replacement characters: the encoding was damaged)")
    return text
