"""Kill `newsbot ingest`, an updating ingest and `newsbot delete` with SIGKILL, run the same
command again, and compare with an uninterrupted run of it: the same chunk ids, texts, metadata
and vectors, the same counts, no orphans and no half-updated article, every chunk its own
nearest neighbour in Chroma's HNSW index, and the lexical (BM25) and quote indexes in step.

The corpus is 300 real web pages from the shared RealTimeQA data (copied into tmp, never into
the repo), cut to their first paragraphs, with small chunks (24 tokens): one run writes the
store in about five batches and Chroma's log passes its HNSW sync threshold (1000 writes), so
ten kills land at different moments of one store's ingest, each run going on where the last
one stopped. The update changes a third of the articles (longer, shorter, edited) and brings
the others again from a wire service (merged as a second source), which takes Chroma's log past
2000 writes: the second rewrite of the HNSW files, where a kill used to lose the store. Where a
kill lands is read from the store's files (SQLite's journal, the size of the database, Chroma's
HNSW files), never by opening them. Last, a second process opening a store in use (by `serve`
or by `ingest`) is told so at once.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from ingest.pipeline import _FLUSH_CHUNKS
from tests.conftest import assert_no_orphans, copy_store, finish, free_port, json_lines, ok, run_cli, start_cli, write_jsonl
from tests.server_helpers import newsbot_server

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "realtimeqa"
# fp32 weights: int8 quantises each batch's activations with that batch's own scale, so the same
# text embedded in another batch (a rerun cuts its batches elsewhere) gets a vector a little apart,
# where these checks find a chunk's twin by an equal vector; and the kill moments below were paced
# for fp32's embedding time
ENV = {"NEWSBOT_CHUNK_TOKENS": "24", "NEWSBOT_CHUNK_OVERLAP_TOKENS": "6", "NEWSBOT_ONNX_QUANTIZE": "false"}
N_ARTICLES = 300
BODY_CHARS = 420
BATCH_WRITE = 200_000  # bytes one transaction writing a batch adds to chroma.sqlite3 (about 1 MB)
HNSW_LENGTHS = 2_000  # bytes of the HNSW index's length.bin once it holds 500 vectors (4 bytes each)

pytestmark = pytest.mark.slow


# -- the corpus and its update -------------------------------------------------------------------

@dataclass
class Corpus:
    path: Path
    update: Path  # copies of the unchanged articles from another outlet, then the articles, a third changed
    ids: list[str]  # the article id of each record, in order
    changed: list[str]
    copies: int


def first_paragraphs(body: str, limit: int) -> str:
    keep: list[str] = []
    for para in body.split("\n"):
        if keep and sum(len(p) + 1 for p in keep) + len(para) > limit:
            break
        keep.append(para)
    return "\n".join(keep)


def read_articles(records: list[dict[str, Any]], path: Path) -> list[Any]:
    """What the pipeline makes of each record (None when it refuses one), one per record."""
    from ingest.article import build_article
    from ingest.errors import IngestError
    from ingest.sources import RawDoc, iter_sources

    write_jsonl(path, records)
    out = []
    for raw in iter_sources([str(path)], 1 << 30, 1 << 30, 1.0):
        try:
            out.append(build_article(raw) if isinstance(raw, RawDoc) else None)
        except IngestError:
            out.append(None)
    assert len(out) == len(records)
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    files = sorted(SHARED.glob("*/corpus.jsonl"))
    if not files:
        pytest.skip(f"needs the shared RealTimeQA corpus (../shared/ beside the repo), not found: {SHARED}/*/corpus.jsonl")
    rows = [json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = sorted((r for r in rows if len(r.get("body") or "") >= 3 * BODY_CHARS and r.get("url")),
                  key=lambda r: hashlib.sha1(r["url"].encode()).hexdigest())
    root = tmp_path_factory.mktemp("corpus")
    short = [{**r, "body": first_paragraphs(r["body"], BODY_CHARS)} for r in rows]
    keep, seen = [], set()
    for row, full, art in zip(short, rows, read_articles(short, root / "candidates.jsonl")):
        if art is None or {art.id, art.content_hash, art.title} & seen:
            continue
        seen |= {art.id, art.content_hash, art.title}
        keep.append((row, full, art))
        if len(keep) == N_ARTICLES:
            break
    assert len(keep) == N_ARTICLES
    updated = []
    for i, (row, full, _) in enumerate(keep):
        if i % 3 == 0:
            words = row["body"].split()
            body = {0: first_paragraphs(full["body"], 3 * BODY_CHARS),  # a longer version
                    1: " ".join(words[: max(12, len(words) // 3)]),  # a shorter one
                    2: row["body"] + "\nThe article was updated after publication."}[(i // 3) % 3]
            if body == row["body"]:
                body = row["body"] + "\nThe article was updated after publication."
            row = {**row, "body": body}
        updated.append(row)
    new = read_articles(updated, root / "update-check.jsonl")
    assert all(art is not None for art in new) and [a.id for a in new] == [a.id for _, _, a in keep]
    changed = [old.id for (_, _, old), art in zip(keep, new) if art.content_hash != old.content_hash]
    assert len(changed) == N_ARTICLES // 3
    # the unchanged ones again from a wire service: merged (their chunks' sources updated, no
    # new vectors), so that the update makes Chroma's log pass 2000 writes and rewrite its HNSW
    # files a second time, the first time a kill there could lose vectors that Chroma had
    # dropped from its log
    copies = [{**row, "url": f"https://wire-copy.example/{i}", "source": "Wire Copy"}
              for i, (row, _, art) in enumerate(keep) if art.id not in changed]
    return Corpus(write_jsonl(root / "corpus.jsonl", [row for row, _, _ in keep]),
                  write_jsonl(root / "update.jsonl", copies + updated), [a.id for _, _, a in keep], changed,
                  len(copies))


# -- watching the store's files from outside, and killing on cue --------------------------------

class Watch:
    """The store's files seen from outside, polled about every millisecond; never opened or locked.

    On a busy machine a poll can miss a short transaction: a write then still shows as a new
    mtime of the database, and a batch as the database grown by a batch's worth since it last
    rested (its log and its metadata are two transactions, which a poll may also see as one)."""

    def __init__(self, data_dir: Path) -> None:
        chroma = data_dir / "chroma"
        self.db, self.journal, self.chroma = chroma / "chroma.sqlite3", chroma / "chroma.sqlite3-journal", chroma
        self.t0 = time.monotonic()
        self.elapsed = 0.0
        self.first_write: float | None = None  # when the database was first written
        self.writes = 0  # write transactions seen
        self.commits = 0  # times the database grew by a batch's worth and rested
        self.last_commit = 0.0
        self.in_batch = False  # inside a transaction writing a batch of chunks
        self.hnsw_written = False  # Chroma is writing a populated HNSW index to disk right now: the
        # lengths go after the vectors, before the id map (the pickle), the moment a kill hurts most
        self._busy = False  # a journal was seen since the database last rested
        self._rest_size, self._rest_mtime = self._db_state()
        self._hnsw = self._hnsw_files()

    def _db_state(self) -> tuple[int, int]:
        try:
            st = self.db.stat()
        except FileNotFoundError:
            return 0, 0
        return st.st_size, st.st_mtime_ns

    def _hnsw_files(self) -> dict[Path, tuple[int, int]]:
        state = {}
        for path in self.chroma.glob("*/length.bin"):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            state[path] = (st.st_size, st.st_mtime_ns)
        return state

    def poll(self) -> None:
        self.elapsed = time.monotonic() - self.t0
        writing = self.journal.exists()
        size, mtime = self._db_state()
        grown = self._rest_size > 0 and size - self._rest_size >= BATCH_WRITE  # (not the database's creation)
        if writing:
            self.writes += not self._busy
            self._busy, self.in_batch = True, grown
        else:
            self.writes += not self._busy and mtime != self._rest_mtime  # came and went between polls
            if grown:
                self.commits += 1
                self.last_commit = self.elapsed
            self._busy, self.in_batch = False, False
            self._rest_size, self._rest_mtime = size, mtime
        if self.writes and self.first_write is None:
            self.first_write = self.elapsed
        hnsw = self._hnsw_files()
        self.hnsw_written = any(v != self._hnsw.get(k) and v[0] >= HNSW_LENGTHS for k, v in hnsw.items())
        self._hnsw = hnsw


@dataclass
class Moment:
    label: str
    hit: Callable[[Watch, int], bool]  # (the files, batches this run has left to write)


@dataclass
class Kill:
    label: str
    exit: int | None  # None: killed
    at: float
    output: str = ""
    listed: dict[str, tuple[str, int]] = field(default_factory=dict)  # article id -> (hash, chunks), after
    peek_error: str = ""


def run_until(args: tuple[Any, ...], data_dir: Path, moment: Moment, batches: int) -> Kill:
    """Start the real CLI; SIGKILL it when the moment comes. Exit None when killed."""
    proc = start_cli(*args, data_dir=data_dir, env=ENV)
    watch = Watch(data_dir)
    while proc.poll() is None:
        watch.poll()
        if moment.hit(watch, batches):
            proc.send_signal(signal.SIGKILL)
            finish(proc)
            return Kill(moment.label, None, watch.elapsed)
        time.sleep(0.0005)
    result = finish(proc)
    return Kill(moment.label, result.returncode, watch.elapsed, result.stdout + result.stderr)


def peek(data_dir: Path, scratch: Path, kill: Kill) -> Kill:
    """What a killed store holds, listed by the CLI from a copy (lock file included, so the copy
    looks just as the dead process left it and the store itself is left for the real rerun)."""
    if not data_dir.exists():  # killed before it made the data dir
        return kill
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(data_dir, scratch)
    result = run_cli("list", "--json", data_dir=scratch)
    if result.returncode:
        kill.peek_error = result.stderr[-2000:]
    kill.listed = {r["id"]: (r["content_hash"], r["n_chunks"]) for r in json_lines(result.stdout)}
    shutil.rmtree(scratch, ignore_errors=True)
    return kill


def batches_left(order: list[str], stored: set[str], chunks: dict[str, int]) -> int:
    """How many batches an ingest of `order` writes when `stored` are there (ingest.pipeline flushes
    when the chunks waiting reach _FLUSH_CHUNKS)."""
    batches = waiting = 0
    for article_id in order:
        if article_id not in stored:
            waiting += chunks[article_id]
            if waiting >= _FLUSH_CHUNKS:
                batches, waiting = batches + 1, 0
    return batches + (waiting > 0)


def after_first_write(seconds: float) -> Callable[[Watch, int], bool]:
    return lambda w, n: w.first_write is not None and w.elapsed >= w.first_write + seconds


def after_last_batch(w: Watch, n: int) -> bool:
    """The n batches left are committed (two transactions each, or one if a poll saw them as one
    and the database has rested since)."""
    return 0 < n and (w.commits >= 2 * n or (w.commits >= n and not w.in_batch and w.elapsed >= w.last_commit + 0.2))


INGEST_MOMENTS = [
    Moment("starting up, before the store is open", lambda w, n: w.elapsed >= 1.0),
    Moment("loading the model, a second after the first write", after_first_write(1.0)),
    Moment("writing a batch to Chroma's log", lambda w, n: w.commits == 0 and w.in_batch),
    Moment("applying that batch to the metadata tables", lambda w, n: w.commits == 1 and w.in_batch),
    Moment("just after a batch is committed", lambda w, n: w.commits >= 2),
    # 0.1 s after a batch rests, whatever the backend: the ONNX model embeds the next batch in well
    # under a second, so a fixed 1.5 s wait let the run finish before the kill on a quiet machine
    Moment("between batches, embedding the next",
           lambda w, n: w.commits >= 2 and not w.in_batch and not w.journal.exists() and w.elapsed >= w.last_commit + 0.1),
    Moment("while Chroma writes its HNSW files, passing 1000 writes", lambda w, n: w.hnsw_written),
    Moment("while Chroma rebuilds its HNSW files from its log, starting up", lambda w, n: w.hnsw_written),
    Moment("after the last batch is committed", after_last_batch),
    Moment("rebuilding the HNSW files again, nothing left to add", lambda w, n: w.hnsw_written),
]

UPDATE_MOMENTS = [
    Moment("while Chroma rewrites its HNSW files, passing 2000 writes", lambda w, n: w.hnsw_written),
    Moment("writing new versions to Chroma's log", lambda w, n: w.commits == 0 and w.in_batch),
    Moment("just after new versions are committed, before old chunks are dropped", lambda w, n: w.commits >= 2),
    Moment("after the last batch, dropping old chunks", after_last_batch),
]

DELETE_MOMENTS = [  # a delete writes a few transactions within some 60 ms
    Moment("at its first write", after_first_write(0)),
    Moment("10 ms after its first write", after_first_write(0.01)),
    Moment("30 ms after its first write", after_first_write(0.03)),
    Moment("50 ms after its first write", after_first_write(0.05)),
    Moment("starting up", lambda w, n: w.elapsed >= 0.5),
]


# -- reading a store, once its processes are gone ---------------------------------------------

def summary(result: Any) -> dict[str, Any]:
    return json.loads(result.stdout.strip().splitlines()[-1])


def snapshot(data_dir: Path, phrases: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Everything stored, read in-process (each store once: Chroma caches an opened store per
    process). Also each chunk's nearest neighbour by its own vector, the derived indexes as a
    reader loads them, and what BM25 ranks first for each phrase."""
    from newsbot.settings import load_settings
    from vectorstore import indexes
    from vectorstore.lock import release_store_lock
    from vectorstore.stats import store_stats
    from vectorstore.store import NewsStore

    settings = load_settings(data_dir=data_dir)
    saved_stamp = saved_state(data_dir).get("generation")
    store = NewsStore.from_settings(settings)
    try:
        got = store.collection.get(include=["documents", "metadatas", "embeddings"])
        ids, vectors = list(got["ids"]), np.asarray(got["embeddings"])
        # each chunk's write number says which run wrote it, not what it holds: left out of the comparison
        chunks = {cid: (doc, {k: v for k, v in meta.items() if k != "seq"})
                  for cid, doc, meta in zip(ids, got["documents"], got["metadatas"])}
        row = {cid: i for i, cid in enumerate(ids)}
        # a chunk is lost when the index does not return it for its own vector; a twin (the same
        # text from another source, whose vector can differ in the last bits when ONNX pads it in
        # another batch) may come first, so the top few hits are looked at
        nearest = store.collection.query(query_embeddings=vectors.tolist(), n_results=min(3, len(ids)),
                                         include=[])["ids"] if ids else []
        missed = [cid for cid, hits in zip(ids, nearest)
                  if cid not in hits and not (hits and float(vectors[row[hits[0]]] @ vectors[row[cid]]) > 1 - 1e-6)]
        # HNSW search is approximate: now and then a chunk whose vector was replaced in place is not
        # among the top few for its own vector although the index holds it. Lost is what a search
        # that looks much wider does not return either.
        wide = store.collection.query(query_embeddings=[vectors[row[cid]].tolist() for cid in missed],
                                      n_results=min(100, len(ids)), include=[])["ids"] if missed else []
        lost = [cid for cid, hits in zip(missed, wide) if cid not in hits]
        index = indexes.load(store, settings.index_dir)
        lexical, rankings = {}, {}
        for p in phrases or []:
            scores = index.lexical_scores(p["question"])
            lexical[p["question"]] = (str(index.metas[int(np.argmax(scores))]["article_id"]), len(scores))
            rankings[p["question"]] = [(h.chunk_id, round(h.score, 4)) for h in index.lexical_top(p["question"], 60)]
        return {
            "dir": data_dir, "chunks": chunks, "vectors": dict(zip(ids, vectors)), "count": store.count(),
            "lost": lost, "stats": store_stats(store), "saved_stamp": saved_stamp, "stamp": index.stamp["generation"],
            "fresh": indexes.is_fresh(index, store), "index_ids": list(index.ids), "doc_freq": dict(index.doc_freq),
            "versions": index.lexical.versions(), "outlets": index.outlets(),
            "quotes": {k: sorted((q.speaker, q.text, q.chunk_id) for q in v) for k, v in index.quotes.items()},
            "speakers": sorted(index.quotes), "lexical": lexical, "rankings": rankings,
            "n_chunks": {str(m["article_id"]): int(m["n_chunks"]) for _, m in chunks.values()},
            "hashes": {str(m["article_id"]): str(m["content_hash"]) for _, m in chunks.values()},
        }
    finally:
        release_store_lock(settings.data_dir)


