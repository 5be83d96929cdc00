"""How answers read: the short answer first, calm capitals, the speaker named — and the citations
still verbatim."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatbot.presentation import calm_capitals, name_the_speaker, short_answer
from chatbot.question import analyse
from tests.conftest import ok, run_cli
from vectorstore.records import Passage

VOTE = ("A European-backed text marking the conflict’s third anniversary won 93 votes for and 18 votes against, "
        "with 65 abstentions.")  # the seed article's
MACRON = ("“A lot of my European colleagues are ready to be engaged, but we do need this American backup, because "
          "this is part of the credibility of the security guarantees,” he said.")


def test_shouting_capitals_are_calmed_but_acronyms_kept() -> None:
    assert calm_capitals("FRENCH PRESIDENT EMMANUEL Macron has supported NATO.") == \
        "French President Emmanuel Macron has supported NATO."
    assert calm_capitals("NATO leaders met in Brussels.") == "NATO leaders met in Brussels."


def test_he_said_names_the_speaker_the_quote_index_found() -> None:
    passage = Passage("c:0", "a", MACRON, quotes=[{"speaker": "Emmanuel Macron", "text": "…", "sentence": MACRON}])
    assert name_the_speaker(MACRON, passage).endswith("guarantees,” [Emmanuel Macron] said.")
    assert name_the_speaker(MACRON, Passage("c:0", "a", MACRON)) == MACRON  # nobody known: unchanged


@pytest.mark.parametrize(("question", "sentence", "lead"), [
    ("Who is the Russian ambassador to the UN?",
     "Russian ambassador to the UN Vassily Nebenzia had called the US text “a step in the right direction” amid a "
     "sudden thaw between Russia and the US under Trump.", "Vassily Nebenzia"),
    ("Who is the French president?",
     "French President Emmanuel Macron has supported Donald Trump’s outreach to Russia over Ukraine.", "Emmanuel Macron"),
    ("How many people attended the festival?", "Organisers said 12,000 people attended the harbour festival.", "12,000"),
    ("When did the airspace close?", "The airspace over the city closed on February 11, officials said.", "February 11"),
    ("How many countries abstained?", "The text won 93 votes for and 18 votes against, with 65 abstentions.", "65"),
    # two numbers as near the question's words: the sentence does not single one out
    ("How many votes did the text get?", "The text won 93 votes for and 18 votes against.", None),
    # the number bound to the question's words in the sentence's structure: "in favour" ~ "93 votes for"
    ("How many countries voted in favour of the European-backed UN resolution?", VOTE, "93"),
    ("How many countries voted against the European-backed UN resolution?", VOTE, "18"),
    ("How many people were killed?", "The blast killed 12 people and injured 30 others.", "12"),
    ("When did the airspace close?", "The airspace closed on February 11 and reopened on March 3.", "February 11"),
    ("Who won the Democratic primary for US Senate in Texas?",
     "State Rep. James Talarico won the Democratic primary for US Senate in Texas on Tuesday, defeating Colin Allred.",
     "James Talarico"),
    # a year is not the count asked for
    ("How many felony counts did Trump plead not guilty to?",
     "Donald Trump pleaded not guilty to 34 felony counts Tuesday, a dramatic backdrop for the 2024 presidential race.",
     "34"),
    ("Which countries voted against?", "Belarus, North Korea and Sudan voted against.", None),  # a list, not one thing
    ("What did Macron say about troops?", MACRON, None),
    # a month is not the country asked for (a new user's RealTimeQA question got "Feb")
    ("Which country did the US and Israel launch military strikes against this week?",
     "Congress will vote on military operations in Iran after the United States and Israel launched strikes "
     "against the country on Feb. 28.", None),
])
def test_short_answer(question: str, sentence: str, lead: str | None) -> None:
    assert short_answer(analyse(question), sentence) == lead


@pytest.mark.slow
def test_the_answer_leads_with_the_name_and_cites_the_sentence_verbatim(seeded_copy: Path) -> None:
    data = json.loads(ok(run_cli("ask", "Who is the Russian ambassador to the UN?", "--json",
                                 data_dir=seeded_copy)).stdout)
    first, rest = data["answer"].split("\n\n", 1)
    assert first == "Vassily Nebenzia [1]"
    assert rest.startswith("According to AFP")
    assert "Vassily Nebenzia" in data["citations"][0]["quote"]
    troops = ok(run_cli("ask", "What did Macron say about troops?", data_dir=seeded_copy)).stdout
    assert "[Emmanuel Macron] said." in troops.split("\nSources:")[0]
    voted = ok(run_cli("ask", "How many countries voted in favour of the European-backed UN resolution?",
                       data_dir=seeded_copy)).stdout
    assert voted.startswith("93 [1]\n\n"), voted  # of "93 votes for and 18 votes against, with 65 abstentions"
    lede = ok(run_cli("ask", "Who supported Donald Trump's outreach to Russia over Ukraine?", data_dir=seeded_copy)).stdout
    assert "French President Emmanuel Macron has supported" in lede.split("\nSources:")[0]
    assert "FRENCH PRESIDENT EMMANUEL" not in lede.split("\nSources:")[0]
    assert "FRENCH PRESIDENT EMMANUEL" in lede.split("\nSources:")[1]  # the citation stays verbatim
