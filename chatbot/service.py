"""NewsBot: the one object the CLI, the web app and the integrations call."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from chatbot.answer import Answer
from chatbot.condense import condense
from chatbot.extractive import extractive_answer
from chatbot.question import analyse
from chatbot.reader import Reader
from chatbot.retrieval import Filters, HybridRetriever, Retrieved, retrieve
from chatbot.speakers import QuotesFound, quotes_of
from models.embeddings import NewsEmbeddings
from vectorstore.store import NewsStore


def _sentences(text: str) -> list[str]:
    """The answer in cited pieces, so a page can show it as it is written; they join to the text."""
    parts = re.split(r"(?<=\]) ", text)
    return [part + (" " if i < len(parts) - 1 else "") for i, part in enumerate(parts)]


class NewsBot:
    def __init__(self, settings: Any, store: NewsStore | None = None, embedder: NewsEmbeddings | None = None) -> None:
        self.settings = settings
        self.store = store or NewsStore.from_settings(settings)
        # questions are embedded as the store's chunks were (int8 or fp32 weights)
        embedder = (embedder or NewsEmbeddings.from_settings(settings)).matching(self.store.embedded_with())
        self.embedder = embedder
        # The same path NewsRetriever runs, built without LangChain's VectorStore: importing that class
        # (runnables, tracers, langsmith) cost ~0.3 s of every cold answer.
        self.retriever: HybridRetriever = HybridRetriever(self.store, embedder, index_dir=self.store.index_dir)
        self.retriever.max_per_article = settings.max_chunks_per_article
        self.reader = Reader.from_settings(settings)

    def warm_up(self) -> None:
        """Load the model and the indexes now rather than on the first question."""
        self.embedder.embed_query("warm up")
        _ = self.retriever.index
        if self.reader is not None:
            self.reader.model.load_now()

    def retrieve(self, question: str, k: int | None = None, filters: Filters | None = None,
                 as_of: str | None = None) -> Retrieved:
        return retrieve(self.retriever, question, k or self.settings.top_k, filters, as_of, self.reader)

    def quotes(self, person: str, about: str | None = None, filters: Filters | None = None) -> QuotesFound:
        """The person's attributed quotes (on `about`, when given), newest first, with their sources."""
        asked = f"What did {person} say" + (f" about {about}?" if about else "?")
        found = self.retriever.search(asked, self.settings.top_k, filters, speaker=person, topic=about)
        retrieved = Retrieved(found.passages, analyse(asked), found.speaker_quotes, found.speaker_known, found.signals,
                              speakers=found.speakers, speaker_passages=found.speaker_passages)
        return quotes_of(person, about, retrieved, self.retriever.index)

    def ask(self, question: str, history: list[dict[str, str]] | None = None, filters: Filters | None = None,
            k: int | None = None, llm: str | None = None, as_of: str | None = None,
            retrieved: Retrieved | None = None) -> Answer:
        return self._finish(self.stream(question, history, filters, k, llm, as_of, retrieved))

    def stream(self, question: str, history: list[dict[str, str]] | None = None, filters: Filters | None = None,
               k: int | None = None, llm: str | None = None, as_of: str | None = None,
               retrieved: Retrieved | None = None) -> Iterator[str | Answer]:
        """Text pieces as they are written, then the finished Answer."""
        answerer, notice = None, None
        if llm:
            from chatbot.llm import LLMAnswerer, LLMUnavailable

            try:
                answerer = LLMAnswerer.from_settings(self.settings, llm)
            except LLMUnavailable as exc:
                notice = f"The language model is unavailable ({exc}); showing the extractive answer."
        standalone = self._condense(question, history, answerer)
        if retrieved is None:
            retrieved = self.retrieve(standalone, k, filters, as_of)
        answer: Answer | None = None
        if answerer is not None:
            try:
                answer = yield from answerer.stream(question, standalone, retrieved.passages)
            except LLMUnavailable as exc:
                notice = f"The language model is unavailable ({exc}); showing the extractive answer."
        if answer is None:
            answer = self._extractive(question, retrieved, history)
            answer.notice = notice
            yield from _sentences(answer.answer)
        if standalone != question:
            answer.rewritten_question = standalone
        yield answer

    def _condense(self, question: str, history: list[dict[str, str]] | None, answerer: Any) -> str:
        if history and answerer is not None:
            from chatbot.llm import LLMUnavailable

            try:
                return answerer.condense(question, history)
            except LLMUnavailable:
                pass
        return condense(question, history)

    def _extractive(self, question: str, retrieved: Retrieved, history: list[dict[str, str]] | None = None) -> Answer:
        said = " ".join(m.get("content", "") for m in history or [] if m.get("role") == "assistant")
        return extractive_answer(question, retrieved.info, retrieved, self.retriever.index,
                                 self.settings.abstain_threshold, self.settings.abstain_unknown_share,
                                 said if retrieved.info.wants_more else "")

    @staticmethod
    def _finish(events: Iterator[str | Answer]) -> Answer:
        final: Answer | None = None
        for event in events:
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final
