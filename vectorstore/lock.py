"""One process per embedded Chroma folder: a second opener fails at once with a clear error.

Chroma's PersistentClient is not safe across processes (a second writer can hang or corrupt
the HNSW index), so the data directory carries an advisory lock held for the process life.

The lock file also says whether the last holder let go cleanly: it names the holder's pid
while held and is emptied on release (and at interpreter exit). Finding a pid in it when
taking the lock means the holder died holding the store (SIGKILL, OOM, power loss), maybe in
the middle of Chroma rewriting its HNSW files in place; the opener then rebuilds that index
(see vectorstore.store.make_client).
"""

from __future__ import annotations

import atexit
import fcntl
import os
import signal
import sys
from pathlib import Path
from typing import IO

from vectorstore.errors import StoreError, StoreLockedError

_held: dict[Path, IO[str]] = {}


def acquire_store_lock(data_dir: Path) -> bool:
    """Hold the store for this process. True when the previous holder died without letting go."""
    data_dir = data_dir.resolve()
    if data_dir in _held:
        return False
    if data_dir.exists() and not data_dir.is_dir():
        raise StoreError(f"{data_dir}: is a file; the data dir must be a folder")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        handle = open(data_dir / "store.lock", "a+")
    except OSError as exc:  # a file above it in the path, no permission, a read-only disk
        raise StoreError(f"{data_dir}: cannot hold a store there ({exc.strerror or exc})") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        msg = (f"the store in {data_dir} is in use by {owner}; wait for it or stop it (a running `newsbot serve` "
               "also ingests through its Ingest tab), or run a Chroma server (NEWSBOT_CHROMA_URL) for several processes")
        raise StoreLockedError(msg) from None
    handle.seek(0)
    died_holding = bool(handle.read().strip())
    handle.seek(0)
    handle.truncate()
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:2]]) if sys.argv and sys.argv[0] else "python"
    handle.write(f"pid {os.getpid()} ({command})")
    handle.flush()
    _held[data_dir] = handle
    return died_holding


def release_store_lock(data_dir: Path) -> None:
    handle = _held.pop(data_dir.resolve(), None)
    if handle is not None:
        handle.seek(0)
        handle.truncate()  # an empty lock file: let go cleanly
        handle.flush()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


@atexit.register
def _release_all() -> None:
    for data_dir in list(_held):
        release_store_lock(data_dir)


def exit_cleanly_on_sigterm() -> None:
    """Let SIGTERM end the process through sys.exit, so the lock is released as clean: uvicorn
    re-raises the signal after its graceful shutdown, and the default action skips atexit, which
    would leave the store marked as left by a dead holder (and rebuild its HNSW index on next open)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
