"""Ingest inside the server process (the embedded store admits one process): seeds on first
start, and the chat page's Ingest tab."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatbot.service import NewsBot
from ingest.pipeline import Ingestor, IngestSummary
from ingest.sources import SUPPORTED
from ingest.sources import suffix as source_suffix  # the loader's own rule (.txt.gz is .txt)

log = logging.getLogger(__name__)

UPLOAD_SUFFIXES = sorted(SUPPORTED)


class IngestRejected(ValueError):
    """An upload or URL refused before reading it (wrong type, too large, not http)."""


class WebIngest:
    def __init__(self, bot: NewsBot, settings: Any) -> None:
        self.bot = bot
        self.settings = settings
        self._ingestor = Ingestor(settings, bot.store, bot.embedder)
        self._lock = threading.Lock()  # one ingest at a time

    def run(self, sources: list[str], on_item: Callable[[str], None] | None = None) -> IngestSummary:
        with self._lock:
            summary = self._ingestor.run(sources, on_item)
        self.bot.retriever.invalidate()
        return summary

    def seed_if_empty(self, seeds_dir: Path) -> IngestSummary | None:
        """So the demo answers at once: the shipped articles go into an empty store."""
        if self.bot.store.count() or not seeds_dir.is_dir():
            return None
        summary = self.run([str(seeds_dir)])
        log.info("seeded from %s: %s", seeds_dir, summary.line())
        return summary

    def check_upload(self, path: Path) -> str:
        if source_suffix(path) not in SUPPORTED:
            raise IngestRejected(f"{path.name}: only {', '.join(UPLOAD_SUFFIXES)} files (optionally .gz)")
        size = path.stat().st_size
        if size > self.settings.max_upload_bytes:
            raise IngestRejected(f"{path.name}: {size} bytes, over the {self.settings.max_upload_bytes} byte limit")
        return str(path)

    @staticmethod
    def check_url(url: str) -> str:
        url = url.strip()
        if not url.startswith(("http://", "https://")) or len(url) > 2000:
            raise IngestRejected("give an http(s) URL")
        return url
