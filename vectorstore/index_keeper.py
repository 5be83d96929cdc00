"""Keeps one worker's derived indexes in step with the collection, by what changed.

On disk (`index_dir`): `current` names the version folder in use; each version holds the Tantivy
index and `state.json` (the write number it has caught up from, the collection it follows).

Catching up reads the chunks stamped with a write number above the floor and the tombstones above
it (vectorstore.changes), applies the ones whose version differs from what the index holds (so a
change is never applied twice, and replaying one is harmless), commits every `_CATCH_UP_BATCH`
changes, then saves the state. A catch-up killed half-way leaves committed batches and the old
floor: the next one reads the same changes again and ends where an uninterrupted one would.

The floor: a write takes its number just before its Chroma call, so for a moment a number can be
visible in the collection's counter before the chunks carrying it. A reader therefore re-reads the
numbers of the last `grace_s` seconds (what it saw that long ago is its floor); a write whose Chroma
call takes longer is found by the count check (which reconciles the chunk ids) or by `newsbot reindex`.

A full rebuild (a missing or unreadable index, `newsbot reindex`) is built in a new version folder
while the old one keeps answering, and `current` is switched when it is done.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vectorstore.changes import changes_since
from vectorstore.index_snapshot import FORMAT, DerivedIndexes
from vectorstore.lexical import LexicalIndex, LexicalSnapshot, version_of
from vectorstore.quote_index import QuoteBook
from vectorstore.store import NewsStore

log = logging.getLogger(__name__)

GRACE_S = 60.0
_CATCH_UP_BATCH = 500  # changes per commit while catching up
_REBUILD_BATCH = 20_000  # chunks per commit in a full rebuild
_POINTER = "current"
_STATE = "state.json"


class IndexUnusable(Exception):
    """The saved index cannot be used (missing, another format, unreadable, another collection)."""


class OutletBook:
    """Outlets of the stored articles, counted from each article's first chunk."""

    def __init__(self) -> None:
        self._of_lead: dict[str, tuple[str, ...]] = {}
        self._count: Counter[str] = Counter()

    def put(self, chunk_id: str, meta: dict[str, Any] | None) -> None:
        for source in self._of_lead.pop(chunk_id, ()):
            self._count[source] -= 1
            if self._count[source] <= 0:
                del self._count[source]
        if meta is not None and meta.get("n") == 0:
            sources = tuple(str(s) for s in meta.get("sources") or ())
            self._of_lead[chunk_id] = sources
            self._count.update(sources)

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._count))


