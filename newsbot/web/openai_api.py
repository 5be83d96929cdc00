"""An OpenAI-compatible chat API: /v1/models and /v1/chat/completions (plain and streamed).

The last user message is the question, earlier messages the history. The reply's content is
the cited answer followed by its numbered sources; the structured citations ride along in an
extra `citations` field that OpenAI clients ignore.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException
from starlette.responses import Response

from chatbot.answer import Answer, human_date, quoted
from chatbot.service import NewsBot
from newsbot.web.limits import (
    HeldStreamingResponse,
    RateLimiter,
    WorkQueue,
    guarded_route,
    plain_json,
    printable,
    validation_message,
)

BASE_MODEL, LLM_MODEL = "newsbot", "newsbot-llm"
OPENAI_PREFIX = "/v1"


class ContentPart(BaseModel):
    type: str
    text: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: Annotated[str, Field(max_length=20_000)] | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, top_p … are accepted and ignored
    _plain = model_validator(mode="before")(plain_json)  # the whole body, extras included
    model: str = BASE_MODEL
    messages: Annotated[list[Message], Field(min_length=1, max_length=50)]
    stream: bool = False
    stream_options: StreamOptions | None = None  # include_usage: a last chunk with the token counts


# -- errors: OpenAI's shape, {"error": {"message", "type", "param", "code"}}, for every 4xx and 5xx --

_ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error", 429: "rate_limit_error"}
_ERROR_CODES = {413: "request_too_large", 429: "rate_limit_exceeded"}


def is_openai_path(path: str) -> bool:
    return path == OPENAI_PREFIX or path.startswith(OPENAI_PREFIX + "/")


def openai_error(status: int, message: str, *, param: str | None = None, code: str | None = None,
                 headers: Mapping[str, str] | None = None) -> JSONResponse:
    """An error as OpenAI's clients parse it; the type follows from the status."""
    kind = "server_error" if status >= 500 else _ERROR_TYPES.get(status, "invalid_request_error")
    error = {"message": printable(message), "type": kind, "param": param and printable(param),
             "code": code or _ERROR_CODES.get(status)}
    return JSONResponse({"error": error}, status_code=status, headers=headers)


class OpenAIError(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.param, self.code = status, param, code

    def response(self) -> JSONResponse:
        return openai_error(self.status, str(self), param=self.param, code=self.code)


def validation_error(exc: RequestValidationError) -> JSONResponse:
    """A 400 as OpenAI answers a malformed request: one line naming each field at fault (the first
    three) and why, and `param`, the first one's path ("messages[0].role"), as OpenAI spells it."""
    message, param = validation_message(exc)
    return openai_error(400, message, param=param)


def openai_route(max_body_bytes: int) -> type[APIRoute]:
    """A route class whose every refusal is an OpenAI error: a body over `max_body_bytes` (413),
    a malformed request (400, see `validation_error`), a refused key, an unknown model, the rate
    limit (429) or a full queue (503). Other failures reach the app's handlers (see server.py)."""
    return guarded_route(max_body_bytes, lambda message: openai_error(413, message), _as_openai_error)


def _as_openai_error(exc: Exception) -> Response | None:
    if isinstance(exc, OpenAIError):
        return exc.response()
    if isinstance(exc, RequestValidationError):
        return validation_error(exc)
    if isinstance(exc, HTTPException):
        return openai_error(exc.status_code, str(exc.detail), headers=exc.headers)
    return None


def with_sources(answer: Answer) -> str:
    """The answer, then one line per source: `[n] title (outlet · date · url) — “quote”`, verbatim."""
    if not answer.citations:
        return answer.answer
    lines = [answer.answer, "", "Sources:"]
    for c in answer.citations:
        meta = " · ".join(x for x in (c.source, human_date(c.published), c.url) if x)
        lines.append(f"[{c.n}] {c.title} ({meta}) — {quoted(c.quote)}")
    return "\n".join(lines)


def _split(request: ChatRequest, max_chars: int) -> tuple[str, list[dict[str, str]]]:
    turns = [m for m in request.messages if m.role in {"user", "assistant"}]
    if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
        raise OpenAIError(400, "messages: the last message must be a user message with text", param="messages")
    question = turns[-1].text().strip()
    if len(question) > max_chars:
        param = f"messages[{request.messages.index(turns[-1])}].content"
        raise OpenAIError(400, f"{param}: the question should have at most {max_chars} characters, not {len(question)}",
                          param=param, code="string_too_long")
    history = [{"role": m.role, "content": m.text()} for m in turns[:-1]]
    return question, history


def _chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None = None) -> str:
    body = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


