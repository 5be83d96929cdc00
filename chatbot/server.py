"""`newsbot serve`: one process with the JSON API, the widget and the Gradio chat page at `/`."""

from __future__ import annotations

import logging
import os
from typing import Any

import gradio as gr
import uvicorn
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from chatbot.cards import CARDS_CSS
from chatbot.feedback import FeedbackLog
from chatbot.openai_api import OpenAIError, openai_error_response, openai_router
from chatbot.service import NewsBot
from chatbot.web_api import api_router
from chatbot.web_ingest import WebIngest
from chatbot.web_limits import MULTIPART_SLACK, RateLimiter, WorkQueue, cors_options
from chatbot.web_ui import build_ui
from chatbot.widget import widget_router
from vectorstore.errors import StoreError
from vectorstore.lock import exit_cleanly_on_sigterm

log = logging.getLogger(__name__)


def create_app(settings: Any) -> FastAPI:
    """The whole server, ready to answer: the store is opened, seeded when empty, the model loaded."""
    bot = NewsBot(settings)
    ingest = WebIngest(bot, settings)
    ingest.seed_if_empty(settings.seeds_dir)
    bot.warm_up()

    # The API routes have their own, smaller body limit; this one is for the page's uploads.
    app = FastAPIOffline(title="newsbot", summary="Answers about the news with numbered citations.",  # docs without a CDN
                         redoc_url=None, max_body_size=settings.max_upload_bytes + MULTIPART_SLACK)
    app.add_middleware(CORSMiddleware, **cors_options(settings.allowed_origins))
    app.add_exception_handler(StoreError, store_unavailable)
    app.add_exception_handler(OpenAIError, openai_error_response)
    queue = WorkQueue(settings.queue_size, workers=min(4, os.cpu_count() or 1))
    feedback_log = FeedbackLog(settings.data_dir / settings.feedback_file)  # one writer for the API and the page
    limiter = RateLimiter(settings.rate_limit_per_minute)
    app.include_router(api_router(bot, settings, queue, limiter, feedback_log))
    app.include_router(openai_router(bot, settings, queue, limiter))
    app.include_router(widget_router(settings.allowed_origins))
    # Mounted last: the page at "/" would otherwise shadow the routes above.
    page = build_ui(bot, settings, ingest, feedback_log)
    app = gr.mount_gradio_app(app, page, path="/", footer_links=[], max_file_size=settings.max_upload_bytes,
                              ssr_mode=False, mcp_server=False, enable_monitoring=False, run_history=False,
                              css=CARDS_CSS)
    # Gradio checks that a file an event receives is one a user uploaded only once the Blocks
    # "has launched", which mounting never marks: unmarked, any path on the server named in a
    # call would be copied into Gradio's cache (and then served) and handed to the Ingest tab.
    page.has_launched = True
    return app


async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("store error on %s: %s", request.url.path, exc)
    return JSONResponse({"detail": f"the article store is unavailable ({exc})"}, status_code=503)


def run(settings: Any, host: str = "127.0.0.1", port: int = 7860) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    log.info("newsbot: chat at http://%s:%d/ · API docs at /docs · widget at /widget.js", host, port)
    exit_cleanly_on_sigterm()
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
