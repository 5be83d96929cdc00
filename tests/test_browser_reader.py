"""What a reader sees on the chat page, in a real Chromium against a real `newsbot serve`: each
[n] of an answer reaches its quote in the sources panel, earlier answers keep their sources after
the next question, an article quoted several times is one card listing its quotes, and an LLM
answer (SmolLM2 on llama.cpp) streams only sentences that passed the citation check — never one
that is then removed, at any moment, on the page, in /api/ask/stream or in /v1's stream.

The LLM's raw reply is kept by a recording proxy between newsbot and llama.cpp (tests/llm_server.py):
the real model's text, relayed unchanged, so the test knows which sentences the check dropped."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from chatbot.answer import ABSTAIN_TEXT
from tests import llm_server, test_browser
from tests.conftest import SEED_TITLE, SEEDS, ok, run_cli
from tests.server_helpers import SEED_QUESTION, RunningServer, newsbot_server

pytestmark = pytest.mark.slow

browser = test_browser.browser
page = test_browser.page
screenshot = test_browser.screenshot
llm_url = llm_server.llm_url

FOLLOW_UP = "Who is Vassily Nebenzia?"
# A local story the LLM is asked to summarise: SmolLM2 then writes a numbered list mixing the
# article's facts with claims no passage supports, which the check drops.
PIER = """Port Ellery pier to reopen in May

By Ana Brook

The old wooden pier in Port Ellery will reopen to walkers in May after two years of repairs.
The mayor said the pier was also painted gold.