def saved_state(data_dir: Path) -> dict[str, Any]:
    """The state the derived indexes were last saved with ({} when none was)."""
    index_dir = data_dir / "index"
    try:
        return json.loads((index_dir / (index_dir / "current").read_text() / "state.json").read_text())
    except FileNotFoundError:
        return {}


def unique_phrases(chunks: dict[str, tuple[str, dict[str, Any]]], n: int = N_ARTICLES // 10) -> list[dict[str, str]]:
    """For n articles spread over the corpus, six words of its text with at least three words that no
    other article uses (the six richest in such words)."""
    import re

    words_of: dict[str, list[list[str]]] = {}
    for doc, meta in chunks.values():
        words_of.setdefault(str(meta["article_id"]), []).append(re.findall(r"[A-Za-z][a-z]{3,}", doc))
    owners: dict[str, set[str]] = {}
    for article_id, docs in words_of.items():
        for word in {w.lower() for doc in docs for w in doc}:
            owners.setdefault(word, set()).add(article_id)
    found = []
    for article_id in sorted(words_of):
        windows = [doc[i : i + 6] for doc in words_of[article_id] for i in range(max(1, len(doc) - 5))]
        best = max(windows, key=lambda ws: sum(len(owners[w.lower()]) == 1 for w in ws))
        if sum(len(owners[w.lower()]) == 1 for w in best) >= 3:
            found.append({"question": " ".join(best), "expect": article_id})
    assert len(found) >= n
    return [found[i * len(found) // n] for i in range(n)]


def retrieve_phrases(data_dir: Path, phrases_file: Path) -> list[dict[str, Any]]:
    """`newsbot retrieve` for each phrase: it also builds and saves the derived indexes."""
    return json_lines(ok(run_cli("retrieve", "--batch", phrases_file, "--json", "--k", "3", data_dir=data_dir, env=ENV)).stdout)


# -- the runs ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clean(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data_dir = tmp_path_factory.mktemp("clean") / "data"
    started = time.monotonic()
    first = summary(ok(run_cli("ingest", corpus.path, "--json", data_dir=data_dir, env=ENV)))
    took = time.monotonic() - started
    snap = snapshot(data_dir)
    phrases = unique_phrases(snap["chunks"])
    phrases_file = write_jsonl(data_dir.parent / "phrases.jsonl", phrases)
    return {**snap, "summary": first, "seconds": took, "phrases": phrases, "phrases_file": phrases_file}


@pytest.fixture(scope="module")
def killed(corpus: Corpus, clean: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One store killed at ten moments, each run going on where the last stopped, then run once more."""
    root = tmp_path_factory.mktemp("killed")
    data_dir = root / "data"
    started = time.monotonic()
    kills: list[Kill] = []
    for moment in INGEST_MOMENTS:
        stored = {a for a, (h, n) in (kills[-1].listed if kills else {}).items() if n == clean["n_chunks"][a]}
        kill = run_until(("ingest", corpus.path, "-q"), data_dir, moment, batches_left(corpus.ids, stored, clean["n_chunks"]))
        kills.append(peek(data_dir, root / "peek", kill))
    final = summary(ok(run_cli("ingest", corpus.path, "--json", data_dir=data_dir, env=ENV)))
    took = time.monotonic() - started
    again = summary(ok(run_cli("ingest", corpus.path, "--json", data_dir=data_dir, env=ENV)))
    retrieved = retrieve_phrases(data_dir, clean["phrases_file"])
    return {**snapshot(data_dir, clean["phrases"]), "kills": kills, "final": final, "again": again,
            "retrieved": retrieved, "seconds": took}


@pytest.fixture(scope="module")
def indexed(clean: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clean store with its derived indexes saved, as a server would leave it."""
    data_dir = copy_store(clean["dir"], tmp_path_factory.mktemp("indexed") / "data")
    retrieve_phrases(data_dir, clean["phrases_file"])
    assert saved_state(data_dir), "retrieve saved no index"
    return data_dir


@pytest.fixture(scope="module")
def updated(corpus: Corpus, clean: dict[str, Any], indexed: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The update applied to copies of the indexed store: straight, and killed three times then rerun."""
    root = tmp_path_factory.mktemp("update")
    straight_dir = copy_store(indexed, root / "straight")
    straight_summary = summary(ok(run_cli("ingest", corpus.update, "--json", data_dir=straight_dir, env=ENV)))
    straight = snapshot(straight_dir)
    data_dir = copy_store(indexed, root / "killed")
    kills: list[Kill] = []
    for moment in UPDATE_MOMENTS:
        listed = kills[-1].listed if kills else {}
        done = {a for a, (h, n) in listed.items() if (h, n) == (straight["hashes"][a], straight["n_chunks"][a])}
        left = batches_left([a for a in corpus.ids if a in set(corpus.changed)], done, straight["n_chunks"])
        kills.append(peek(data_dir, root / "peek", run_until(("ingest", corpus.update, "-q"), data_dir, moment, left)))
    final = summary(ok(run_cli("ingest", corpus.update, "--json", data_dir=data_dir, env=ENV)))
    again = summary(ok(run_cli("ingest", corpus.update, "--json", data_dir=data_dir, env=ENV)))
    retrieve_phrases(data_dir, clean["phrases_file"])
    return {"straight": straight, "straight_summary": straight_summary, "kills": kills, "final": final,
            "again": again, **snapshot(data_dir)}


@pytest.fixture(scope="module")
def deleted(clean: dict[str, Any], indexed: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The five articles with most chunks deleted from copies of the indexed store: straight, and
    each `newsbot delete` killed at another moment, then run again."""
    root = tmp_path_factory.mktemp("delete")
    targets = sorted(clean["n_chunks"], key=lambda a: (-clean["n_chunks"][a], a))[: len(DELETE_MOMENTS)]
    straight_dir = copy_store(indexed, root / "straight")
    for article_id in targets:
        ok(run_cli("delete", article_id, data_dir=straight_dir))
    straight = snapshot(straight_dir)
    data_dir = copy_store(indexed, root / "killed")
    kills, reruns = [], []
    for article_id, moment in zip(targets, DELETE_MOMENTS):
        kills.append(run_until(("delete", article_id), data_dir, moment, 0))
        reruns.append(run_cli("delete", article_id, data_dir=data_dir))
    retrieve_phrases(data_dir, clean["phrases_file"])
    return {"targets": targets, "straight": straight, "kills": kills, "reruns": reruns, **snapshot(data_dir)}


# -- checks shared by the three ----------------------------------------------------------------

def assert_same_store(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert set(got["chunks"]) == set(want["chunks"])
    assert got["count"] == want["count"] == len(want["chunks"])
    different = [cid for cid in want["chunks"] if got["chunks"][cid] != want["chunks"][cid]]
    assert not different, f"{len(different)} chunks differ, e.g. {different[:3]}"
    low = [cid for cid, v in want["vectors"].items() if float(v @ got["vectors"][cid]) < 0.999]
    assert not low, f"{len(low)} chunks carry another vector, e.g. {low[:3]}"
    assert got["stats"] == want["stats"]


def assert_indexes_in_step(got: dict[str, Any], want: dict[str, Any]) -> None:
    """The derived indexes a reader loads are the ones the CLI saved, current, and equal to those
    of the uninterrupted run: same documents (ids, term frequencies), same quotes and speakers."""
    assert got["saved_stamp"] == got["stamp"] and got["fresh"], (got["saved_stamp"], got["stamp"])
    assert set(got["index_ids"]) == set(got["chunks"]) and len(got["index_ids"]) == got["count"]
    assert got["doc_freq"] == want["doc_freq"]
    assert got["versions"] == want["versions"]  # every chunk's text and metadata, as indexed
    assert got["quotes"] == want["quotes"] and got["speakers"] == want["speakers"]
    assert got["outlets"] == want["outlets"]


def test_the_clean_run_stores_every_article_in_several_batches(clean) -> None:
    s = clean["summary"]
    assert (s["added"], s["failed"], clean["stats"]["articles"]) == (N_ARTICLES, 0, N_ARTICLES)
    assert clean["count"] > 4 * _FLUSH_CHUNKS, "fewer than five batches: kills cannot land between them"
    assert clean["count"] > 1000, "Chroma never persists its HNSW index below 1000 writes"
    assert clean["speakers"], "no quotes: the quote index would not be checked"
    print(f"\nclean ingest: {clean['count']} chunks in {clean['seconds']:.1f} s")


def test_the_clean_run_finds_every_chunk_by_its_own_vector(clean) -> None:
    assert not clean["lost"], f"{len(clean['lost'])} chunks are not their own nearest neighbour: {clean['lost'][:3]}"


# -- ten kills during an ingest -------------------------------------------------------------------

def test_the_ten_kills_landed_while_ingesting(killed, clean) -> None:
    kills: list[Kill] = killed["kills"]
    for i, k in enumerate(kills, 1):
        print(f"kill {i:>2} {k.label:<70} exit {k.exit} at {k.at:5.1f} s, "
              f"{sum(n for _, n in k.listed.values()):>5} chunks stored after")
    print(f"killed runs and the rerun: {killed['seconds']:.1f} s")
    assert all(k.exit is None for k in kills[:9]), [(k.label, k.exit, k.output[-300:]) for k in kills]
    held = [sum(n for _, n in k.listed.values()) for k in kills]
    assert held[:3] == [0, 0, 0], held  # nothing is committed before the first batch is
    assert 0 < held[3] < held[4] < held[5] < held[6] < clean["count"], held  # each of these kills left part of it


def test_every_killed_store_opens_again(killed) -> None:
    broken = [(k.label, k.peek_error) for k in killed["kills"] if k.peek_error]
    assert not broken, broken


def test_the_rerun_after_kills_finishes_the_corpus(killed) -> None:
    final = killed["final"]
    assert final["failed"] == 0
    assert final["added"] + final["updated"] + final["unchanged"] == N_ARTICLES
    again = killed["again"]
    assert (again["added"], again["updated"], again["unchanged"], again["failed"]) == (0, 0, N_ARTICLES, 0)


def test_after_kills_the_store_equals_an_uninterrupted_run(killed, clean) -> None:
    assert_same_store(killed, clean)
    assert_no_orphans(killed["chunks"])


def test_after_kills_every_chunk_is_found_by_its_own_vector(killed) -> None:
    """Chroma's HNSW index holds every chunk: a kill while Chroma rewrote its files did not lose it."""
    assert not killed["lost"], f"{len(killed['lost'])} chunks are not their own nearest neighbour: {killed['lost'][:3]}"


def test_after_kills_the_lexical_and_quote_indexes_are_in_step(killed, clean) -> None:
    assert_indexes_in_step(killed, clean)
    for p in clean["phrases"]:
        assert killed["lexical"][p["question"]] == (p["expect"], killed["count"]), p


def test_after_kills_retrieve_finds_each_article_by_a_phrase_of_its_own(killed) -> None:
    missed = [(row["question"], row["expect"]) for row in killed["retrieved"]
              if row["expect"] not in [r["article_id"] for r in row["results"]]]
    assert len(killed["retrieved"]) == N_ARTICLES // 10 and not missed, missed


# -- kills during an update -----------------------------------------------------------------------

def test_the_update_kills_landed_in_the_middle(updated) -> None:
    kills: list[Kill] = updated["kills"]
    for k in kills:
        print(f"update kill: {k.label:<72} exit {k.exit} at {k.at:5.1f} s")
    assert all(k.exit is None for k in kills[:3]), [(k.label, k.exit, k.output[-300:]) for k in kills]
    broken = [(k.label, k.peek_error) for k in kills if k.peek_error]
    assert not broken, broken
    straight = updated["straight"]
    half = [a for k in kills for a, (h, n) in k.listed.items()
            if h == straight["hashes"].get(a) and n != straight["n_chunks"].get(a)]
    assert half, "no kill caught an article between its new chunks and the removal of its old ones"


def test_after_update_kills_the_store_equals_an_uninterrupted_update(updated, corpus) -> None:
    straight, first = updated["straight"], updated["straight_summary"]
    assert (first["updated"], first["merged"], first["unchanged"], first["failed"]) == (
        len(corpus.changed), corpus.copies, N_ARTICLES - len(corpus.changed), 0)
    assert updated["final"]["failed"] == 0
    again = updated["again"]
    assert (again["added"], again["updated"], again["merged"], again["unchanged"]) == (0, 0, 0, N_ARTICLES + corpus.copies)
    assert_same_store(updated, straight)
    assert_no_orphans(updated["chunks"])  # no chunk of an old version, no half-updated article
    assert not updated["lost"] and not straight["lost"]
    assert_indexes_in_step(updated, straight)


def test_a_torn_hnsw_index_left_by_a_killed_process_is_rebuilt(clean, tmp_path: Path) -> None:
    """What a SIGKILL while Chroma rewrites its HNSW files can leave, made on purpose here as the
    kills above hit that window only now and then: the id map written halfway, and the lock file
    naming the dead holder. The next process rebuilds the index from Chroma's log: nothing is lost."""
    data_dir = copy_store(clean["dir"], tmp_path / "data")
    id_map = next((data_dir / "chroma").glob("*/index_metadata.pickle"))
    id_map.write_bytes(id_map.read_bytes()[: id_map.stat().st_size // 2])
    (data_dir / "store.lock").write_text("pid 999999999")
    found = retrieve_phrases(data_dir, clean["phrases_file"])
    assert all(row["expect"] in [r["article_id"] for r in row["results"]] for row in found)
    after = snapshot(data_dir)
    assert_same_store(after, clean)
    assert not after["lost"]


def test_an_index_saved_during_an_ingest_that_died_still_catches_up(clean, tmp_path: Path) -> None:
    """A reader in the ingesting process (`serve` and its web ingest) may save the derived indexes
    between two writes of an ingest. If the process dies then and the rerun finds nothing left to
    write, the saved index still catches up with the write it had not seen: by its write number."""
    from newsbot.settings import load_settings
    from vectorstore import indexes
    from vectorstore.lock import release_store_lock
    from vectorstore.store import NewsStore

    data_dir = copy_store(clean["dir"], tmp_path / "data")
    settings = load_settings(data_dir=data_dir)
    store = NewsStore.from_settings(settings)
    try:
        indexes.load(store, settings.index_dir)  # a reader saves the indexes
        article_id = max(clean["n_chunks"], key=lambda a: (clean["n_chunks"][a], a))
        old = store.collection.get(where={"article_id": article_id}, include=["documents", "metadatas", "embeddings"])
        store.upsert_chunks(  # the ingest stores a new version, as many chunks as before; then it dies
            old["ids"], [f"{doc} Zanzibarite" for doc in old["documents"]],
            [{**meta, "content_hash": "0123456789abcdef"} for meta in old["metadatas"]], old["embeddings"])
        index = indexes.load(store, settings.index_dir)
        scores = index.lexical_scores("zanzibarite")
        assert scores.max() > 0 and index.metas[int(np.argmax(scores))]["article_id"] == article_id
    finally:
        release_store_lock(data_dir)


# -- a catch-up killed half-way -------------------------------------------------------------------

def test_a_catch_up_killed_half_way_ends_equal_to_a_full_rebuild(updated, indexed, clean, tmp_path: Path) -> None:
    """A worker whose index was saved before the update (it was down meanwhile) catches up on ~all
    chunks: committed in batches, its state saved at the end. Killed after its first batch, then
    run again, its index equals one rebuilt from nothing (`newsbot reindex`)."""
    data_dir = copy_store(updated["dir"], tmp_path / "lagging")
    shutil.rmtree(data_dir / "index")
    shutil.copytree(indexed / "index", data_dir / "index")  # the index as it was before the update
    before = saved_state(data_dir)
    version = (data_dir / "index" / "current").read_text()
    segments = data_dir / "index" / version / "tantivy" / "meta.json"
    first = segments.stat().st_mtime_ns
    proc = start_cli("retrieve", "--batch", clean["phrases_file"], "--json", data_dir=data_dir, env=ENV)
    while proc.poll() is None and segments.stat().st_mtime_ns == first:
        time.sleep(0.0005)
    proc.send_signal(signal.SIGKILL)
    finish(proc)
    assert proc.returncode == -signal.SIGKILL, "the catch-up finished before the kill"
    assert saved_state(data_dir)["floor"] == before["floor"], "the kill came after the catch-up had saved its floor"
    from vectorstore.lexical import LexicalIndex

    halfway = LexicalIndex(data_dir / "index" / version / "tantivy").snapshot().versions()
    want = updated["versions"]
    done = sum(halfway.get(cid) == v for cid, v in want.items())
    assert 0 < done < len(want) and halfway != clean["versions"], (done, len(want))

    retrieve_phrases(data_dir, clean["phrases_file"])  # run again: it ends the catch-up
    rebuilt_dir = copy_store(updated["dir"], tmp_path / "rebuilt")
    ok(run_cli("reindex", data_dir=rebuilt_dir, env=ENV))
    # (the answers themselves are not compared: the kill also made Chroma rebuild its HNSW graph,
    # whose approximate neighbours may come in another order; that is not the derived index)
    got, rebuilt = snapshot(data_dir, clean["phrases"]), snapshot(rebuilt_dir, clean["phrases"])
    assert got["versions"] == rebuilt["versions"] == want
    assert got["rankings"] == rebuilt["rankings"]  # BM25 ranks every phrase's 60 best alike
    assert_indexes_in_step(got, rebuilt)


# -- kills during delete --------------------------------------------------------------------------

def test_after_delete_kills_each_article_is_gone_whole(deleted, clean) -> None:
    for article_id, kill, rerun in zip(deleted["targets"], deleted["kills"], deleted["reruns"]):
        assert kill.exit is None, (kill.label, kill.exit, kill.output[-300:])
        # the rerun deletes the whole article, or finds the killed run had already done so
        whole = f"deleted {article_id} ({clean['n_chunks'][article_id]} chunks)"
        assert (rerun.returncode, rerun.stdout.strip()) == (0, whole) or (
            rerun.returncode == 1 and "no article" in rerun.stderr and "Traceback" not in rerun.stderr), (kill.label, rerun)
    assert not set(deleted["targets"]) & set(deleted["n_chunks"])


def test_after_delete_kills_the_store_equals_uninterrupted_deletes(deleted, clean) -> None:
    straight = deleted["straight"]
    assert straight["count"] == clean["count"] - sum(clean["n_chunks"][a] for a in deleted["targets"])
    assert_same_store(deleted, straight)
    assert_no_orphans(deleted["chunks"])
    assert not deleted["lost"] and not straight["lost"]
    assert_indexes_in_step(deleted, straight)


# -- one process per embedded store ---------------------------------------------------------------

def turned_away(*args: Any, data_dir: Path, within: float = 30) -> None:
    started = time.monotonic()
    result = run_cli(*args, data_dir=data_dir, timeout=within + 60)
    took = time.monotonic() - started
    assert result.returncode != 0, (args, result.stdout[-500:])
    assert "in use" in result.stderr and "Traceback" not in result.stderr, (args, result.stderr[-1000:])
    assert took < within, f"{args[0]} took {took:.1f} s to give up"


def test_a_running_server_turns_other_processes_away(clean, corpus, tmp_path: Path) -> None:
    data_dir = copy_store(clean["dir"], tmp_path / "data")
    some_article = corpus.ids[0]
    with newsbot_server(data_dir) as server:
        for args in (("ingest", corpus.update, "-q"), ("delete", some_article), ("stats",),
                     ("serve", "--port", free_port())):
            turned_away(*args, data_dir=data_dir)
        assert httpx.get(f"{server.url}/api/health", timeout=10).status_code == 200
    stats = json.loads(ok(run_cli("stats", "--json", data_dir=data_dir)).stdout)
    assert stats == clean["stats"]


def test_a_running_ingest_turns_a_server_away(corpus, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    proc = start_cli("ingest", corpus.path, "-q", data_dir=data_dir, env=ENV)
    try:
        lock = data_dir / "store.lock"
        deadline = time.monotonic() + 120
        while not (lock.exists() and lock.read_text().strip()) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the ingest ended before it could be raced"
        turned_away("serve", "--port", free_port(), data_dir=data_dir)
        turned_away("mcp", data_dir=data_dir)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGKILL)
        finish(proc)
