"""The JSON API: /api/ask (plain and server-sent events), /api/retrieve, /api/health, /api/feedback."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from chatbot.answer import Answer
from chatbot.retrieval import Filters
from chatbot.service import NewsBot
from newsbot.web.feedback import FeedbackLog, Rating
from newsbot.web.limits import HeldStreamingResponse, RateLimiter, WorkQueue, json_error_route, plain_json, printable

Short = Annotated[str, StringConstraints(max_length=300)]
Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1),
                     Field(description="At most `max_question_chars` characters (a setting; 1000 by default).")]
log = logging.getLogger(__name__)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    _plain = model_validator(mode="before")(plain_json)


class Turn(Strict):
    role: Literal["user", "assistant"]
    content: Annotated[str, StringConstraints(max_length=8000)]


class FiltersIn(Strict):
    source: Short | None = None
    date_from: date | None = None
    date_to: date | None = None
    article_id: Short | None = None

    def filters(self) -> Filters:
        return Filters(self.source or None, _iso(self.date_from), _iso(self.date_to), self.article_id or None)


class RetrieveRequest(Strict):
    question: Question
    filters: FiltersIn = Field(default_factory=FiltersIn)
    k: int | None = Field(None, ge=1, le=50)


class AskRequest(RetrieveRequest):
    history: list[Turn] = Field(default_factory=list, max_length=20)
    llm: Short | None = Field(None, description="Answer with this model of the configured LLM endpoint.")

    def kwargs(self) -> dict[str, Any]:
        return {"history": [t.model_dump() for t in self.history] or None, "filters": self.filters.filters(),
                "k": self.k, "llm": self.llm}


class ErrorDetail(BaseModel):
    """Every error of the API: one line saying what went wrong."""

    detail: str


# In the OpenAPI docs, instead of FastAPI's list of validation errors, which this API never sends.
UNUSABLE: dict[int | str, dict[str, Any]] = {422: {"model": ErrorDetail, "description": "A request that cannot be used: "
                                                   "one line naming the field and why, e.g. `question: String should have "
                                                   "at least 1 character`"}}


class FeedbackRequest(Strict):
    question: Question
    answer: Annotated[str, StringConstraints(max_length=20_000)]
    citations: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    rating: Rating
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def within(question: str, max_chars: int) -> str:
    """The question, or the same 422 pydantic gives for a too-long string (the limit is a setting,
    so it cannot live in the model)."""
    if len(question) > max_chars:
        raise RequestValidationError([{"type": "string_too_long", "loc": ("body", "question"), "input": question,
                                       "msg": f"String should have at most {max_chars} characters",
                                       "ctx": {"max_length": max_chars}}], body={"question": question})
    return question


def api_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """An error in the JSON API's own shape, FastAPI's `{"detail": message}`."""
    return JSONResponse({"detail": printable(message)}, status_code=status, headers=headers)


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def api_router(bot: NewsBot, settings: Any, queue: WorkQueue, limiter: RateLimiter,
               feedback_log: FeedbackLog) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["api"], route_class=json_error_route(settings.max_body_bytes))
    limited = [Depends(limiter)]
    max_chars = settings.max_question_chars

    # The Answer dataclass documents the response; the body is `as_dict()` as is, so it stays
    # the JSON of `ask --json` (optional keys absent, not null).
    @router.post("/ask", dependencies=limited, response_model=None, responses={200: {"model": Answer}, **UNUSABLE})
    async def ask(body: AskRequest) -> dict[str, Any]:
        """Answer with numbered citations: the JSON of `newsbot ask --json`."""
        answer = await queue.run(bot.ask, within(body.question, max_chars), **body.kwargs())
        return answer.as_dict()

    @router.post("/ask/stream", dependencies=limited, response_class=HeldStreamingResponse, status_code=200,
                 responses={200: {"content": {"text/event-stream": {}}}, **UNUSABLE})
    async def ask_stream(body: AskRequest) -> HeldStreamingResponse:
        """Server-sent events: `delta` events, each a whole sentence once it has passed the citation check
        (nothing sent is taken back; the deltas join to the answer), then one `answer` event with the full JSON."""
        question = within(body.question, max_chars)
        release = queue.admit()
        events = bot.stream(question, **body.kwargs())
        return HeldStreamingResponse(sse_events(queue, events), release, media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @router.post("/retrieve", dependencies=limited, responses=UNUSABLE)
    async def retrieve(body: RetrieveRequest) -> dict[str, Any]:
        """The passages a question retrieves, best first: the JSON of `newsbot retrieve --json`."""
        found = await queue.run(bot.retrieve, within(body.question, max_chars), body.k, body.filters.filters())
        return {"question": body.question, "results": [p.as_dict() for p in found.passages]}

    @router.get("/quotes", dependencies=limited, responses=UNUSABLE)
    async def quotes(person: Annotated[str, Query(min_length=1, max_length=300, description="A name, title or role.")],
                     about: Annotated[str | None, Query(max_length=300, description="Only quotes on this topic.")] = None,
                     source: Short | None = None) -> dict[str, Any]:
        """A person's attributed quotes, newest first, each with its article: the JSON of `newsbot quotes --json`."""
        found = await queue.run(bot.quotes, person.strip(), (about or "").strip() or None, Filters(source=source or None))
        return found.as_dict()

    @router.get("/health")
    def health() -> dict[str, Any]:
        """Up, with what the store holds."""
        index = bot.retriever.index
        return {"status": "ok", "articles": index.n_articles, "chunks": index.n_chunks}

    @router.post("/feedback", responses=UNUSABLE)
    def feedback(body: FeedbackRequest) -> dict[str, str]:
        """Record a thumbs up or down with the question, answer and citations."""
        feedback_log.append(body.rating, within(body.question, max_chars), body.answer, body.citations,
                            **({"comment": body.comment} if body.comment else {}), via="api")
        return {"status": "recorded"}

    return router


async def sse_events(queue: WorkQueue, events: Iterator[str | Answer]) -> AsyncIterator[str]:
    done = object()
    try:
        while (event := await queue.next(events, done)) is not done:
            if isinstance(event, Answer):
                yield sse("answer", event.as_dict())
            else:
                yield sse("delta", {"text": event})
    except Exception:  # the status line is already sent: report in-band
        log.exception("streamed answer failed")
        yield sse("error", {"detail": "the answer could not be finished"})
    finally:
        if isinstance(events, Generator):  # the client may leave mid-answer: let the bot clean up
            events.close()
