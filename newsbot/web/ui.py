"""The chat page (Gradio Blocks): streamed answers whose [n] markers lead to their source cards
(each answer keeps its own, grouped by article), filters, thumbs up/down, example questions from
the stored articles, and an Ingest tab."""

from __future__ import annotations

import logging
import re
from collections.abc import Generator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import gradio as gr

from chatbot.answer import Answer
from chatbot.retrieval import Filters
from chatbot.service import NewsBot
from newsbot.web.cards import NO_SOURCES, sources_panel
from newsbot.web.feedback import FeedbackLog
from newsbot.web.ingest_tab import UPLOAD_SUFFIXES, IngestRejected, WebIngest

log = logging.getLogger(__name__)

# What HTML reads as markup in text: a tag's "<", and a "&" that starts a character reference.
_MARKUP = re.compile(r"<|&(?=[#0-9A-Za-z])")
_EXAMPLES = 4
_HISTORY_TURNS = 3


class ChatPage:
    """The page's event handlers; the bot does the work, this turns it into component values."""

    def __init__(self, bot: NewsBot, settings: Any, ingest: WebIngest, feedback_log: FeedbackLog) -> None:
        self.bot = bot
        self.settings = settings
        self.ingest = ingest
        self.feedback_log = feedback_log

    def refresh(self) -> tuple[Any, Any]:
        """Example questions from the newest headlines, and the outlets to filter by: from the
        retriever's in-memory index, so a page load does not scan the store."""
        index = self.bot.retriever.index
        newest = index.newest_articles(_EXAMPLES)
        outlets = index.outlets()
        samples = [[f"What is the story behind “{m['title']}”?"] for m in newest if m.get("title")]
        return gr.Dataset(samples=samples), gr.Dropdown(choices=[("Any outlet", ""), *((s, s) for s in outlets)])

    def respond(self, question: str, messages: list[dict[str, Any]], answers: list[dict[str, Any]],
                source: str, date_from: str, date_to: str, use_llm: bool) -> Iterator[tuple[Any, ...]]:
        question = (question or "").strip()
        try:
            filters = self._checked(question, source, date_from, date_to)
        except BadInput as exc:
            # A warning, not gr.Error: an error ends the event in an error state, which Gradio shows as
            # an "Error" label over every output (the chat, the question box, the sources) until the
            # next event. Nothing changes here: the conversation stays and the question stays typed.
            gr.Warning(str(exc))
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        messages = [*messages, {"role": "user", "content": as_text(question)}, {"role": "assistant", "content": ""}]
        yield messages, gr.skip(), answers, ""  # earlier answers keep their sources meanwhile
        llm = self.settings.llm_model if use_llm and self.settings.llm_base_url else None
        final = yield from self._stream(question, messages, answers, filters, llm)
        if final is not None:
            turn = sum(1 for m in messages if m.get("role") == "assistant")  # this reply's place among the replies
            answers = [*answers, {"index": len(messages) - 1, "turn": turn, **final.as_dict()}]
            yield messages, sources_panel(answers), answers, gr.skip()

    def _checked(self, question: str, source: str, date_from: str, date_to: str) -> Filters:
        """The filters to answer with; BadInput, in one line naming what to fix, when the question
        or a filter cannot be used."""
        if not question:
            raise BadInput("Type a question first.")
        if len(question) > self.settings.max_question_chars:
            raise BadInput(f"Questions are limited to {self.settings.max_question_chars} characters.")
        return Filters(source or None, iso_date(date_from, "From"), iso_date(date_to, "Until"))

    def _stream(self, question: str, messages: list[dict[str, Any]], answers: list[dict[str, Any]],
                filters: Filters, llm: str | None) -> Generator[tuple[Any, ...], None, Answer | None]:
        """Fill the last message as pieces arrive (an LLM's come a checked sentence at a time, so the
        text only grows); returns the finished Answer (None on failure)."""
        text = ""
        try:
            for event in self.bot.stream(question, history(answers), filters, llm=llm):
                if isinstance(event, Answer):
                    messages[-1] = {"role": "assistant", "content": as_text(shown(event))}
                    return event
                text += event
                messages[-1] = {"role": "assistant", "content": as_text(text)}
                yield messages, gr.skip(), answers, gr.skip()
        except Exception:
            log.exception("answering %r failed", question)
            messages[-1] = {"role": "assistant", "content": "Sorry, answering failed; please try again."}
            yield messages, gr.skip(), answers, gr.skip()
        return None

    def like(self, answers: list[dict[str, Any]], data: gr.LikeData) -> None:
        if not isinstance(data.liked, bool):
            return
        answer = next((a for a in answers if a["index"] == data.index), None)
        if answer is None:
            return
        self.feedback_log.append("up" if data.liked else "down", answer["question"], answer["answer"],
                                 answer["citations"], via="chat")
        gr.Info("Thanks for the feedback.")

    def add(self, url: str, upload: str | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        try:
            sources = [self.ingest.check_url(url)] if url and url.strip() else []
            if upload:
                sources.append(self.ingest.check_upload(Path(upload)))
            if not sources:
                raise IngestRejected("Give a URL or choose a file.")
        except IngestRejected as exc:
            # Not gr.Error, which would put "Error" over the summary, the examples and the outlet filter:
            # a toast, and the refusal in the summary box, where /gradio_api/call/add callers get it too.
            gr.Warning(str(exc))
            return f"refused: {exc}", gr.skip(), gr.skip()
        progress(0, desc="Reading and embedding…")
        summary = self.ingest.run(sources, on_item=lambda origin: progress(0.5, desc=f"Read {Path(origin).name}"))
        lines = [summary.line(), *(f"failed: {f}" for f in summary.failures)]
        return "\n".join(lines), *self.refresh()


def as_text(text: str) -> str:
    """Text for the Chatbot, which renders a message as (sanitised) HTML: escape only what HTML would
    read as markup, so the message shows as typed and its copy button and aria-label keep quotes and
    apostrophes ("Trump's", not "Trump&#x27;s")."""
    return _MARKUP.sub(lambda m: "&lt;" if m.group() == "<" else "&amp;", text)


class BadInput(ValueError):
    """A question or filter the page cannot answer with; the message says what to fix."""


def iso_date(text: str | None, field: str) -> str | None:
    """The date typed in the Filters' `field` box (blank: no limit); BadInput naming both otherwise."""
    typed = (text or "").strip()
    if not typed:
        return None
    try:
        return date.fromisoformat(typed).isoformat()
    except ValueError:
        typed = typed if len(typed) <= 40 else typed[:40] + "…"
        raise BadInput(f"Filters › {field}: {typed!r} is not a date; use YYYY-MM-DD, "
                       f"like {date.today().isoformat()}.") from None


def shown(answer: Answer) -> str:
    """The answer as the chat shows it: a notice first when there is one."""
    return f"({answer.notice})\n\n{answer.answer}" if answer.notice else answer.answer


def history(answers: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The last exchanges, as plain text, for follow-up questions."""
    turns = []
    for a in answers[-_HISTORY_TURNS:]:
        turns += [{"role": "user", "content": a["question"]}, {"role": "assistant", "content": a["answer"]}]
    return turns


def build_ui(bot: NewsBot, settings: Any, ingest: WebIngest, feedback_log: FeedbackLog) -> gr.Blocks:
    page = ChatPage(bot, settings, ingest, feedback_log)
    with gr.Blocks(title="newsbot", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown("## newsbot\nAnswers about the news from the articles it has read, with the passages it used.")
        with gr.Tab("Chat"):
            examples, source = _chat_tab(page, settings)
        with gr.Tab("Ingest"):
            _ingest_tab(page, settings, examples, source)
        demo.load(page.refresh, None, [examples, source])
    demo.queue(max_size=settings.queue_size, default_concurrency_limit=2)
    return demo


def _chat_tab(page: ChatPage, settings: Any) -> tuple[gr.Dataset, gr.Dropdown]:
    answers = gr.State([])
    with gr.Row():
        with gr.Column(scale=3):
            chat = gr.Chatbot(label="Answers", elem_id="nb-chat", height=440, render_markdown=False,
                              buttons=["copy"], placeholder="Ask about the news the bot has read.")
            with gr.Row():
                question = gr.Textbox(show_label=False, placeholder="Ask about the news…", elem_id="nb-question",
                                      max_length=settings.max_question_chars, scale=5, autofocus=True)
                ask = gr.Button("Ask", variant="primary", scale=1, elem_id="nb-ask")
            examples = gr.Dataset(label="Try", components=[question], samples=[], elem_id="nb-examples")
        with gr.Column(scale=2):
            with gr.Accordion("Filters", open=False):  # above the sources, which grow with every answer
                source = gr.Dropdown(choices=[("Any outlet", "")], value="", label="Outlet", elem_id="nb-outlet")
                date_from = gr.Textbox(label="From", placeholder="YYYY-MM-DD", elem_id="nb-from")
                date_to = gr.Textbox(label="Until", placeholder="YYYY-MM-DD", elem_id="nb-until")
                use_llm = gr.Checkbox(label=f"Write answers with the language model ({settings.llm_model})",
                                      visible=bool(settings.llm_base_url))
            gr.Markdown("### Sources")
            cards = gr.HTML(NO_SOURCES, elem_id="nb-sources", js_on_load=None)
    inputs = [question, chat, answers, source, date_from, date_to, use_llm]
    outputs = [chat, cards, answers, question]
    question.submit(page.respond, inputs, outputs)
    ask.click(page.respond, inputs, outputs)
    examples.click(lambda sample: sample[0], examples, question).then(page.respond, inputs, outputs)
    chat.like(page.like, [answers], None)
    chat.clear(lambda: ([], NO_SOURCES), None, [answers, cards])  # or feedback and follow-ups would refer to cleared answers
    return examples, source


def _ingest_tab(page: ChatPage, settings: Any, examples: gr.Dataset, source: gr.Dropdown) -> None:
    limit_mb = settings.max_upload_bytes / 1024 / 1024
    gr.Markdown(f"Add an article by URL, or upload a file ({', '.join(UPLOAD_SUFFIXES)}; up to {limit_mb:g} MB).")
    url = gr.Textbox(label="Article or feed URL", placeholder="https://…", elem_id="nb-url")
    upload = gr.File(label="File", file_types=UPLOAD_SUFFIXES, type="filepath", elem_id="nb-upload")
    add = gr.Button("Add to the library", variant="primary", elem_id="nb-add")
    summary = gr.Textbox(label="Summary", interactive=False, elem_id="nb-summary", lines=2)
    add.click(page.add, [url, upload], [summary, examples, source], concurrency_limit=1)
