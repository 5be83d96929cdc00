""""What did X say about Y" through the real `newsbot` command: a person found by full name, surname,
title, role or a variant of it, or by a pronoun in a follow-up; quoted on the topic asked, or an honest
abstention ("none about …", "mention … but quote nothing", "no article quotes …"). The store holds the
seed and two hand-written local stories (tests/data/people/harbour.jsonl), one person quoted in both."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import REPO, SEEDS, ask_batch, ok, run_cli, write_jsonl

HARBOUR = REPO / "tests" / "data" / "people" / "harbour.jsonl"
TROOPS = [{"role": "user", "content": "What did the French president say about a deal?"},
          {"role": "assistant", "content": "“We want a quick deal but not a fragile one,” Macron said."}]
LOPEZ = [{"role": "user", "content": "What did the mayor say about the sea wall?"},
         {"role": "assistant", "content": "“We will rebuild the sea wall by the autumn, whatever it costs,” Lopez said."}]

# (question, history, what the answer must hold: ("quote", words of the cited sentence) or ("says", message words))
CASES: list[tuple[str, list[dict[str, str]] | None, tuple[str, str]]] = [
    ("What did Emmanuel Macron say about a quick deal?", None, ("quote", "quick deal but not a fragile one")),
    ("What did Macron say about boots on the ground?", None, ("quote", "boots on the ground")),
    ("What did President Macron say about deterrence?", None, ("quote", "deterrence capacities")),
    ("What did the French president say about a deal?", None, ("quote", "quick deal")),
    ("What did the French President say about the 2014 peace?", None, ("quote", "In 2014, our predecessors")),
    ("What did Macron say about American backup?", None, ("quote", "American backup")),
    ("What did Macron say about US support for European troops?", None, ("quote", "American backup")),
    ("What did Vassily Nebenzia say about the US text?", None, ("quote", "a step in the right direction")),
    ("What did Nebenzia say about the American resolution?", None, ("quote", "a step in the right direction")),
    ("What did the Russian ambassador say about the US text?", None, ("quote", "a step in the right direction")),
    ("What did Russia's envoy say about the American resolution?", None, ("quote", "a step in the right direction")),
    ("What did the UN ambassador say about the resolution?", None, ("quote", "a step in the right direction")),
    ("What did Russia's UN envoy say?", None, ("quote", "a step in the right direction")),
    ("What did Donald Trump say about how long the war could last?", None, ("quote", "within weeks")),
    ("What did Trump say about economic deals with Putin?", None, ("quote", "economic deals")),
    ("What did the president say about a quick deal?", None, ("says", "Several people fit")),
    ("What did Ana Lopez say about the sea wall?", None, ("quote", "rebuild the sea wall")),
    ("What did Lopez say about the ferries?", None, ("quote", "ferries will run every hour")),
    ("What did the mayor say about the ferry timetable?", None, ("quote", "ferries will run every hour")),
    ("What did Mayor Lopez say about the cost of the sea wall?", None, ("quote", "whatever it costs")),
    ("What did the finance chief say about the ferry subsidy?", None, ("quote", "ferry subsidy")),
    ("What did Tom Hart say about the town budget?", None, ("quote", "ferry subsidy")),  # the topic is in the sentence before
    ("What else did he say?", TROOPS, ("quote", "Macron")),
    ("What else did she say?", LOPEZ, ("quote", "ferries will run every hour")),
    ("What did he say about boots on the ground?", TROOPS, ("quote", "boots on the ground")),
    ("What did Macron say about China's trade policy?", None,
     ("says", "I found quotes from Emmanuel Macron, but none about China's trade policy")),
    ("What did Nebenzia say about climate change?", None,
     ("says", "I found quotes from Vassily Nebenzia, but none about climate change")),
    ("What did the mayor say about the football team?", None,
     ("says", "I found quotes from Ana Lopez, but none about the football team")),
    ("What did Putin say about Macron's visit to Washington?", None,
     ("says", "The articles mention Putin but quote nothing Putin said")),
    ("What did Zelensky say about the UN vote?", None, ("says", "The articles mention Zelensky but quote nothing Zelensky said")),
    ("What did Angela Merkel say about the vote?", None, ("says", "No article I have quotes Angela Merkel")),
    ("What did the Chinese president say about the war?", None,
     ("says", "No article I have quotes anyone described as the Chinese president")),
    ("What did the police chief say about the storm?", None,
     ("says", "No article I have quotes anyone described as the police chief")),
]


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    base = tmp_path_factory.mktemp("speakers")
    data_dir = base / "data"
    ok(run_cli("ingest", SEEDS, HARBOUR, "--json", data_dir=data_dir))
    return ask_batch(base, data_dir, CASES)


def test_at_least_thirty_speaker_questions() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(("n", "case"), list(enumerate(CASES)), ids=[q for q, _, _ in CASES])
def test_speaker_question(answers: list[dict[str, Any]], n: int, case: tuple[str, Any, tuple[str, str]]) -> None:
    question, _, (kind, words) = case
    answer = answers[n]
    assert answer["question"] == question
    if kind == "quote":
        assert not answer["abstained"], answer["answer"]
        assert any(words in c["quote"] for c in answer["citations"]), (answer["answer"], answer["citations"])
        assert all(c["speaker"] for c in answer["citations"]), "a quoted sentence's card names no speaker"
    else:
        assert words in answer["answer"], answer["answer"]
        assert answer["abstained"] == (not words.startswith("Several")), answer["answer"]


def test_an_answer_found_by_role_says_who(answers: list[dict[str, Any]]) -> None:
    by_role = answers[[q for q, _, _ in CASES].index("What did Russia's envoy say about the American resolution?")]
    assert by_role["answer"].startswith("Vassily Nebenzia, Russian ambassador to the UN:"), by_role["answer"]


def test_what_else_gives_other_quotes(answers: list[dict[str, Any]]) -> None:
    more = answers[[q for q, _, _ in CASES].index("What else did he say?")]
    assert more["rewritten_question"] == "What else did the French president say?"
    assert not any("quick deal" in c["quote"] for c in more["citations"]), more["answer"]


def test_quotes_command_lists_a_persons_quotes_newest_first(tmp_path) -> None:
    data_dir = tmp_path / "data"
    ok(run_cli("ingest", SEEDS, HARBOUR, data_dir=data_dir))
    found = json.loads(ok(run_cli("quotes", "the mayor", "--json", data_dir=data_dir)).stdout)
    assert found["person"] == "Ana Lopez"
    assert [q["published"] for q in found["quotes"]] == ["2025-04-10", "2025-03-02"]
    assert all(q["title"] and q["source"] == "Coast Courier" for q in found["quotes"])
    readable = ok(run_cli("quotes", "Macron", "--about", "troops", data_dir=data_dir)).stdout
    assert readable.startswith("Emmanuel Macron (French President):") and "American backup" in readable
    nobody = ok(run_cli("quotes", "Putin", data_dir=data_dir)).stdout
    assert nobody.strip() == "The articles mention Putin but quote nothing Putin said."


def test_the_quote_asked_about_is_found_among_many_by_the_same_person(tmp_path) -> None:
    """A mayor quoted in seventy council notes, the newest one on the ferries: that is the one answered,
    not "none about the ferries" because the other notes were read first."""
    places = ["the library roof", "the bus depot", "the school canteen", "the park benches", "the market square",
              "the cycle lanes", "the town hall clock", "the swimming pool", "the recycling centre", "the street lamps"]
    notes = [{"title": f"Council notes {n}: {place}", "source": "Coast Courier", "published": f"2025-01-{1 + n % 28:02d}",
              "body": f"Mayor Ana Lopez spoke at council meeting number {n} on Monday.\n\n"
                      f"“We will look again at {place} before the summer, item {n},” Lopez said."}
             for n, place in enumerate(places * 7)]
    notes.append({"title": "Ferries to run every hour", "source": "Coast Courier", "published": "2025-04-10",
                  "body": "Mayor Ana Lopez spoke about transport on Monday.\n\n"
                          "“The ferries will run every hour from May,” Lopez said."})
    data_dir = tmp_path / "data"
    ok(run_cli("ingest", write_jsonl(tmp_path / "notes.jsonl", notes), data_dir=data_dir))
    answer = json.loads(ok(run_cli("ask", "What did Ana Lopez say about the ferries?", "--json",
                                   data_dir=data_dir)).stdout)
    assert not answer["abstained"], answer["answer"]
    assert any("ferries will run every hour" in c["quote"] for c in answer["citations"]), answer["answer"]
