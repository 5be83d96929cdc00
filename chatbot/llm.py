"""Answers written by an LLM behind any OpenAI-compatible endpoint, streamed by checked sentence."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import prompts
from chatbot.answer import Answer, human_date
from chatbot.citations import CheckedStream
from vectorstore.records import Passage


class LLMUnavailable(Exception):
    """No LLM is configured, or the endpoint is down or too slow."""


def _inert(text: str) -> str:
    """Article text cannot close its passage tag nor write a chat-template token (`<|im_start|>system`,
    which llama.cpp's server reads as a real turn)."""
    return text.replace("<", "‹").replace(">", "›")


def format_passages(passages: list[Passage]) -> str:
    blocks = []
    for n, p in enumerate(passages, 1):
        meta = _inert(", ".join(x for x in (p.source, human_date(p.published), p.title) if x)).replace('"', "”")
        body = _inert(p.text)
        blocks.append(f'<passage n="{n}" meta="{meta}">\n{body}\n</passage>')
    return "\n".join(blocks)


class LLMAnswerer:
    def __init__(self, chat_model: Any) -> None:
        self.chat_model = chat_model

    @classmethod
    def from_settings(cls, settings: Any, name: str | None = None) -> LLMAnswerer:
        if not settings.llm_base_url:
            raise LLMUnavailable("no LLM endpoint configured; set NEWSBOT_LLM_BASE_URL")
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as exc:  # pragma: no cover
            raise LLMUnavailable("langchain-openai is not installed") from exc
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
        model = ChatOpenAI(
            base_url=settings.llm_base_url, model=name if name and name != "default" else settings.llm_model,
            api_key=key, timeout=settings.llm_timeout_s, max_retries=0, temperature=0,
            # as max_tokens: langchain-openai sends max_completion_tokens, which llama.cpp's server ignores
            extra_body={"max_tokens": settings.llm_max_tokens}, streaming=True,
        )
        return cls(model)

    def messages(self, question: str, passages: list[Passage]) -> list[tuple[str, str]]:
        return [
            ("system", prompts.load("answer_system").render()),
            ("human", prompts.load("answer_user").render(passages=format_passages(passages), question=question)),
        ]

    def stream(self, question: str, standalone: str, passages: list[Passage]) -> Generator[str, None, Answer]:
        """Yield the answer sentence by sentence, each once it has passed the citation check (a
        sentence that fails is never shown); return the checked Answer, whose text is exactly what
        was yielded. LLMUnavailable when the LLM fails before a sentence was shown; after one, the
        sentences shown are the answer, with a notice that it may be incomplete."""
        checked = CheckedStream(question, passages)
        try:
            for chunk in self.chat_model.stream(self.messages(standalone, passages)):
                piece = chunk.content if isinstance(chunk.content, str) else ""
                if piece and (shown := checked.feed(piece)):
                    yield shown
        except Exception as exc:  # openai/httpx raise many types for a dead or slow endpoint
            reason = f"{type(exc).__name__}: {str(exc)[:120]}"
            if not checked.sent:
                raise LLMUnavailable(reason) from exc
            answer = checked.answer()  # the unfinished sentence is dropped: it was never checked whole
            answer.notice = f"The language model stopped before finishing ({reason}); the answer may be incomplete."
            return answer
        if rest := checked.flush():
            yield rest
        return checked.answer()

    def condense(self, question: str, history: list[dict[str, str]]) -> str:
        turns = _inert("\n".join(f"{m.get('role')}: {m.get('content')}" for m in history[-6:]))  # answers quote articles
        prompt = prompts.load("condense").render(history=turns, question=question)
        try:
            reply = self.chat_model.invoke([("human", prompt)])
        except Exception as exc:
            raise LLMUnavailable(f"{type(exc).__name__}: {str(exc)[:120]}") from exc
        text = str(reply.content).strip().splitlines()[0] if str(reply.content).strip() else ""
        return text or question
