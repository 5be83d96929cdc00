"""Retrieval and extractive answers: hybrid retrieval fused by RRF, filters, diversity, speaker
questions, abstention, follow-ups, verbatim citations, and the `ask` / `retrieve` commands.

Two stores: the seed alone, and the seed plus eleven real pages from the shared RealTimeQA data
(Davos, the Oscars, the border, heat waves) from several outlets and years.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chatbot.presentation import shown
from chatbot.retrieval import Filters
from tests.conftest import REPO, SEED_TITLE, SEEDS, OpenStore, copy_store, json_lines, ok, run_parallel, write_jsonl
from vectorstore.hybrid import RRF_K

ATTRIBUTION = f"According to AFP, 24 Feb 2025 (“{SEED_TITLE}”),"

CORPUS = REPO.parent / "shared" / "data" / "realtimeqa" / "20260123" / "corpus.jsonl"
MISSING = f"needs the shared RealTimeQA corpus (../shared/ beside the repo), not found: {CORPUS}"
PAGES = (0, 1, 2, 3, 6, 7, 10, 12, 28, 31, 36)  # Davos ×6, Oscars ×2, border troops, heat ×2
TROOPS = "What did Macron say about troops?"
FOLLOW_UP_HISTORY = [{"role": "user", "content": TROOPS},
                     {"role": "assistant", "content": "He said Europe needs an American backup."}]


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory, embedder) -> Any:
    """Seed + real pages, ingested in this process; CLI runs get copies."""
    from newsbot.settings import load_settings

    if not CORPUS.exists():
        pytest.skip(MISSING)
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    base = tmp_path_factory.mktemp("multi")
    pages = write_jsonl(base / "pages.jsonl", [rows[i] for i in PAGES])
    handle = OpenStore(load_settings(data_dir=base / "data"), embedder)
    summary = handle.ingest(SEEDS, pages)
    assert (summary.added, summary.failed) == (len(PAGES) + 1, 0)
    yield handle
    handle.release()


@pytest.fixture(scope="module")
def multi_bot(multi) -> Any:
    return multi.bot()


def macron_sentences(store) -> set[str]:
    return {q["sentence"] for a in store.articles() for c in store.article_chunks(a.id)
            for q in c.quotes if q["speaker"].endswith("Macron")}


def trump_sentences(store) -> set[str]:
    return {q["sentence"] for a in store.articles() for c in store.article_chunks(a.id)
            for q in c.quotes if q["speaker"].endswith("Trump")}


# -- retrieval ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["Nebenzia", "Sonnenfeld", "Beshear"])
def test_a_rare_name_finds_the_passage_that_holds_it(multi_bot, name: str) -> None:
    top = multi_bot.retrieve(name, 5).passages
    assert name in top[0].text, f"top passage for {name!r}: {top[0].chunk_id} {top[0].text[:100]!r}"


def test_a_paraphrase_with_no_shared_words_is_found_by_meaning(multi_bot) -> None:
    top = multi_bot.retrieve("Which nations opposed the motion in New York?", 3).passages
    assert any("votes against" in p.text or "vote against" in p.text for p in top), [p.chunk_id for p in top]


def test_scores_are_reciprocal_rank_fusion_of_dense_and_lexical(multi_bot) -> None:
    question = "Davos forum leaders Greenland"
    index = multi_bot.retriever.index
    dense = [p.chunk_id for p in multi_bot.store.dense_search(multi_bot.embedder.embed_query(question), 60)]
    scores = index.lexical_scores(question)
    lexical = [index.ids[i] for i in np.argsort(-scores)[:60] if scores[i] > 0]
    assert dense and lexical
    for p in multi_bot.retrieve(question, 10).passages:
        expected = sum(1.0 / (RRF_K + ranks.index(p.chunk_id) + 1) for ranks in (dense, lexical) if p.chunk_id in ranks)
        assert p.score == pytest.approx(expected, rel=1e-6), p.chunk_id
    found = multi_bot.retrieve(question, 10).passages
    assert [p.score for p in found] == sorted((p.score for p in found), reverse=True)


def test_diversity_top_k_spans_several_articles(multi, multi_bot) -> None:
    cap = multi.settings.max_chunks_per_article
    top = multi_bot.retrieve("What happens at the World Economic Forum in Davos?", 8).passages
    per_article: dict[str, int] = {}
    for p in top:
        per_article[p.article_id] = per_article.get(p.article_id, 0) + 1
    assert len(top) == 8
    assert len(per_article) >= 3, per_article
    assert max(per_article.values()) <= cap


def test_with_one_article_the_top_k_is_filled_from_it(seeded_bot, seed_chunks) -> None:
    top = seeded_bot.retrieve("Ukraine", 6).passages
    assert len(top) == min(6, len(seed_chunks))
    assert len({p.chunk_id for p in top}) == len(top)


@pytest.mark.parametrize(("filters", "check"), [
    (Filters(source="cnn.com"), lambda p, meta: "cnn.com" in meta.get("sources", [])),
    (Filters(source="AFP"), lambda p, meta: p.source == "AFP"),
    (Filters(date_from="2025-01-01", date_to="2025-12-31"), lambda p, meta: "2025-01-01" <= p.published <= "2025-12-31"),
    (Filters(date_from="2026-01-01"), lambda p, meta: p.published >= "2026-01-01"),
    (Filters(date_to="2014-12-31"), lambda p, meta: p.published <= "2014-12-31"),
], ids=["source-cnn", "source-afp", "year-2025", "since-2026", "until-2014"])
def test_filters_keep_only_matching_passages(multi, multi_bot, filters: Filters, check) -> None:
    metas = {cid: meta for cid, (_, meta) in multi.chunks().items()}
    found = multi_bot.retrieve("Trump Davos troops Ukraine heat", 10, filters).passages
    assert found, "a filter that matches stored articles returned nothing"
    for p in found:
        assert p.published is not None or filters.date_from is None
        assert check(p, metas[p.chunk_id]), (p.chunk_id, p.source, p.published)


def test_article_filter(multi, multi_bot) -> None:
    davos = next(a for a in multi.store.articles() if a.title.startswith("Davos is back"))
    found = multi_bot.retrieve("Ukraine troops Macron", 5, Filters(article_id=davos.id)).passages
    assert found and {p.article_id for p in found} == {davos.id}


def test_a_filter_that_matches_nothing_returns_nothing(multi_bot) -> None:
    assert multi_bot.retrieve("Davos", 5, Filters(source="no-such-outlet.example")).passages == []
    answer = multi_bot.ask("What happens in Davos?", filters=Filters(source="no-such-outlet.example"))
    assert answer.abstained and answer.citations == []


# -- extractive answers -----------------------------------------------------------------------

def test_speaker_question_puts_a_cited_macron_quote_first(multi, multi_bot) -> None:
    answer = multi_bot.ask(TROOPS)
    assert not answer.abstained
    assert answer.citations and answer.citations[0].n == 1
    assert answer.citations[0].quote in macron_sentences(multi.store)
    first_sentence = answer.answer.split("[1]")[0]
    assert first_sentence.startswith(ATTRIBUTION)
    assert answer.citations[0].quote.split("”")[0].lstrip("“")[:40] in first_sentence


def test_speaker_question_about_another_topic_picks_that_quote(seeded_bot) -> None:
    answer = seeded_bot.ask("What did Macron say about boots on the ground?")
    assert "boots on the ground" in answer.citations[0].quote


def test_nebenzia_question_cites_nebenzia(seeded_bot) -> None:
    answer = seeded_bot.ask("What did Nebenzia say about the US text?")
    assert not answer.abstained and "a step in the right direction" in answer.citations[0].quote


def test_a_speaker_never_quoted_gets_no_invented_quote(seeded_bot) -> None:
    answer = seeded_bot.ask("What did Zelensky say about the vote?")
    assert answer.abstained and not answer.citations


UNANSWERABLE = ["What is the capital of Australia?", "Who won the 2018 football World Cup?", "How tall is Mount Everest?",
                "Who won the 2030 Tour de France?"]


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_abstains_when_the_seed_does_not_answer(seeded_bot, question: str) -> None:
    answer = seeded_bot.ask(question)
    assert answer.abstained, answer.answer
    assert answer.citations == [] and "[1]" not in answer.answer


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_abstains_when_a_larger_store_does_not_answer(multi_bot, question: str) -> None:
    answer = multi_bot.ask(question)
    assert answer.abstained, answer.answer
    assert answer.citations == [] and "[1]" not in answer.answer


def test_a_yes_no_question_is_answered_only_by_a_sentence_that_says_it(seeded_bot) -> None:
    confirmed = seeded_bot.ask("Did Trump rule out sending US troops to Ukraine?")
    assert not confirmed.abstained
    assert "ruled out sending US troops to Ukraine" in confirmed.citations[0].quote
    # the seed says Washington drafted a rival resolution, never whether it passed
    unconfirmed = seeded_bot.ask("Did the rival US resolution pass in the General Assembly?")
    assert unconfirmed.abstained and not unconfirmed.citations, unconfirmed.answer
    # every word is in the seed, but no sentence says Nebenzia voted against it: once answered with the tally
    scattered = seeded_bot.ask("Did Nebenzia vote against the resolution?")
    assert scattered.abstained and not scattered.citations, scattered.answer


def test_a_question_naming_a_year_is_answered_from_passages_about_that_year(multi_bot) -> None:
    answer = multi_bot.ask("What did Macron say about the peace negotiated with Putin in 2014?")
    assert not answer.abstained and "In 2014, our predecessors negotiated peace" in answer.citations[0].quote
    # the seed's UN tally once answered the 2018 World Cup; the year it names is nowhere in the seed
    assert multi_bot.ask("How many votes did the resolution win in 2018?").abstained


@pytest.mark.parametrize(("first", "follow_up", "rewritten"), [
    ("Tell me about Macron", "What did he say about troops?", "What did Macron say about troops?"),
    ("Please summarise Macron's visit", "What did he say about troops?", "What did Macron say about troops?"),
])
def test_a_pronoun_takes_the_person_not_the_verb_that_opens_the_question(seeded_bot, first: str, follow_up: str,
                                                                          rewritten: str) -> None:
    answer = seeded_bot.ask(follow_up, history=[{"role": "user", "content": first},
                                                {"role": "assistant", "content": "…"}])
    assert answer.rewritten_question == rewritten
    assert not answer.abstained and answer.citations[0].quote in macron_sentences(seeded_bot.store)


def test_it_in_a_follow_up_carries_the_previous_topic(seeded_bot) -> None:
    history = [{"role": "user", "content": "What happened with the UN resolution on Ukraine?"},
               {"role": "assistant", "content": "…"}]
    answer = seeded_bot.ask("How many votes did it get?", history=history)
    assert answer.rewritten_question and "UN resolution" in answer.rewritten_question
    assert not answer.abstained and "93 votes" in answer.answer


def test_tell_me_about_someone_is_answered_about_them_or_abstained(seeded_bot) -> None:
    about = seeded_bot.ask("Tell me about Macron")
    assert not about.abstained and all("Macron" in c.quote or "he said" in c.quote for c in about.citations[:1])
    assert seeded_bot.ask("Tell me about Lagarde").abstained


def test_follow_up_is_rewritten_and_answered_about_the_new_subject(multi, multi_bot) -> None:
    answer = multi_bot.ask("And what about Trump?", history=FOLLOW_UP_HISTORY)
    assert answer.rewritten_question is not None
    assert "Trump" in answer.rewritten_question and "troops" in answer.rewritten_question
    assert "Macron" not in answer.rewritten_question
    assert not answer.abstained
    assert answer.citations[0].quote in trump_sentences(multi.store)


def test_the_rewritten_question_is_shown_to_the_reader(seeded_bot) -> None:
    shown = seeded_bot.ask("And what about Trump?", history=FOLLOW_UP_HISTORY).readable()
    first = shown.splitlines()[0]
    assert first.startswith("(understood as: ") and "Trump" in first and "troops" in first
    assert "\nSources:\n[1] " in shown


def test_follow_up_pronoun_takes_the_last_person(seeded_bot) -> None:
    history = [{"role": "user", "content": "Who is Vassily Nebenzia?"},
               {"role": "assistant", "content": "Russia's ambassador to the UN."}]
    answer = seeded_bot.ask("What did he call the US text?", history=history)
    assert answer.rewritten_question and "Nebenzia" in answer.rewritten_question
    assert "a step in the right direction" in answer.answer


def test_a_standalone_question_is_not_rewritten(seeded_bot) -> None:
    answer = seeded_bot.ask("How many countries abstained in the UN vote on Ukraine?", history=FOLLOW_UP_HISTORY)
    assert answer.rewritten_question is None
    assert "65" in answer.answer


ANSWERABLE = [json.loads(line)["question"] for line in (REPO / "tests" / "data" / "seed_facts.jsonl").read_text().splitlines()
              if line.strip() and json.loads(line)["answerable"] and not json.loads(line).get("history")]


@pytest.mark.parametrize("question", ANSWERABLE[:20])
def test_every_citation_quotes_its_chunk_verbatim(multi, multi_bot, question: str) -> None:
    answer = multi_bot.ask(question)
    if answer.abstained:
        assert answer.citations == []
        return
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)]
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert sorted(set(markers)) == [c.n for c in answer.citations], "a marker without a citation, or the reverse"
    assert 1 <= len(answer.citations) <= 4
    chunks = {p.chunk_id: p for p in multi.store.get_passages(list(dict.fromkeys(c.chunk_id for c in answer.citations)))}
    for c in answer.citations:
        chunk = chunks[c.chunk_id]
        assert c.quote in chunk.text, f"[{c.n}] not verbatim in {c.chunk_id}: {c.quote!r}"
        said = shown(c.quote, chunk)  # as shown: shouting capitals calmed, "he said" named
        assert said in answer.answer or said[1:] in answer.answer  # the answer says what it cites
        assert (c.article_id, c.title, c.source, c.published, c.url) == (
            chunk.article_id, chunk.title, chunk.source, chunk.published, chunk.url)


def test_answers_name_the_source_and_date(seeded_bot) -> None:
    answer = seeded_bot.ask("How many countries voted in favour of the European-backed UN resolution?")
    lead, body = answer.answer.split("\n\n", 1)  # the number asked for on a line of its own, then the sentence
    assert lead == "93 [1]" and body.startswith(ATTRIBUTION)
    assert "93 votes for" in body and answer.mode == "extractive"


# -- the real CLI -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cli(request: pytest.FixtureRequest, seeded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every CLI run of this file, started together (each on its own copy of a store); the runs on
    the larger store only when the shared corpus is there (the tests of those runs skip otherwise)."""
    multi = request.getfixturevalue("multi") if CORPUS.exists() else None
    base = tmp_path_factory.mktemp("answers-cli")

    def seeded(name: str) -> Path:
        return copy_store(seeded_dir, base / name)

    def multi_copy(name: str) -> Path:
        return copy_store(multi.settings.data_dir, base / name)

    ask_rows = [
        {"question_id": "q1", "question": TROOPS, "topic": "defence"},
        {"question_id": "q2", "question": "What is the capital of Australia?"},
        {"question_id": "q3", "question": "And what about Trump?", "history": FOLLOW_UP_HISTORY},
        {"question_id": "q4", "question": "What did Nebenzia say about the US text?", "question_date": "2025-02-25"},
    ]
    retrieve_rows = [{"question_id": "r1", "question": "Davos World Economic Forum", "week": 4},
                     {"question_id": "r2", "question": "Trump troops Ukraine"}]
    ask_batch = write_jsonl(base / "ask.jsonl", ask_rows)
    retrieve_batch = write_jsonl(base / "retrieve.jsonl", retrieve_rows)
    bad_batch = base / "bad.jsonl"
    bad_batch.write_text('{"question": "fine"}\n{"question": \n', encoding="utf-8")
    commands = {
        "ask_json": (("ask", TROOPS, "--json"), {"data_dir": seeded("a")}),
        "ask_text": (("ask", TROOPS), {"data_dir": seeded("b")}),
        "ask_batch": (("ask", "--batch", ask_batch), {"data_dir": seeded("c")}),
        "ask_bad_batch": (("ask", "--batch", bad_batch), {"data_dir": seeded("h")}),
    }
    davos_id = None
    if multi is not None:
        davos_id = next(a.id for a in multi.store.articles() if a.title.startswith("Davos is back"))
        commands |= {
            "retrieve_batch": (("retrieve", "--batch", retrieve_batch, "--k", "6"), {"data_dir": multi_copy("d")}),
            "retrieve_source": (("retrieve", "Davos leaders", "--json", "--source", "cnn.com"),
                                {"data_dir": multi_copy("e")}),
            "retrieve_dates": (("retrieve", "Davos leaders", "--json", "--since", "2025-01-01", "--until", "2025-12-31"),
                               {"data_dir": multi_copy("f")}),
            "retrieve_article": (("retrieve", "Davos leaders", "--article", davos_id), {"data_dir": multi_copy("g")}),
        }
    runs = run_parallel(commands)
    return {"runs": runs, "ask_rows": ask_rows, "retrieve_rows": retrieve_rows, "davos_id": davos_id}


