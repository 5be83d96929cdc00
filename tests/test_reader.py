"""The learned reader: its features, its shipped weights, the answers it picks, and
`newsbot train-reader` end to end on a tiny quiz made from the seed article."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chatbot.reader_features import FEATURES, PassageView, featurize, question_type
from models.reader_model import BUNDLED_READER, ReaderModel
from tests.conftest import SEED_FILE, SEED_TITLE, ok, run_cli, write_jsonl


def _features(question: str, *texts: str) -> tuple[list[str], np.ndarray]:
    passages = [PassageView(t, title="", fused=1.0 / (i + 1)) for i, t in enumerate(texts)]
    sents, X = featurize(question, passages, lambda t: 1.0, lambda t: True, "2026-01-22")
    return [s.text for s in sents], X


@pytest.mark.parametrize(("question", "kind"), [
    ("Which country hosted the summit this week?", "place"),
    ("Who won the Democratic primary for US Senate in Texas?", "who"),
    ("How many votes did the resolution receive?", "number"),
    ("Which company is laying off 16,000 employees?", "org"),
    ("When did the airspace close?", "date"),
    ("Did the resolution pass?", "yesno"),
])
def test_question_types_are_told_apart(question: str, kind: str) -> None:
    assert question_type(question) == kind


def test_a_name_the_question_does_not_hold_marks_an_answer_to_who() -> None:
    texts, X = _features("Who will host this year's Oscars ceremony?",
                         "Conan O'Brien will host the Oscars ceremony again this year, the academy said.",
                         "The Oscars ceremony will be held again this year, organisers said.")
    col = FEATURES.index("who_caps")
    named = texts.index("Conan O'Brien will host the Oscars ceremony again this year, the academy said.")
    assert X[named, col] > 0 and X[1 - named, col] == 0  # "Oscars" is the question's own word, not an answer


def test_a_name_several_passages_agree_on_scores_higher_agreement() -> None:
    texts, X = _features("Which company announced layoffs this week?",
                         "Amazon announced layoffs of 16,000 staff this week.",
                         "Amazon said the cuts are part of a broader plan to trim management.",
                         "Target announced a new store opening this week.")
    col = FEATURES.index("novel_agree")
    assert X[texts.index("Amazon announced layoffs of 16,000 staff this week."), col] > \
        X[texts.index("Target announced a new store opening this week."), col]


def test_the_shipped_reader_matches_the_features_newsbot_computes() -> None:
    model = ReaderModel.load(BUNDLED_READER)
    assert model.features == list(FEATURES)
    assert BUNDLED_READER.stat().st_size < 25 * 1024 * 1024
    assert (BUNDLED_READER.parent / "MODEL_CARD.md").exists()
    _, X = _features("Who will host the Oscars?", "Conan O'Brien will host the Oscars, the academy said today.")
    p = model.probabilities(X)
    assert p.shape == (1,) and 0.0 < p[0] < 1.0


def test_a_reader_saved_and_loaded_scores_the_same(tmp_path: Path) -> None:
    model = ReaderModel.load(BUNDLED_READER)
    model.save(tmp_path / "r.json")
    _, X = _features("Which country abstained?", "Sixty-five countries abstained in the vote on Monday.",
                     "China abstained, the envoy said on Tuesday.")
    assert np.allclose(ReaderModel.load(tmp_path / "r.json").probabilities(X), model.probabilities(X))


def test_a_broken_reader_file_is_one_line_naming_the_setting(seeded_copy: Path, tmp_path: Path) -> None:
    bad = tmp_path / "reader.json"
    bad.write_text("{not json", encoding="utf-8")
    result = run_cli("ask", "How many countries abstained?", data_dir=seeded_copy,
                     env={"NEWSBOT_READER_MODEL": str(bad)})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "NEWSBOT_READER_MODEL" in result.stderr and str(bad) in result.stderr


@pytest.mark.slow
def test_the_reader_answers_seed_questions_and_can_be_turned_off(seeded_copy: Path) -> None:
    on = json.loads(ok(run_cli("ask", "How many countries abstained in the UN vote on Ukraine?", "--json",
                              data_dir=seeded_copy)).stdout)
    off = json.loads(ok(run_cli("ask", "How many countries abstained in the UN vote on Ukraine?", "--json",
                               data_dir=seeded_copy, env={"NEWSBOT_READER": "false"})).stdout)
    for answer in (on, off):
        assert not answer["abstained"] and "65" in answer["answer"]
        assert "65" in answer["citations"][0]["quote"]


def _quiz_week(folder: Path, day: str, seed_text: str) -> None:
    folder.mkdir(parents=True)
    pages = [
        {"title": SEED_TITLE, "body": seed_text, "url": f"https://example.org/{day}/un", "published_at": day,
         "source": "AFP"},
        {"title": "Harbour festival draws crowds", "url": f"https://example.org/{day}/harbour", "published_at": day,
         "source": "Coast Courier",
         "body": "The harbour festival drew thousands of visitors to Portmere on Saturday. Organisers said the "
                 "regatta was the largest in a decade. Mayor Ines Calder opened the festival with a speech about "
                 "the town's fishing history. Food stalls sold out by the afternoon, vendors said."},
    ]
    write_jsonl(folder / "corpus.jsonl", pages)
    questions = [
        {"question_id": f"{day}_0", "question": "How many countries abstained in the UN vote on Ukraine?",
         "question_date": day.replace("-", "/"), "choices": ["65", "93", "18", "12"], "gold": "65", "gold_index": 0},
        {"question_id": f"{day}_1", "question": "Who opened the harbour festival?", "question_date": day.replace("-", "/"),
         "choices": ["Ines Calder", "Emmanuel Macron", "Vassily Nebenzia", "Keir Starmer"], "gold": "Ines Calder",
         "gold_index": 0},
        {"question_id": f"{day}_2", "question": "Which ambassador called the US text a step in the right direction?",
         "question_date": day.replace("-", "/"), "choices": ["Nebenzia", "Calder", "Macron", "Starmer"],
         "gold": "Nebenzia", "gold_index": 0},
    ]
    write_jsonl(folder / "questions.jsonl", questions)


@pytest.mark.slow
def test_train_reader_learns_from_quiz_weeks_and_newsbot_answers_with_it(tmp_path: Path, seeded_copy: Path) -> None:
    seed_text = SEED_FILE.read_text(encoding="utf-8")
    data = tmp_path / "quizzes"
    for day in ("2025-02-10", "2025-02-17", "2025-02-24"):
        _quiz_week(data / day.replace("-", ""), day, seed_text)
    out = tmp_path / "reader"
    result = ok(run_cli("train-reader", data, "--out", out, "--seed", "1"))
    assert "held-out weeks 20250224" in result.stdout and "accuracy" in result.stdout
    model = ReaderModel.load(out / "reader.json")
    assert model.features == list(FEATURES) and model.meta and model.meta["questions"] == 6
    again = ok(run_cli("train-reader", data, "--out", tmp_path / "again", "--work", out / "work", "--seed", "1"))
    assert "week 20250224 ready" in again.stdout
    assert json.loads((tmp_path / "again" / "reader.json").read_text())["layers"] == \
        json.loads((out / "reader.json").read_text())["layers"]  # seeded, and the cached weeks give the same data
    answer = json.loads(ok(run_cli("ask", "Who opened the harbour festival?", "--json", data_dir=seeded_copy,
                                   env={"NEWSBOT_READER_MODEL": str(out / "reader.json")})).stdout)
    assert answer["abstained"]  # the seed store has no festival: the new reader does not invent one


def test_train_reader_names_a_folder_without_weeks(tmp_path: Path) -> None:
    result = run_cli("train-reader", tmp_path, "--out", tmp_path / "out")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{tmp_path}: no week folders" in result.stderr