class IndexKeeper:
    def __init__(self, store: NewsStore, directory: Path | None, grace_s: float = GRACE_S) -> None:
        self.store = store
        self.directory = Path(directory) if directory is not None else None
        self.grace_s = grace_s
        self.current: DerivedIndexes | None = None
        self._lexical: LexicalIndex | None = None
        self._version: str | None = None  # the version folder's name (None: in memory)
        self._quotes = QuoteBook()
        self._outlets = OutletBook()
        self._floor = 0
        self._marks: deque[tuple[float, int]] = deque()  # (when, the generation seen then)
        self._generation = -1
        self._changed_at = -math.inf
        self._lock = threading.Lock()  # one maintainer at a time; readers never take it

    # -- entry points ----------------------------------------------------------------------------
    def open(self) -> DerivedIndexes:
        """The saved index caught up, or a full build when there is none that can be used."""
        with self._lock:
            if self._lexical is None:
                try:
                    self._load_saved()
                except IndexUnusable as exc:
                    if self.directory is not None:
                        log.info("building the lexical index from the collection: %s", exc)
                    self._install(*self._build())
            self._catch_up(force=True)
            self._check_count(quiet_only=False)
            assert self.current is not None
            return self.current

    def catch_up(self) -> DerivedIndexes:
        """Apply what was written since the floor (blocking; for a writer that wants its write seen)."""
        if self._lexical is None:
            return self.open()
        with self._lock:
            self._catch_up(force=True)
            assert self.current is not None
            return self.current

    def refresh(self) -> DerivedIndexes | None:
        """One periodic check: follow a version another process swapped in, catch up, check the count."""
        if self._lexical is None:
            return self.open()
        with self._lock:
            self._catch_up(force=False)
            self._check_count(quiet_only=True)
            return self.current

    def rebuild(self) -> DerivedIndexes:
        """A full rebuild beside the index in use, which keeps answering until it is swapped in."""
        if self._lexical is None:  # nothing in use yet: open what is there, so the floor is known
            try:
                with self._lock:
                    self._load_saved()
            except IndexUnusable:
                pass
        built = self._build()
        with self._lock:
            self._install(*built)
            self._catch_up(force=True)
            self._check_count(quiet_only=False)
            assert self.current is not None
            return self.current

    # -- loading and building --------------------------------------------------------------------
    def _load_saved(self) -> None:
        if self.directory is None:
            raise IndexUnusable("kept in memory")
        try:
            version = (self.directory / _POINTER).read_text().strip()
            state = json.loads((self.directory / version / _STATE).read_text())
        except (OSError, ValueError) as exc:
            raise IndexUnusable(f"no saved index in {self.directory} ({type(exc).__name__})") from None
        if state.get("format") != FORMAT or state.get("collection") != str(self.store.collection.id):
            raise IndexUnusable(f"the saved index in {self.directory / version} is of another format or collection")
        path = self.directory / version / "tantivy"
        if not LexicalIndex.exists(path):
            raise IndexUnusable(f"{path} holds no index")
        try:
            lexical = LexicalIndex(path)
            snapshot = lexical.snapshot()
        except Exception as exc:  # noqa: BLE001 - Tantivy reports a damaged folder in several types
            raise IndexUnusable(f"{path} cannot be opened ({_first_line(exc)})") from None
        quotes, outlets = QuoteBook(), OutletBook()
        for hit in snapshot.where("quoted", 1):
            quotes.put(hit.chunk_id, hit.meta)
        for hit in snapshot.where("lead", 1):
            outlets.put(hit.chunk_id, hit.meta)
        self._install(lexical, version, quotes, outlets, int(state.get("floor", 0)), snapshot,
                      int(state.get("generation") or 0))

    def _build(self) -> tuple[LexicalIndex, str | None, QuoteBook, OutletBook, int, LexicalSnapshot, int]:
        """Every chunk of the collection into a new index (in a new version folder)."""
        started = time.perf_counter()
        generation = self.store.generation()
        floor = min(self._floor, generation) if self._lexical is not None else generation
        version, lexical = self._new_lexical()
        quotes, outlets = QuoteBook(), OutletBook()

        def rows() -> Iterator[tuple[str, str, dict[str, Any]]]:
            for cid, doc, meta in self.store.iter_all():
                quotes.put(cid, meta)
                outlets.put(cid, meta)
                yield cid, doc, meta

        snapshot = lexical.write(rows(), [], commit_every=_REBUILD_BATCH)
        log.info("lexical index built: %d chunks in %.1f s", snapshot.n_docs, time.perf_counter() - started)
        return lexical, version, quotes, outlets, floor, snapshot, generation

    def _new_lexical(self) -> tuple[str | None, LexicalIndex]:
        if self.directory is None:
            return None, LexicalIndex(None)
        self.directory.mkdir(parents=True, exist_ok=True)
        numbers = [int(p.name[1:]) for p in self.directory.glob("v*") if p.name[1:].isdigit()]
        version = f"v{max(numbers, default=0) + 1}"
        try:
            lexical = LexicalIndex(self.directory / version / "tantivy")
        except (OSError, ValueError) as exc:  # a folder that cannot be written: keep this one in memory
            log.warning("lexical index kept in memory: %s cannot be written (%s)", self.directory, exc)
            return None, LexicalIndex(None)
        return version, lexical

    def _install(self, lexical: LexicalIndex, version: str | None, quotes: QuoteBook, outlets: OutletBook,
                 floor: int, snapshot: LexicalSnapshot, generation: int) -> None:
        """Make this the index in use (the pointer moves once its state is saved); `generation` is
        the one it was caught up to."""
        self._lexical, self._version, self._quotes, self._outlets = lexical, version, quotes, outlets
        self._floor, self._marks = floor, deque()
        self._generation, self._changed_at = -1, -math.inf
        self.current = self._snapshot(snapshot, generation)
        self._save_state()
        if version is not None:
            self._remove_other_versions()

    # -- catching up -----------------------------------------------------------------------------
    def _advance_floor(self, now: float) -> int:
        while self._marks and self._marks[0][0] <= now - self.grace_s:
            self._floor = max(self._floor, self._marks.popleft()[1])
        return self._floor

    def _catch_up(self, force: bool) -> None:
        self._follow_pointer()
        assert self._lexical is not None and self.current is not None
        now = time.monotonic()
        generation = self.store.generation()
        if generation != self._generation:
            self._generation, self._changed_at = generation, now
        floor = self._advance_floor(now)
        self._marks.append((now, generation))
        if not force and now - self._changed_at > self.grace_s:
            return  # settled: every write numbered so far has landed and been applied
        changes = changes_since(self.store, floor)
        held = self.current.lexical
        present = [(cid, doc, meta) for cid, (doc, meta) in sorted(changes.present.items())
                   if held.version(cid) != version_of(doc, meta)]
        gone = [cid for cid in sorted(changes.gone) if held.version(cid) is not None]
        applied = False
        for start in range(0, max(len(present), len(gone)), _CATCH_UP_BATCH):
            rows, dead = present[start : start + _CATCH_UP_BATCH], gone[start : start + _CATCH_UP_BATCH]
            snapshot = self._lexical.write(rows, dead)
            for cid, _, meta in rows:
                self._quotes.put(cid, meta)
                self._outlets.put(cid, meta)
            for cid in dead:
                self._quotes.put(cid, None)
                self._outlets.put(cid, None)
            self.current = self._snapshot(snapshot, generation)
            applied = True
        if applied:
            self._save_state()
        elif self.current.stamp.get("generation") != generation:
            self.current = self._snapshot(self.current.lexical, generation)

    def _check_count(self, quiet_only: bool) -> None:
        """Chunks the change feed cannot show (written by older code, or a write slower than the grace)
        make the counts differ: then the chunk ids are compared and the difference fetched."""
        assert self.current is not None and self._lexical is not None
        if quiet_only and time.monotonic() - self._changed_at <= self.grace_s:
            return
        if self.current.n_chunks == self.store.count():
            return
        held = self.current.lexical.versions()
        stored: set[str] = set()
        offset = 0
        while True:
            page = self.store.collection.get(include=[], limit=5000, offset=offset)
            stored.update(page["ids"])
            if len(page["ids"]) < 5000:
                break
            offset += 5000
        missing, extra = sorted(stored - set(held)), sorted(set(held) - stored)
        log.warning("lexical index differs from the collection (%d missing, %d extra): reconciling",
                    len(missing), len(extra))
        rows = []
        for start in range(0, len(missing), 5000):
            found = self.store.collection.get(ids=missing[start : start + 5000], include=["documents", "metadatas"])
            rows += [(c, d or "", m or {}) for c, d, m in zip(found["ids"], found["documents"] or [],
                                                              found["metadatas"] or [])]
        snapshot = self._lexical.write(rows, extra)
        for cid, _, meta in rows:
            self._quotes.put(cid, meta)
            self._outlets.put(cid, meta)
        for cid in extra:
            self._quotes.put(cid, None)
            self._outlets.put(cid, None)
        self.current = self._snapshot(snapshot, self.current.stamp.get("generation", 0))

    def _snapshot(self, lexical: LexicalSnapshot, generation: int) -> DerivedIndexes:
        return DerivedIndexes(lexical, self._quotes.publish(), self._outlets.names(),
                              {"generation": generation, "count": lexical.n_docs, "format": FORMAT})

    # -- the files -------------------------------------------------------------------------------
    def _save_state(self) -> None:
        if self.directory is None or self._version is None:
            return
        state = {"format": FORMAT, "collection": str(self.store.collection.id), "floor": self._floor,
                 "generation": self.current.stamp.get("generation") if self.current else None}
        folder = self.directory / self._version
        _write_atomic(folder / _STATE, json.dumps(state))
        _write_atomic(self.directory / _POINTER, self._version)

    def _follow_pointer(self) -> None:
        """`newsbot reindex` in another process swapped in a version: use it."""
        if self.directory is None or self._version is None:
            return
        try:
            pointed = (self.directory / _POINTER).read_text().strip()
        except OSError:
            return
        if pointed == self._version:
            return
        try:
            self._load_saved()
        except IndexUnusable as exc:
            log.warning("the swapped-in index cannot be used (%s): keeping %s", exc, self._version)

    def _remove_other_versions(self) -> None:
        """Everything in the index folder but the version in use (older versions, the bm25s format)."""
        assert self.directory is not None
        for path in self.directory.iterdir():
            if path.name in (self._version, _POINTER) or path.name.startswith("."):  # another process's file being written
                continue
            if path.is_dir():  # a process still reading an older one keeps its open files until it follows
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