CITATION_FIELDS = {"n", "chunk_id", "article_id", "title", "source", "published", "url", "quote", "speaker"}
RESULT_FIELDS = {"chunk_id", "article_id", "title", "source", "published", "url", "text", "score"}


def test_cli_ask_json_has_the_documented_fields(cli, seeded) -> None:
    data = json.loads(ok(cli["runs"]["ask_json"]).stdout)
    assert {"question", "answer", "citations", "abstained", "mode"} <= set(data)
    assert data["question"] == TROOPS and data["mode"] == "extractive" and data["abstained"] is False
    assert data["citations"] and all(set(c) == CITATION_FIELDS for c in data["citations"])
    assert data["citations"][0]["quote"] in macron_sentences(seeded.store)
    ids = list(dict.fromkeys(c["chunk_id"] for c in data["citations"]))
    texts = {p.chunk_id: p.text for p in seeded.store.get_passages(ids)}
    assert all(c["quote"] in texts[c["chunk_id"]] for c in data["citations"])
    assert "[1]" in data["answer"]


def test_cli_ask_prints_a_readable_answer_with_sources(cli) -> None:
    out = ok(cli["runs"]["ask_text"]).stdout
    assert out.startswith(ATTRIBUTION)
    assert "\nSources:\n" in out
    assert re.search(r"^\[1\] Macron backs Trump's Russia outreach .* \(AFP · 24 Feb 2025\)$", out, re.M), out
    assert re.search(r"^    > “", out, re.M)


