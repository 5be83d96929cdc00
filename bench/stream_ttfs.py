"""Time to the first checked sentence against time to the first raw token, for LLM answers.

An LLM answer streams by checked sentence (chatbot.citations.CheckedStream): tokens are held until
their sentence ends, the sentence's [n] markers are checked against the passages, then it is sent
or dropped. This measures, in the same generation (SmolLM2-135M-Instruct Q4_1 on llama.cpp's
OpenAI-compatible server, started here unless --llm-url is given, one thread as in the tests):

- first raw token: when the LLM's first token arrives (what the old token stream showed first);
- first sentence written: when the last token of the raw text's first sentence arrives;
- first sentence known: when the token that tells the splitter that sentence has ended arrives
  (the next sentence's first word, or a line break) — no sentence can be checked earlier;
- first checked sentence sent: when the first piece leaves the answerer, and the check's cost,
  that time minus the arrival of the token that released it;
- whether that first sent sentence is the raw first sentence (else the first was dropped and the
  reader waits for a later one, or for the abstention at the end).

    python -m bench.stream_ttfs [--repeat 3] [--max-tokens 256] [--k 3] [--llm-url URL]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.injection import llama_server, nullcontext

REPO = Path(__file__).resolve().parents[1]
PIER = """Port Ellery pier to reopen in May

By Ana Brook

The old wooden pier in Port Ellery will reopen to walkers in May after two years of repairs.
The mayor said the pier was also painted gold.

The repairs cost four million euros and were paid by the regional council.
"""
QUESTIONS = [
    "What did Macron say about troops?",
    "How many votes did the resolution win?",
    "Summarise the story about the Port Ellery pier.",
    "Tell me everything about Macron and the troops.",
    "When will the Port Ellery pier reopen?",
]


class TimedModel:
    """The real chat model, noting when each token arrives (perf_counter seconds)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.arrivals: list[tuple[float, str]] = []
        self.ended = 0.0

    def stream(self, messages: Any) -> Any:
        self.arrivals = []
        for chunk in self.model.stream(messages):
            piece = chunk.content if isinstance(chunk.content, str) else ""
            if piece:
                self.arrivals.append((time.perf_counter(), piece))
            yield chunk
        self.ended = time.perf_counter()


@dataclass
class Run:
    question: str
    first_token: float  # seconds from the request
    sentence_written: float | None  # the raw first sentence's last token
    sentence_known: float | None  # the token after which the splitter ends that sentence (or the stream's end)
    first_sent: float  # the first checked piece leaves the answerer
    check_ms: float  # the check of one sentence, timed apart on this run's raw text
    first_is_raw_first: bool
    abstained: bool
    total: float
    sentences_raw: int
    sentences_sent: int


def one_run(answerer_cls: Any, timed: TimedModel, question: str, passages: list[Any]) -> Run:
    from text.sentences import sentence_spans

    start = time.perf_counter()
    events = answerer_cls(timed).stream(question, question, passages)
    sent: list[tuple[float, str]] = []
    while True:
        try:
            piece = next(events)
        except StopIteration as done:
            answer = done.value
            break
        sent.append((time.perf_counter(), piece))
    total = time.perf_counter() - start
    raw = "".join(p for _, p in timed.arrivals)
    spans = sentence_spans(raw)
    ends, at = [], 0
    for when, piece in timed.arrivals:  # character offset where each token ends
        at += len(piece)
        ends.append((at, when))
    written = known = None
    if spans:
        first_end = spans[0][1]
        written = next((when for end, when in ends if end >= first_end), None)
        known = timed.ended  # the last sentence ends with the stream
        if len(spans) > 1 or "\n" in raw[first_end:]:
            boundary = spans[1][0] if len(spans) > 1 else raw.index("\n", first_end)
            known = next((when for end, when in ends if end > boundary), timed.ended)
    first_time, first_piece = sent[0]
    first_raw = words(raw[spans[0][0]:spans[0][1]]) if spans else ""
    return Run(question, timed.arrivals[0][0] - start if timed.arrivals else total,
               written - start if written else None, known - start if known else None,
               first_time - start, check_ms(question, raw, passages, len(spans)),
               not answer.abstained and bool(first_raw) and words(first_piece) == first_raw,
               answer.abstained, total, len(spans),
               0 if answer.abstained else len(re.findall(r"(?:\[\d+\])+(?=\s|$)", answer.answer)))


