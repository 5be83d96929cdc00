"""Counts over the store for `newsbot stats` and the health endpoint."""

from __future__ import annotations

import json
from typing import Any

from vectorstore.store import NewsStore


def store_stats(store: NewsStore) -> dict[str, Any]:
    articles: set[str] = set()
    sources: set[str] = set()
    dates: list[str] = []
    quotes = 0
    chunks = 0
    for _, _, meta in store.iter_all(include_documents=False):
        chunks += 1
        quotes += len(json.loads(meta.get("quotes") or "[]"))
        if "article_id" in meta and meta["article_id"] not in articles:
            articles.add(str(meta["article_id"]))
            sources.update(meta.get("sources") or [])
            if meta.get("published"):
                dates.append(str(meta["published"]))
    return {
        "articles": len(articles), "chunks": chunks, "quotes": quotes, "sources": sorted(sources),
        "from": min(dates) if dates else None, "to": max(dates) if dates else None,
    }
