"""Ingest inside the server process (the embedded store admits one process): seeds on first
start, and the chat page's Ingest tab."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatbot.service import NewsBot
from ingest.errors import IngestError
from ingest.fetch import UrlPolicy
from ingest.fetch import check_url as check_fetchable
from ingest.pipeline import Ingestor, IngestSummary
from ingest.sources import SUPPORTED
from ingest.sources import suffix as source_suffix  # the loader's own rule (.txt.gz is .txt)

log = logging.getLogger(__name__)

UPLOAD_SUFFIXES = sorted(SUPPORTED)


class IngestRejected(ValueError):
    """An upload or URL refused before reading it (wrong type, too large, not an upload, not
    http, or a host that resolves to a private address)."""


def gradio_upload_dir() -> Path:
    """Where the chat page's uploads land (Gradio's own rule, GRADIO_TEMP_DIR or <tmp>/gradio)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder())


class WebIngest:
    def __init__(self, bot: NewsBot, settings: Any, upload_dir: Path | None = None) -> None:
        self.bot = bot
        self.settings = settings
        self.upload_dir = (upload_dir or gradio_upload_dir()).resolve()
        self._ingestor = Ingestor(settings, bot.store, bot.embedder)
        self._lock = threading.Lock()  # one ingest at a time

    def run(self, sources: list[str], on_item: Callable[[str], None] | None = None) -> IngestSummary:
        with self._lock:
            summary = self._ingestor.run(sources, on_item)
            self.bot.retriever.catch_up()  # in this thread: questions meanwhile read the index held
        return summary

    def seed_if_empty(self, seeds_dir: Path) -> IngestSummary | None:
        """So the demo answers at once: the shipped articles go into an empty store."""
        if self.bot.store.count() or not seeds_dir.is_dir():
            return None
        summary = self.run([str(seeds_dir)])
        log.info("seeded from %s: %s", seeds_dir, summary.line())
        return summary

    def check_upload(self, path: Path) -> str:
        # The page's API takes a file as a path: a caller can name any file on the server, so
        # only files Gradio received as uploads are read, never others (config, keys, data).
        resolved = path.resolve()
        if not resolved.is_relative_to(self.upload_dir) or not resolved.is_file():
            raise IngestRejected(f"{path.name}: not an uploaded file")
        if source_suffix(path) not in SUPPORTED:
            raise IngestRejected(f"{path.name}: only {', '.join(UPLOAD_SUFFIXES)} files (optionally .gz)")
        size = path.stat().st_size
        if size > self.settings.max_upload_bytes:
            raise IngestRejected(f"{path.name}: {size} bytes, over the {self.settings.max_upload_bytes} byte limit")
        return str(path)

    def check_url(self, url: str) -> str:
        """An http(s) URL whose host resolves to addresses the settings allow (the fetch checks
        again on the address it connects to, and on every redirect)."""
        url = url.strip()
        if not url.startswith(("http://", "https://")) or len(url) > 2000:
            raise IngestRejected("give an http(s) URL")
        try:
            check_fetchable(url, UrlPolicy.from_settings(self.settings), self.settings.fetch_timeout_s)
        except IngestError as exc:
            raise IngestRejected(f"{url}: {exc}") from None
        return url
