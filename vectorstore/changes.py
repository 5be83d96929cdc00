"""What changed in the collection since a write number: the change feed the derived indexes catch up on.

Each write stamps its chunks with the write number it took (`seq`, see NewsStore.upsert_chunks) and a
delete leaves tombstones with its number. So "what changed after write F" is two filtered reads,
whose size is what was written since, not the size of the store. A tombstone only says which chunk
to look at: the chunk is gone only if the collection no longer has it (a delete killed between its
tombstones and the delete itself left the chunk in place).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from vectorstore.store import SEQ, NewsStore

_PAGE = 5000


@dataclass
class Changes:
    present: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # chunk id -> (text, metadata)
    gone: dict[str, int] = field(default_factory=dict)  # chunk id -> the write number of its tombstone

    def __len__(self) -> int:
        return len(self.present) + len(self.gone)


def _pages(collection: Any, where: dict[str, Any], include: list[str]) -> Iterator[dict[str, Any]]:
    offset = 0
    while True:
        page = collection.get(where=where, include=include, limit=_PAGE, offset=offset)
        yield page
        if len(page["ids"]) < _PAGE:
            return
        offset += _PAGE


def changes_since(store: NewsStore, floor: int) -> Changes:
    """Every chunk written, and every chunk deleted, by a write numbered above `floor`."""
    changes = Changes()
    after = {SEQ: {"$gt": floor}}
    for page in _pages(store.collection, after, ["documents", "metadatas"]):
        for cid, doc, meta in zip(page["ids"], page["documents"] or [], page["metadatas"] or []):
            changes.present[cid] = (doc or "", meta or {})
    tombstones: dict[str, int] = {}
    for page in _pages(store.tombstones, after, ["metadatas"]):
        for cid, meta in zip(page["ids"], page["metadatas"] or []):
            if cid not in changes.present:
                tombstones[cid] = int((meta or {}).get(SEQ, 0))
    if tombstones:
        ids = list(tombstones)
        for start in range(0, len(ids), _PAGE):
            found = store.collection.get(ids=ids[start : start + _PAGE], include=["documents", "metadatas"])
            for cid, doc, meta in zip(found["ids"], found["documents"] or [], found["metadatas"] or []):
                changes.present[cid] = (doc or "", meta or {})
        changes.gone = {cid: seq for cid, seq in tombstones.items() if cid not in changes.present}
    return changes
