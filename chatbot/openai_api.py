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
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from chatbot.answer import Answer, human_date
from chatbot.service import NewsBot
from chatbot.web_api import within
from chatbot.web_limits import HeldStreamingResponse, RateLimiter, WorkQueue, json_error_route, plain_json

BASE_MODEL, LLM_MODEL = "newsbot", "newsbot-llm"


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


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, top_p … are accepted and ignored
    _plain = model_validator(mode="before")(plain_json)  # the whole body, extras included
    model: str = BASE_MODEL
    messages: Annotated[list[Message], Field(min_length=1, max_length=50)]
    stream: bool = False


class OpenAIError(Exception):
    def __init__(self, status: int, message: str, kind: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.code = status, kind, code


def openai_error_response(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OpenAIError)
    return JSONResponse({"error": {"message": str(exc), "type": exc.kind, "param": None, "code": exc.code}},
                        status_code=exc.status)


def with_sources(answer: Answer) -> str:
    if not answer.citations:
        return answer.answer
    lines = [answer.answer, "", "Sources:"]
    for c in answer.citations:
        meta = " · ".join(x for x in (c.source, human_date(c.published), c.url) if x)
        lines.append(f"[{c.n}] {c.title} ({meta}) — “{c.quote}”")
    return "\n".join(lines)


def _split(request: ChatRequest, max_chars: int) -> tuple[str, list[dict[str, str]]]:
    turns = [m for m in request.messages if m.role in {"user", "assistant"}]
    if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
        raise OpenAIError(400, "the last message must be a user message with text", "invalid_request_error")
    history = [{"role": m.role, "content": m.text()} for m in turns[:-1]]
    return within(turns[-1].text().strip(), max_chars), history


def _chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None = None) -> str:
    body = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def openai_router(bot: NewsBot, settings: Any, queue: WorkQueue, limiter: RateLimiter) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["openai"], route_class=json_error_route(settings.max_body_bytes))

    def authorised(request: Request) -> None:
        key = settings.api_key.get_secret_value() if settings.api_key else None
        if key is None:
            return
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        # Header values arrive as latin-1 text: compare the bytes sent with the key's UTF-8 bytes.
        if not secrets.compare_digest(given.encode("latin-1"), key.encode("utf-8", "surrogateescape")):
            raise OpenAIError(401, "invalid or missing API key (Authorization: Bearer …)", "invalid_request_error",
                              "invalid_api_key")

    guarded = [Depends(authorised), Depends(limiter)]

    def models() -> list[str]:
        return [BASE_MODEL] + ([LLM_MODEL] if settings.llm_base_url else [])

    def llm_for(model: str) -> str | None:
        if model not in models():
            raise OpenAIError(404, f"model {model!r} does not exist; known: {', '.join(models())}",
                              "invalid_request_error", "model_not_found")
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
            return HeldStreamingResponse(_stream(queue, events, cid, body.model), release, media_type="text/event-stream")
        answer = await queue.run(bot.ask, question, history=history or None, llm=llm)
        message = {"role": "assistant", "content": with_sources(answer), "citations": answer.as_dict()["citations"]}
        return {"id": cid, "object": "chat.completion", "created": int(time.time()), "model": body.model,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}

    return router


async def _stream(queue: WorkQueue, events: Iterator[str | Answer], cid: str, model: str) -> AsyncIterator[str]:
    """Text pieces as they come; the checked answer's sources and citations in the last chunk.

    An LLM's raw tokens may lose sentences to the citation check, so when the final text differs
    from what was streamed, the final chunk says so before listing the sources."""
    yield _chunk(cid, model, {"role": "assistant", "content": ""})
    streamed, done = "", object()
    while (event := await queue.next(events, done)) is not done:
        if isinstance(event, Answer):
            tail = with_sources(event)[len(event.answer):] if streamed == event.answer else (
                "\n\n(checked answer) " + with_sources(event))
            yield _chunk(cid, model, {"content": tail, "citations": event.as_dict()["citations"]}, "stop")
        else:
            streamed += event
            yield _chunk(cid, model, {"content": event})
    yield "data: [DONE]\n\n"