class TokenCounter:
    """`usage` as OpenAI reports it, counted with the store's tokenizer (`settings.tokenizer`):
    the text of every message sent, and the reply's content."""

    def __init__(self, tokenizer: str) -> None:
        from ingest.chunk import get_encoding

        self.encoding = get_encoding(tokenizer)

    def count(self, text: str) -> int:
        return len(self.encoding.encode(text, disallowed_special=()))

    def usage(self, messages: list[Message], reply: str) -> dict[str, int]:
        prompt = sum(self.count(m.text()) for m in messages)
        completion = self.count(reply)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def openai_router(bot: NewsBot, settings: Any, queue: WorkQueue, limiter: RateLimiter) -> APIRouter:
    router = APIRouter(prefix=OPENAI_PREFIX, tags=["openai"], route_class=openai_route(settings.max_body_bytes))
    tokens = TokenCounter(settings.tokenizer)

    def authorised(request: Request) -> None:
        key = settings.api_key.get_secret_value() if settings.api_key else None
        if key is None:
            return
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        # Header values arrive as latin-1 text: compare the bytes sent with the key's UTF-8 bytes.
        if not secrets.compare_digest(given.encode("latin-1"), key.encode("utf-8", "surrogateescape")):
            raise OpenAIError(401, "invalid or missing API key (Authorization: Bearer …)", code="invalid_api_key")

    guarded = [Depends(authorised), Depends(limiter)]

    def models() -> list[str]:
        return [BASE_MODEL] + ([LLM_MODEL] if settings.llm_base_url else [])

    def llm_for(model: str) -> str | None:
        if model not in models():
            raise OpenAIError(404, f"model {model!r} does not exist; known: {', '.join(models())}", param="model",
                              code="model_not_found")
        return settings.llm_model if model == LLM_MODEL else None

    @router.get("/models", dependencies=[Depends(authorised)])
    def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "newsbot"}
                                           for m in models()]}

    @router.post("/chat/completions", dependencies=guarded, response_model=None)
    async def chat(body: ChatRequest) -> dict[str, Any] | HeldStreamingResponse:
        """OpenAI's chat completion, answered by newsbot with numbered citations."""
        llm = llm_for(body.model)
        question, history = _split(body, settings.max_question_chars)
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if body.stream:
            release = queue.admit()
            events = bot.stream(question, history=history or None, llm=llm)
            usage = (lambda reply: tokens.usage(body.messages, reply)) if (
                body.stream_options and body.stream_options.include_usage) else None
            return HeldStreamingResponse(_stream(queue, events, cid, body.model, usage), release,
                                         media_type="text/event-stream")
        answer = await queue.run(bot.ask, question, history=history or None, llm=llm)
        content = with_sources(answer)
        message = {"role": "assistant", "content": content, "citations": answer.as_dict()["citations"]}
        return {"id": cid, "object": "chat.completion", "created": int(time.time()), "model": body.model,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": tokens.usage(body.messages, content)}

    return router


async def _stream(queue: WorkQueue, events: Iterator[str | Answer], cid: str, model: str,
                  usage: Callable[[str], dict[str, int]] | None = None) -> AsyncIterator[str]:
    """Text pieces as they come (an LLM answer's are sentences that passed the citation check, so
    nothing streamed is taken back); the sources and citations in the last chunk; with
    `stream_options.include_usage`, then a chunk with no choices and the token counts, as OpenAI does."""
    yield _chunk(cid, model, {"role": "assistant", "content": ""})
    content, done = "", object()
    while (event := await queue.next(events, done)) is not done:
        if isinstance(event, Answer):
            tail = with_sources(event)[len(event.answer):]
            content += tail
            yield _chunk(cid, model, {"content": tail, "citations": event.as_dict()["citations"]}, "stop")
        else:
            content += event
            yield _chunk(cid, model, {"content": event})
    if usage is not None:
        body = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                "choices": [], "usage": usage(content)}
        yield f"data: {json.dumps(body, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"