def check_ms(question: str, raw: str, passages: list[Any], sentences: int, times: int = 20) -> float:
    """Milliseconds to check one sentence: the whole raw text checked `times` times, per sentence."""
    from chatbot.citations import check_citations

    start = time.perf_counter()
    for _ in range(times):
        check_citations(question, raw, passages)
    return (time.perf_counter() - start) * 1000 / times / max(1, sentences)


def words(text: str) -> str:
    """The sentence's words, without its markers: what the check keeps of a sentence it passes."""
    return " ".join(re.sub(r"\[\d+(?:\s*,\s*\d+)*\]", " ", text).split())


def run(repeat: int, max_tokens: int, k: int, llm_url: str | None) -> str:
    from chatbot.llm import LLMAnswerer
    from chatbot.service import NewsBot
    from ingest.pipeline import Ingestor
    from newsbot.settings import load_settings

    work = Path(tempfile.mkdtemp(prefix="newsbot-ttfs-"))
    try:
        (work / "articles").mkdir()
        shutil.copytree(REPO / "seeds", work / "articles" / "seeds")
        (work / "articles" / "pier.txt").write_text(PIER, encoding="utf-8")
        with nullcontext(llm_url) if llm_url else llama_server(work / "llama.log") as url:
            settings = load_settings(data_dir=work / "data", llm_base_url=url, llm_max_tokens=max_tokens)
            bot = NewsBot(settings)
            Ingestor(settings, bot.store, bot.embedder).run([str(work / "articles")])
            bot.retriever.invalidate()
            passages = {q: bot.retrieve(q, k).passages for q in QUESTIONS}
            timed = TimedModel(LLMAnswerer.from_settings(settings, "local").chat_model)
            one_run(LLMAnswerer, timed, "warm up", passages[QUESTIONS[-1]])  # loads the model's pages
            runs = [one_run(LLMAnswerer, timed, q, passages[q]) for _ in range(repeat) for q in QUESTIONS]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report(runs, repeat, max_tokens, k)


def ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.0f}"


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def report(runs: list[Run], repeat: int, max_tokens: int, k: int) -> str:
    lines = [
        "## Streaming LLM answers: first checked sentence vs first raw token\n",
        f"SmolLM2-135M-Instruct Q4_1 on llama.cpp (1 thread), k={k}, max_tokens={max_tokens}, temperature 0; "
        f"{len(QUESTIONS)} questions × {repeat}; medians, in ms from the request (store: the seed article and a "
        "short local one). *Known ended*: the token after which the sentence splitter can end the raw first "
        "sentence (the next sentence's first word, a line break, or the end of the stream) arrived.\n",
        "| question | first raw token | raw 1st sentence written | … known ended | first checked sentence sent "
        "| sent = raw 1st | sentences raw → sent | whole answer |",
        "|---|---:|---:|---:|---:|---|---|---:|",
    ]
    for q in QUESTIONS:
        mine = [r for r in runs if r.question == q]
        same = sum(r.first_is_raw_first for r in mine)
        kept = f"{statistics.median(r.sentences_raw for r in mine):g} → " + (
            "abstained" if all(r.abstained for r in mine) else f"{statistics.median(r.sentences_sent for r in mine):g}")
        lines.append(f"| {q} | {ms(median([r.first_token for r in mine]))} | {ms(median([r.sentence_written for r in mine]))} "
                     f"| {ms(median([r.sentence_known for r in mine]))} | {ms(median([r.first_sent for r in mine]))} "
                     f"| {same}/{len(mine)} | {kept} | {ms(median([r.total for r in mine]))} |")
    kept_first = [r for r in runs if r.first_is_raw_first and r.sentence_known is not None]
    lag = sorted((r.first_sent - r.sentence_known) * 1000 for r in kept_first)
    gap = sorted((r.first_sent - r.first_token) * 1000 for r in kept_first)
    lines += [
        "",
        f"Runs whose raw first sentence passed the check: {len(kept_first)}/{len(runs)}. In those it was sent "
        f"{statistics.median(lag):.1f} ms (median; max {lag[-1]:.1f} ms) after the token that ends it arrived, "
        f"and {statistics.median(gap):.0f} ms (median) after the first raw token. One sentence's check takes "
        f"{statistics.median(r.check_ms for r in runs):.2f} ms (median; max {max(r.check_ms for r in runs):.2f} ms)."
        if kept_first else "No run's raw first sentence passed the check.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--llm-url", default=None, help="an OpenAI-compatible /v1 URL serving SmolLM2 (default: start one)")
    args = parser.parse_args()
    print(run(args.repeat, args.max_tokens, args.k, args.llm_url), end="")


if __name__ == "__main__":
    main()