def test_cli_ask_batch_answers_every_line_and_copies_extra_fields(cli, seeded) -> None:
    lines = json_lines(ok(cli["runs"]["ask_batch"]).stdout)
    assert [row["question_id"] for row in lines] == ["q1", "q2", "q3", "q4"]
    q1, q2, q3, q4 = lines
    assert q1["topic"] == "defence" and q4["question_date"] == "2025-02-25"
    assert "history" not in q3
    assert q1["citations"][0]["quote"] in macron_sentences(seeded.store)
    assert q2["abstained"] is True and q2["citations"] == []
    assert "Trump" in q3["rewritten_question"] and "troops" in q3["rewritten_question"]
    assert q3["citations"][0]["quote"] in trump_sentences(seeded.store)
    assert "a step in the right direction" in q4["answer"]


@pytest.mark.usefixtures("multi")  # runs on the larger store
def test_cli_retrieve_batch_has_the_documented_fields(cli) -> None:
    lines = json_lines(ok(cli["runs"]["retrieve_batch"]).stdout)
    assert [(row["question_id"], row["question"]) for row in lines] == [
        (r["question_id"], r["question"]) for r in cli["retrieve_rows"]]
    assert lines[0]["week"] == 4
    for row in lines:
        assert len(row["results"]) == 6
        assert all(set(r) == RESULT_FIELDS for r in row["results"])
        scores = [r["score"] for r in row["results"]]
        assert scores == sorted(scores, reverse=True)
    assert len({r["article_id"] for r in lines[0]["results"]}) >= 2  # diversity through the CLI too


@pytest.mark.usefixtures("multi")  # runs on the larger store
def test_cli_retrieve_filters(cli) -> None:
    by_source = json.loads(ok(cli["runs"]["retrieve_source"]).stdout)["results"]
    assert by_source and all(r["source"] == "cnn.com" for r in by_source)
    by_date = json.loads(ok(cli["runs"]["retrieve_dates"]).stdout)["results"]
    assert by_date and all("2025-01-01" <= r["published"] <= "2025-12-31" for r in by_date)
    readable = ok(cli["runs"]["retrieve_article"]).stdout
    ids = re.findall(r"^\s*\d+\. \[[\d.]+\] (\S+)", readable, re.M)
    assert ids and {i.split(":")[0] for i in ids} == {cli["davos_id"]}


def test_cli_ask_batch_with_a_bad_line_names_it(cli) -> None:
    result = cli["runs"]["ask_bad_batch"]
    assert result.returncode != 0
    assert "bad.jsonl:2" in result.stderr and "invalid JSON" in result.stderr
    assert "Traceback" not in result.stderr