The repairs cost four million euros and were paid by the regional council.
"""
LLM_QUESTION = "Summarise the story about the Port Ellery pier."


@dataclass
class ReaderServer:
    server: RunningServer
    proxy: llm_server.RecordingProxy


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory, llm_url: str) -> Iterator[ReaderServer]:
    """The seed article and the pier story, ingested by the CLI; the LLM behind the recording proxy."""
    folder = tmp_path_factory.mktemp("reader")
    (folder / "pier.txt").write_text(PIER, encoding="utf-8")
    data_dir = folder / "data"
    ok(run_cli("ingest", SEEDS, folder / "pier.txt", "-q", data_dir=data_dir))
    with llm_server.RecordingProxy(llm_url) as proxy:
        env = {"NEWSBOT_LLM_BASE_URL": proxy.url, "NEWSBOT_TOP_K": "3"}  # 3 passages, as test_llm gives SmolLM2
        with newsbot_server(data_dir, env) as running:
            yield ReaderServer(running, proxy)


def api_answer(server: RunningServer, question: str) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/api/ask", json={"question": question}, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def ask(page: Any, question: str, sections: int) -> None:
    """Ask on the Chat tab and wait for the answer's own sources (the panel's `sections`-th section)."""
    page.locator("#nb-question textarea").fill(question)
    page.locator("#nb-ask").click()
    page.wait_for_function("(n) => document.querySelectorAll('#nb-sources .nb-answer-sources').length === n",
                           arg=sections)
    page.wait_for_function("(n) => document.querySelectorAll('#nb-chat .nb-linked').length === n", arg=sections)


def bot_messages(page: Any) -> Any:
    return page.locator('#nb-chat [data-testid="bot"]')


def assert_reaches(page: Any, turn: int, answer: dict[str, Any]) -> None:
    """Every [n] of the turn-th answer is a button that brings quote n of that answer into view and marks it."""
    refs = bot_messages(page).nth(turn - 1).locator("button.nb-ref")
    assert refs.all_inner_texts() == re.findall(r"\[\d+\]", answer["answer"])
    quotes = {c["n"]: c["quote"] for c in answer["citations"]}
    for i in range(refs.count()):
        ref = refs.nth(i)
        n = int(ref.inner_text().strip("[]"))
        ref.click()
        target = page.locator(f"#nb-a{turn}-s{n}")
        page.wait_for_function("(id) => document.getElementById(id).classList.contains('nb-hit')", arg=f"nb-a{turn}-s{n}")
        target.wait_for()
        page.wait_for_function("""(id) => { const r = document.getElementById(id).getBoundingClientRect();
                                   return r.top >= 0 && r.bottom <= innerHeight; }""", arg=f"nb-a{turn}-s{n}")
        assert target.locator(".nb-n").inner_text() == f"[{n}]"
        assert target.locator("mark").inner_text() == quotes[n]
        assert page.locator("#nb-sources .nb-hit").count() == 1


def test_each_marker_reaches_its_quote(page: Any, reader: ReaderServer) -> None:
    expected = api_answer(reader.server, SEED_QUESTION)
    assert len(expected["citations"]) >= 2, expected
    page.goto(reader.server.url + "/")
    ask(page, SEED_QUESTION, 1)
    assert_reaches(page, 1, expected)
    # the message itself stays text: its copy and label carry no markup
    assert "<" not in bot_messages(page).first.get_attribute("aria-label")


def test_earlier_answers_keep_their_sources(page: Any, reader: ReaderServer) -> None:
    first, second = api_answer(reader.server, SEED_QUESTION), api_answer(reader.server, FOLLOW_UP)
    page.goto(reader.server.url + "/")
    ask(page, SEED_QUESTION, 1)
    ask(page, FOLLOW_UP, 2)
    sections = page.locator("#nb-sources .nb-answer-sources")
    assert sections.nth(0).locator("h4").inner_text() == f"Sources for “{FOLLOW_UP}”"  # newest first
    assert sections.nth(1).locator("h4").inner_text() == f"Sources for “{SEED_QUESTION}”"
    for section, answer in ((sections.nth(1), first), (sections.nth(0), second)):
        shown = section.locator(".nb-quote mark").all_inner_texts()
        assert shown == [c["quote"] for c in answer["citations"]]
    assert_reaches(page, 1, first)  # the earlier answer's markers still reach its own quotes
    assert_reaches(page, 2, second)
    screenshot(page, "chat-two-answers")


def test_an_article_quoted_several_times_is_one_card(page: Any, reader: ReaderServer) -> None:
    answer = api_answer(reader.server, SEED_QUESTION)
    from_seed = [c for c in answer["citations"] if c["title"] == SEED_TITLE]
    assert len(from_seed) >= 2, "the seed question should quote its article more than once"
    page.goto(reader.server.url + "/")
    ask(page, SEED_QUESTION, 1)
    cards = page.locator("#nb-a1 .nb-card")
    assert cards.count() == len({c["article_id"] for c in answer["citations"]})
    seed_card = cards.filter(has_text=SEED_TITLE)
    assert seed_card.count() == 1 and page.locator("#nb-a1").inner_text().count(SEED_TITLE) == 1
    assert seed_card.locator(".nb-meta").inner_text() == "AFP · 24 Feb 2025"
    assert seed_card.locator(".nb-quote .nb-n").all_inner_texts() == [f"[{c['n']}]" for c in from_seed]
    assert seed_card.locator(".nb-quote mark").all_inner_texts() == [c["quote"] for c in from_seed]


# -- an LLM answer streams only checked sentences ----------------------------------------------

def sentences(text: str) -> list[str]:
    """The claims of a text, each without its markers and list numbers, for comparing raw and shown."""
    from text.sentences import split_sentences

    bare = (" ".join(re.sub(r"\[\d+(?:\s*,\s*\d+)*\]", " ", s).split()) for s in split_sentences(text))
    return [s for s in bare if len(s.split()) >= 3]


def dropped(raw: str, answer: str) -> list[str]:
    """The raw sentences the check removed."""
    shown = sentences(answer)
    return [s for s in sentences(raw) if s not in shown]


def assert_never_shown(states: list[str], final: str, removed: list[str], where: str) -> None:
    """Each recorded state only ever grows into the final answer, and holds none of the removed sentences."""
    assert states, f"{where}: nothing was recorded"
    final = " ".join(final.split())
    for state in (" ".join(s.split()) for s in states):
        assert final.startswith(state), f"{where} showed {state!r}, which the answer {final!r} does not start with"
        for sentence in removed:
            assert sentence not in state, f"{where} showed a sentence the check removed: {sentence!r}"


# Every change of the last reply's visible text, as the reader would see it (the linked copy or Gradio's own).
RECORD_JS = """() => {
  window.__states = [];
  const note = () => {
    const bots = document.querySelectorAll('#nb-chat [data-testid="bot"]');
    if (!bots.length) return;
    const shown = [...bots[bots.length - 1].querySelectorAll('.md')].filter(el => getComputedStyle(el).display !== 'none');
    const text = shown.map(el => el.textContent).join('');
    if (window.__states[window.__states.length - 1] !== text) window.__states.push(text);
  };
  new MutationObserver(note).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


@pytest.mark.llm
@pytest.mark.xfail(reason="known regression since the live index (issue 25) merge: the chat page shows the LLM "
                   "answer in one update instead of streaming it; the checked text itself is right", strict=False)
def test_an_llm_answer_never_shows_a_sentence_the_check_removes(page: Any, reader: ReaderServer) -> None:
    server, proxy = reader.server, reader.proxy

    # /api/ask/stream: every event as it arrives
    proxy.raw.clear()
    with httpx.stream("POST", f"{server.url}/api/ask/stream", json={"question": LLM_QUESTION, "llm": "local"},
                      timeout=180) as stream:
        events = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]
    final = events[-1]
    assert final["mode"] == "llm" and not final["abstained"], final
    deltas = [e["text"] for e in events[:-1]]
    assert "".join(deltas) == final["answer"], "the answer is not what was streamed"
    assert len(proxy.raw) == 1
    removed = dropped(proxy.raw[0], final["answer"])
    assert removed, f"SmolLM2 no longer writes a sentence the check drops; choose another question:\n{proxy.raw[0]}"
    assert_never_shown(["".join(deltas[:i]) for i in range(1, len(deltas) + 1)], final["answer"], removed, "/api/ask/stream")

    # /v1 streaming: the same, then the sources; no "checked answer" replacement
    proxy.raw.clear()
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", timeout=180, json={
            "model": "newsbot-llm", "stream": True, "messages": [{"role": "user", "content": LLM_QUESTION}]}) as stream:
        chunks = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: {")]
    pieces = [c["choices"][0]["delta"].get("content") or "" for c in chunks]
    text = "".join(pieces)
    answer_part = text.split("\n\nSources:")[0]
    v1_removed = dropped(proxy.raw[0], answer_part)
    assert v1_removed and "checked answer" not in text
    assert_never_shown(["".join(pieces[:i]) for i in range(1, len(pieces) + 1) if "Sources:" not in "".join(pieces[:i])],
                       answer_part, v1_removed, "/v1 stream")

    # the chat page: every DOM change of the reply
    proxy.raw.clear()
    page.goto(server.url + "/")
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("Write answers with the language model").check()
    page.evaluate(RECORD_JS)
    page.locator("#nb-question textarea").fill(LLM_QUESTION)
    page.locator("#nb-ask").click()
    page.wait_for_function("() => document.querySelectorAll('#nb-sources .nb-answer-sources').length === 1", timeout=180_000)
    page.wait_for_function("() => document.querySelectorAll('#nb-chat .nb-linked').length === 1")
    shown = " ".join(bot_messages(page).last.locator(".nb-linked").inner_text().split())
    states = page.evaluate("window.__states")
    page_removed = dropped(proxy.raw[0], shown)
    assert page_removed and ABSTAIN_TEXT not in shown
    assert len([s for s in states if s.strip()]) >= 2, f"the reply did not stream: {states}"
    assert_never_shown(states, shown, page_removed, "the chat page")
    screenshot(page, "chat-llm-checked-stream")
