"""`newsbot eval`: runs the project's fact set and RealTimeQA-format files through the real CLI,
writes a Markdown report, prints the metrics as JSON, and fails when a --min-* gate is missed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, copy_store, ok, run_cli, run_parallel, write_jsonl

SEED_FACTS = REPO / "tests" / "data" / "seed_facts.jsonl"
METRICS = {"questions", "hits@4", "hits@10", "mrr@10", "map@10", "fact_recall", "citation_precision",
           "abstained_unanswerable", "answered_answerable", "retrieve_ms_p50", "retrieve_ms_p95",
           "answer_ms_p50", "answer_ms_p95"}
REALTIMEQA = [  # the RealTimeQA shape, about the seed
    {"question_id": "20250228_0", "question": "How many countries voted for the European-backed UN resolution on Ukraine?",
     "question_date": "2025-02-25", "choices": ["93", "120", "141", "57"], "gold": "93", "gold_index": 0},
    {"question_id": "20250228_1", "question": "Who is Russia's ambassador to the UN?", "question_date": "2025-02-25",
     "choices": ["Sergei Lavrov", "Vassily Nebenzia", "Dmitry Peskov", "Maria Zakharova"],
     "gold": "Vassily Nebenzia", "gold_index": 1},
    {"question_id": "20250228_2", "question": "Which country put forward amendments to the US text at the UN?",
     "question_date": "2025-02-25", "choices": ["Germany", "Italy", "France", "Poland"], "gold": "France",
     "gold_index": 2},
]


@pytest.fixture(scope="module")
def runs(seeded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("eval")
    rtqa = write_jsonl(base / "questions.jsonl", REALTIMEQA)
    report = base / "report.md"
    results = run_parallel({
        "seed": (("eval", SEED_FACTS, "--json", "--report", report, "-q"), {"data_dir": copy_store(seeded_dir, base / "a")}),
        "gate": (("eval", SEED_FACTS, "--min-fact-recall", "1.01", "-q"), {"data_dir": copy_store(seeded_dir, base / "b")}),
        "rtqa": (("eval", rtqa, "--json", "-q"), {"data_dir": copy_store(seeded_dir, base / "c")}),
    })
    return {**results, "report": report}


def test_eval_prints_the_metrics_as_json(runs) -> None:
    summary = json.loads(ok(runs["seed"]).stdout)
    overall = summary["overall"]
    assert METRICS <= set(overall), METRICS - set(overall)
    assert overall["questions"] == len(SEED_FACTS.read_text().splitlines())
    assert {"say", "who", "unanswerable", "followup"} <= set(summary["by_type"])
    for key in ("hits@4", "fact_recall", "citation_precision", "abstained_unanswerable"):
        assert 0.0 <= overall[key] <= 1.0, (key, overall[key])


def test_eval_writes_a_markdown_report(runs) -> None:
    ok(runs["seed"])
    report = runs["report"].read_text(encoding="utf-8")
    assert report.startswith("# newsbot eval — seed_facts.jsonl")
    assert "| group | questions | hits@4 |" in report
    assert "| overall | " in report and "| say | " in report
    overall = json.loads(runs["seed"].stdout)["overall"]
    assert f"| overall | {overall['questions']} | {overall['hits@4']} |" in report


def test_a_missed_gate_fails_the_run(runs) -> None:
    result = runs["gate"]
    assert result.returncode != 0
    assert "threshold missed: fact_recall" in result.stderr and "< 1.01" in result.stderr
    assert "fact_recall" in result.stdout  # the metrics are still printed


def test_eval_reads_realtimeqa_files(runs) -> None:
    overall = json.loads(ok(runs["rtqa"]).stdout)["overall"]
    assert overall["questions"] == 3
    assert overall["accuracy"] is not None and overall["gold_recall@4"] is not None
    assert overall["gold_recall@4"] == 1.0  # the seed holds every gold answer


def test_seed_targets_of_the_answers_issue(runs) -> None:
    """Issue 3's targets on the seed fact set: >= 90% of facts, every citation's quote verbatim
    in its chunk and sharing the claim (citation precision)."""
    overall = json.loads(ok(runs["seed"]).stdout)["overall"]
    assert overall["fact_recall"] >= 0.9
    assert overall["citation_precision"] == 1.0


@pytest.mark.xfail(strict=True, reason=(
    "PRODUCT: issue 3 target 'every unanswerable question abstained' is missed on the seed fact set: "
    "abstained_unanswerable 0.8; answered instead: 'Which countries abstained in the UN vote on Ukraine?' "
    "(the seed gives only the count) and 'How many votes did the previous UN resolution on the war receive?' "
    "(it gives the new resolution's tally)"))
def test_seed_target_every_unanswerable_question_abstained(runs) -> None:
    assert json.loads(ok(runs["seed"]).stdout)["overall"]["abstained_unanswerable"] == 1.0


def test_realtimeqa_answers_on_the_seed_are_right(runs) -> None:
    overall = json.loads(ok(runs["rtqa"]).stdout)["overall"]
    assert overall["accuracy"] == 1.0


def test_a_missing_or_malformed_qa_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = run_cli("eval", tmp_path / "nope.jsonl", data_dir=tmp_path / "data")
    assert missing.returncode != 0 and "nope.jsonl" in missing.stderr and "Traceback" not in missing.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok"}\n{"question": \n', encoding="utf-8")
    malformed = run_cli("eval", bad, data_dir=tmp_path / "data")
    assert malformed.returncode != 0 and "bad.jsonl:2" in malformed.stderr and "invalid JSON" in malformed.stderr


@pytest.mark.parametrize(("answer", "fact", "found"), [
    ("sanctions spearheaded by former president Joe Biden’s administration", "Biden", True),  # curly apostrophe
    ("Conan O'Brien hosts the Oscars", "Conan O’Brien", True),
    ("Four years after Russia’s full-scale invasion", "4", True),
    ("It won 1,000 votes", "1000", True),
    ("The Zürich café reopened", "Zurich cafe", True),
    ("Bidenomics was the theme", "Biden", False),
    ("It won 14 votes", "4", False),
])
def test_facts_are_found_whatever_the_case_punctuation_accents_or_number_format(answer: str, fact: str,
                                                                                found: bool) -> None:
    from newsbot.evaluation.scorer import contains

    assert contains(answer, fact) is found


def test_report_quotes_are_whole_words_in_one_pair_of_quote_marks(runs) -> None:
    """Each citation in the written report is its stored sentence, or the sentence cut after a whole
    word and marked "…"; never cut inside a word, never inside doubled quote marks."""
    from tests.conftest import SEEDS

    ok(runs["seed"])
    seed = " ".join(" ".join(p.read_text(encoding="utf-8").split()) for p in sorted(SEEDS.glob("*.txt")))
    lines = [line for line in runs["report"].read_text(encoding="utf-8").splitlines() if line.startswith("  - [")]
    assert lines, "the report lists no citations"
    for line in lines:
        shown = line.split(" — ", 1)[1]
        assert shown.startswith("“") and shown.endswith("”") and "““" not in shown and "””" not in shown, line
        text = shown.removeprefix("“").removesuffix("”")
        head = text.removesuffix("…")
        assert len(text) <= 160 and head in seed, line
        after = seed[seed.index(head) + len(head):][:1]
        assert not after.isalnum(), f"cut inside a word ({head[-10:]!r} + {after!r}…): {line}"


def test_report_shortens_long_quotes_and_answers_at_a_word_with_an_ellipsis() -> None:
    from chatbot.answer import Answer, Citation
    from newsbot.evaluation.qa_formats import QAItem
    from newsbot.evaluation.report import render
    from newsbot.evaluation.scorer import ItemResult

    closing = ("But France put forward amendments to the US text telling the General Assembly that Paris, along "
               "with European countries and Britain, would “not be able to support in its current form.”")
    opening = "“We want a quick deal but not a fragile one,” Macron said."
    answer = "According to AFP, " + " ".join(["the vote was close"] * 30) + "."
    citations = [Citation(n, "c", "a", "Title", "AFP", "2025-02-24", None, q) for n, q in ((1, closing), (2, opening))]
    result = ItemResult(QAItem("1", "What wording did they want?", any_facts=[["full-scale", "invasion"]]),
                        Answer("What wording did they want?", answer, citations), retrieved_ids=[], relevant_ranks=[],
                        retrieve_ms=1.0, answer_ms=1.0, fact_recall=0.0)
    summary = {"overall": {"questions": 1}, "by_type": {}}
    lines = render(summary, [result], "t").splitlines()
    assert "  - [1] Title — “But France put forward amendments to the US text telling the General Assembly that " \
           "Paris, along with European countries and Britain, would “not be able to…”" in lines
    assert f"  - [2] Title — {opening}”" in lines  # short: whole; opens the quotation itself: no second “
    got = next(line for line in lines if line.startswith("  - got: ")).removeprefix("  - got: ")
    assert got.endswith("the vote was close…") and len(got) <= 400 and answer.startswith(got[:-1])
    assert "  - expected: full-scale / invasion" in lines  # any_facts count as expected facts too
