"""What may reach the bot, and how much: per-client rate, bounded work, origins."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import anyio
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.responses import Response, StreamingResponse
from starlette.types import Message, Receive, Scope, Send

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


def plain_json(data: Any) -> Any:
    """Pydantic before-validator for request bodies: refuse what JSON text can spell but no answer,
    log line or response can carry: lone surrogates ("\\ud800") and NaN or Infinity."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if any("\ud800" <= c <= "\udfff" for c in value):
                raise ValueError("text must be valid Unicode: it holds a lone surrogate (\\ud800-\\udfff)")
        elif isinstance(value, float) and not math.isfinite(value):
            raise ValueError("numbers must be finite: NaN and Infinity are not JSON")
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return data


def validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    """One line naming each field at fault (the first three) and why, and the first one's path
    ("messages[0].role", "filters.date_from"; None when pydantic names none)."""
    reasons: dict[str | None, list[str]] = {}
    for error in exc.errors():
        param = _param(error.get("loc", ()), exc.body, error.get("type") == "missing")
        reason = _reason(error)
        if reason not in reasons.setdefault(param, []):
            reasons[param].append(reason)
    if not reasons:  # not seen: pydantic always names an error
        return "the request is invalid", None
    lines = [f"{param or 'body'}: {' or '.join(why)}" for param, why in reasons.items()]
    more = f" (and {len(lines) - 3} more)" if len(lines) > 3 else ""
    return "; ".join(lines[:3]) + more, next(iter(reasons))


def _param(loc: Sequence[Any], body: Any, missing: bool) -> str | None:
    """The request field a pydantic error location points at. Locations name a union's member
    ("constrained-str", "list[ContentPart]") as a step too; walking the body alongside leaves those out."""
    if not loc or loc[0] != "body":
        return ".".join(map(str, loc)) or None  # query or header: not used by these routes
    path, node, steps = "", body, list(loc[1:])
    for i, step in enumerate(steps):
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        elif not (missing and i == len(steps) - 1 and isinstance(node, dict)):
            continue  # a union member, or an offset into text that is not JSON
        path += f"[{step}]" if isinstance(step, int) else f".{step}" if path else str(step)
    return path or None


def _reason(error: Mapping[str, Any]) -> str:
    if error.get("type") == "json_invalid":  # located at ("body", offset)
        return f"not valid JSON ({(error.get('ctx') or {}).get('error', 'decode error')} at character {error['loc'][-1]})"
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


def printable(text: str) -> str:
    """Text any JSON response can carry: a lone surrogate becomes its backslash escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def validation_error_response(exc: RequestValidationError) -> JSONResponse:
    """A 422 in the API's one error shape, `{"detail": "question: String should have at least 1
    character"}` (see `validation_message`), never FastAPI's list echoing the input back."""
    return JSONResponse({"detail": printable(validation_message(exc)[0])}, status_code=422)


def guarded_route(max_body_bytes: int, too_large: Callable[[str], Response],
                  translate: Callable[[Exception], Response | None]) -> type[APIRoute]:
    """A route class that answers a body over `max_body_bytes` with `too_large(message)` (Starlette's
    own limit answers in plain text) and turns the errors `translate` knows into its API's responses."""

    class GuardedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                checked = await within_limit(request, max_body_bytes)
                if checked is None:
                    return too_large(f"request body is over the {max_body_bytes:,}-byte limit")
                try:
                    return await handler(checked)
                except Exception as exc:
                    response = translate(exc)
                    if response is None:
                        raise
                    return response

            return handle

    return GuardedRoute


def json_error_route(max_body_bytes: int) -> type[APIRoute]:
    """Errors in the API's one shape, `{"detail": "one line"}`: a 413, and request-validation errors
    (see `validation_error_response`)."""
    return guarded_route(
        max_body_bytes, lambda message: JSONResponse({"detail": message}, status_code=413),
        lambda exc: validation_error_response(exc) if isinstance(exc, RequestValidationError) else None)


async def within_limit(request: Request, limit: int) -> Request | None:
    """The request when its body is within `limit` bytes, else None, checked before anything
    parses it. A body sent without Content-Length is read up to the limit and handed on."""
    length = request.headers.get("content-length", "")
    if length.isdigit():
        return request if int(length) <= limit else None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    replayed = False

    async def receive() -> Message:
        nonlocal replayed
        if replayed:
            return {"type": "http.disconnect"}
        replayed = True
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    return Request(request.scope, receive)
