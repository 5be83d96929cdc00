"""One process per embedded Chroma folder: a second opener fails at once with a clear error.

Chroma's PersistentClient is not safe across processes (a second writer can hang or corrupt
the HNSW index), so the data directory carries an advisory lock held for the process life.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from vectorstore.errors import StoreLockedError

_held: dict[Path, IO[str]] = {}


def acquire_store_lock(data_dir: Path) -> None:
    data_dir = data_dir.resolve()
    if data_dir in _held:
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(data_dir / "store.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        msg = (f"the store in {data_dir} is in use by {owner}; stop it, use its web ingest, "
               "or run a Chroma server (NEWSBOT_CHROMA_URL) for several processes")
        raise StoreLockedError(msg) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    _held[data_dir] = handle


def release_store_lock(data_dir: Path) -> None:
    handle = _held.pop(data_dir.resolve(), None)
    if handle is not None:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
