"""What may reach the bot, and how much: per-client rate, bounded work, origins."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar

import anyio
from fastapi import HTTPException, Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

T = TypeVar("T")

# Origins allowed when settings list none: any port on the loopback names.
LOCALHOST_ORIGINS = r"https?://(localhost|127\.0\.0\.1)(:\d+)?"
LOCALHOST_SOURCES = "http://localhost:* http://127.0.0.1:* https://localhost:* https://127.0.0.1:*"
MULTIPART_SLACK = 64 * 1024  # form boundaries and headers around an uploaded file


def cors_options(allowed_origins: list[str]) -> dict[str, Any]:
    """CORSMiddleware options: the listed origins, else the loopback origins (same-origin needs no CORS)."""
    return {
        "allow_origins": allowed_origins,
        "allow_origin_regex": None if allowed_origins else LOCALHOST_ORIGINS,
        "allow_methods": ["GET", "POST"],
        "allow_headers": ["Content-Type"],
        "expose_headers": ["Retry-After"],
        "max_age": 600,
    }


def frame_ancestors(allowed_origins: list[str]) -> str:
    """The CSP directive naming who may frame the embed page."""
    return "frame-ancestors 'self' " + (" ".join(allowed_origins) if allowed_origins else LOCALHOST_SOURCES)


class RateLimiter:
    """A token bucket per client: `per_minute` questions, refilled evenly; 0 turns it off."""

    def __init__(self, per_minute: int, max_clients: int = 10_000) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when)

    def wait(self, client: str) -> float:
        """0 when the client may go now, else the seconds until it may."""
        if self.capacity <= 0:
            return 0.0
        now = time.monotonic()
        tokens, then = self._buckets.get(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - then) * self.rate)
        allowed = tokens >= 1
        self._buckets[client] = (tokens - 1 if allowed else tokens, now)
        if len(self._buckets) > self.max_clients:
            self._forget_idle(now)
        return 0.0 if allowed else (1 - tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        refill = self.capacity / self.rate  # after this long a bucket is full again: as good as new
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill}

    async def __call__(self, request: Request) -> None:
        """FastAPI dependency: 429 with Retry-After when the client is over its rate."""
        wait = self.wait(request.client.host if request.client else "unknown")
        if wait:
            raise HTTPException(429, "too many questions; try again later",
                                headers={"Retry-After": str(math.ceil(wait))})


class WorkQueue:
    """Bounded work for the bot: at most `size` requests admitted, `workers` running at once.

    When full, a request gets 503 at once rather than waiting behind a long queue.
    """

    def __init__(self, size: int, workers: int) -> None:
        self.size = size
        self.admitted = 0  # only touched on the event loop, so no lock
        self.limiter = anyio.CapacityLimiter(workers)

    def admit(self) -> Callable[[], None]:
        """Take a place or raise 503; returns the (idempotent) release."""
        if self.admitted >= self.size:
            raise HTTPException(503, "the server is busy; try again shortly", headers={"Retry-After": "1"})
        self.admitted += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.admitted -= 1

        return release

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        release = self.admit()
        try:
            return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), limiter=self.limiter)
        finally:
            release()

    async def next(self, items: Iterator[T], default: T) -> T:
        """The iterator's next item, computed on a worker thread."""
        return await anyio.to_thread.run_sync(next, items, default, limiter=self.limiter)


class HeldStreamingResponse(StreamingResponse):
    """A streaming response that gives its queue place back however the stream ends,
    including when the client leaves before the body starts."""

    def __init__(self, content: Any, release: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.release()
