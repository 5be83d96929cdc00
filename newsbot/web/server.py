"""`newsbot serve`: one process with the JSON API, the widget and the Gradio chat page at `/`."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import gradio as gr
import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi_offline import FastAPIOffline
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from chatbot.service import NewsBot
from newsbot.web.api import api_error, api_router
from newsbot.web.cards import CARDS_CSS, CARDS_JS
from newsbot.web.feedback import FeedbackLog
from newsbot.web.ingest_tab import WebIngest
from newsbot.web.limits import MULTIPART_SLACK, RateLimiter, WorkQueue, cors_options
from newsbot.web.openai_api import OPENAI_PREFIX, is_openai_path, openai_error, openai_router
from newsbot.web.ui import build_ui
from newsbot.web.widget import widget_router
from vectorstore.errors import StoreError
from vectorstore.lock import exit_cleanly_on_sigterm

log = logging.getLogger(__name__)


def create_app(settings: Any) -> FastAPI:
    """The whole server, ready to answer: the store is opened, seeded when empty, the model loaded."""
    bot = NewsBot(settings)
    ingest = WebIngest(bot, settings)
    ingest.seed_if_empty(settings.seeds_dir)
    bot.warm_up()
    bot.retriever.follow()  # writes by other processes (a shared Chroma server) show within seconds

    # The API routes have their own, smaller body limit; this one is for the page's uploads.
    app = FastAPIOffline(title="newsbot", summary="Answers about the news with numbered citations.",  # docs without a CDN
                         redoc_url=None, max_body_size=settings.max_upload_bytes + MULTIPART_SLACK)
    app.add_middleware(CORSMiddleware, **cors_options(settings.allowed_origins))
    app.add_exception_handler(StoreError, store_unavailable)
    app.add_exception_handler(Exception, internal_error)
    queue = WorkQueue(settings.queue_size, workers=min(4, os.cpu_count() or 1))
    feedback_log = FeedbackLog(settings.data_dir / settings.feedback_file)  # one writer for the API and the page
    limiter = RateLimiter(settings.rate_limit_per_minute)
    api = api_router(bot, settings, queue, limiter, feedback_log)
    v1 = openai_router(bot, settings, queue, limiter)
    app.include_router(api)
    app.include_router(v1)
    app.include_router(widget_router(settings.allowed_origins))
    # The page mounted at "/" takes every request no route above takes, so a wrong method on
    # the JSON APIs would get the page's 404: under their prefixes, answer 405 or 404 in their shape.
    for prefix, router, error in (("/api", api, api_error), (OPENAI_PREFIX, v1, openai_error)):
        unrouted = NotRouted(prefix, router, error)
        app.add_route(prefix, unrouted, include_in_schema=False)
        app.add_route(prefix + "/{rest:path}", unrouted, include_in_schema=False)
    # Mounted last: the page at "/" would otherwise shadow the routes above.
    page = build_ui(bot, settings, ingest, feedback_log)
    app = gr.mount_gradio_app(app, page, path="/", footer_links=[], max_file_size=settings.max_upload_bytes,
                              ssr_mode=False, mcp_server=False, enable_monitoring=False, run_history=False,
                              css=CARDS_CSS, js=CARDS_JS)
    # Gradio checks that a file an event receives is one a user uploaded only once the Blocks
    # "has launched", which mounting never marks: unmarked, any path on the server named in a
    # call would be copied into Gradio's cache (and then served) and handed to the Ingest tab.
    page.has_launched = True
    return app


class NotRouted:
    """The answer for a request under `prefix` that none of the router's routes takes: 405 with
    `Allow` when the path is one of them with other methods, else 404; `error` gives the API's shape.
    An ASGI app rather than a function, so that its route takes every method."""

    def __init__(self, prefix: str, router: APIRouter, error: Callable[..., JSONResponse]) -> None:
        self.prefix, self.error = prefix, error
        self.routes = [r for r in router.routes if isinstance(r, Route)]
        self.paths = ", ".join(sorted({r.path for r in self.routes}))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        allowed = sorted({m for r in self.routes if r.matches(scope)[0] is not Match.NONE for m in r.methods or ()})
        if allowed:
            response = self.error(405, f"Method Not Allowed: {path} takes {' or '.join(allowed)}, not {method}",
                                  headers={"Allow": ", ".join(allowed)})
        else:
            response = self.error(404, f"Not Found: {path} is not an endpoint; those under {self.prefix}/ are {self.paths}")
        await response(scope, receive, send)


async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("store error on %s: %s", request.url.path, exc)
    message = f"the article store is unavailable ({exc})"
    if is_openai_path(request.url.path):
        return openai_error(503, message)
    return JSONResponse({"detail": message}, status_code=503)


async def internal_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 500, except that OpenAI clients get theirs in OpenAI's shape (the error is
    still raised on, so the server logs it)."""
    if is_openai_path(request.url.path):
        return openai_error(500, "the server failed to answer (see its log)")
    return PlainTextResponse("Internal Server Error", status_code=500)


def run(settings: Any, host: str = "127.0.0.1", port: int = 7860) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    log.info("newsbot: chat at http://%s:%d/ · API docs at /docs · widget at /widget.js", host, port)
    exit_cleanly_on_sigterm()
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
