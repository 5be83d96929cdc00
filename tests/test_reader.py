"""The neural reader: its candidates and prefilter, the shipped model, the answers it picks, and
`newsbot train-reader` end to end on a tiny quiz made from the seed article."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from chatbot.question import question_type
from chatbot.sentence_pool import key_terms, lexical_scores, pool_sentences, reader_text
from models.reader_model import BUNDLED_READER, ReaderModel, ReaderUnavailable
from tests.conftest import SEED_FILE, SEED_TITLE, ok, run_cli, write_jsonl


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


def test_a_candidate_is_read_with_its_headline_and_the_sentence_before_it() -> None:
    sentences = pool_sentences([("Harbour festival draws crowds", "Organisers were pleased. Mayor Ines Calder opened "
                                 "the festival on Saturday. Stalls sold out.")])
    opened = next(s for s in sentences if s.text.startswith("Mayor"))
    assert opened.previous == "Organisers were pleased."
    assert reader_text(opened, "Harbour festival draws crowds") == \
        "Mayor Ines Calder opened the festival on Saturday. [SEP] Harbour festival draws crowds [SEP] Organisers were pleased."


def test_the_prefilter_puts_the_sentence_carrying_the_question_first() -> None:
    sentences = pool_sentences([("Festival", "The weather was fine all weekend long. Mayor Ines Calder opened the "
                                 "harbour festival on Saturday.")])
    scores, coverage = lexical_scores(key_terms("Who opened the harbour festival?"), sentences, lambda t: 1.0)
    assert sentences[int(np.argmax(scores))].text.startswith("Mayor")
    assert coverage.max() == pytest.approx(1.0)


def test_the_shipped_reader_is_small_documented_and_tells_an_answer_from_a_near_miss() -> None:
    model = ReaderModel.load(BUNDLED_READER)
    files = [p for p in BUNDLED_READER.iterdir() if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 30 * 1024 * 1024
    card = (BUNDLED_READER / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "newsbot train-reader" in card and "Apache-2.0" in card
    logits = model.logits("Who opened the harbour festival in Portmere?", [
        "Mayor Ines Calder opened the harbour festival in Portmere on Saturday. [SEP] Harbour festival draws crowds",
        "The harbour festival in Portmere is held every summer. [SEP] Harbour festival draws crowds",
    ])
    assert logits[0] > logits[1]
    p = model.probabilities(logits, np.array([1.0, 0.6]))
    assert ((0 < p) & (p < 1)).all()


def test_a_reader_folder_without_its_model_is_one_line_naming_the_setting(seeded_copy: Path, tmp_path: Path) -> None:
    broken = tmp_path / "reader"
    shutil.copytree(BUNDLED_READER, broken)
    (broken / "model.onnx").unlink()
    with pytest.raises(ReaderUnavailable, match="model.onnx is missing"):
        ReaderModel.load(broken)
    result = run_cli("ask", "How many countries abstained?", data_dir=seeded_copy,
                     env={"NEWSBOT_READER": "true", "NEWSBOT_READER_MODEL": str(broken)})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "NEWSBOT_READER_MODEL" in result.stderr and str(broken) in result.stderr


@pytest.mark.slow
def test_the_reader_answers_seed_questions_when_turned_on(seeded_copy: Path) -> None:
    on = json.loads(ok(run_cli("ask", "How many countries abstained in the UN vote on Ukraine?", "--json",
                              data_dir=seeded_copy, env={"NEWSBOT_READER": "true"})).stdout)
    off = json.loads(ok(run_cli("ask", "How many countries abstained in the UN vote on Ukraine?", "--json",
                               data_dir=seeded_copy)).stdout)
    for answer in (on, off):
        assert not answer["abstained"] and "65" in answer["answer"]
        assert "65" in answer["citations"][0]["quote"]


def _quiz_week(folder: Path, day: str, seed_text: str) -> None:
    folder.mkdir(parents=True)
    pages = [
        {"title": SEED_TITLE, "body": seed_text, "url": f"https://example.org/{day}/un", "published_at": day,
         "source": "AFP", "question_ids": [f"{day}_0", f"{day}_2"]},
        {"title": "Harbour festival draws crowds", "url": f"https://example.org/{day}/harbour", "published_at": day,
         "source": "Coast Courier", "question_ids": [f"{day}_1"],
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
    out, work = tmp_path / "reader", tmp_path / "work"
    result = ok(run_cli("train-reader", data, "--out", out, "--work", work, "--layers", "1", "--epochs", "1",
                        "--seed", "1", timeout=900))
    assert "held-out weeks 20250224" in result.stdout and "reader_top_right" in result.stdout
    model = ReaderModel.load(out)
    assert model.meta["questions"] == 6 and model.meta["config"]["layers"] == 1
    assert (out / "MODEL_CARD.md").exists() and (out / "model.onnx").exists()
    # a second run with the same work folder reuses the pools and the finished training
    again = ok(run_cli("train-reader", data, "--out", tmp_path / "again", "--work", work, "--layers", "1",
                       "--epochs", "1", "--seed", "1", timeout=900))
    assert "resumed at step" in again.stdout
    assert json.loads((tmp_path / "again" / "reader.json").read_text())["calibration"] == \
        json.loads((out / "reader.json").read_text())["calibration"]
    answer = json.loads(ok(run_cli("ask", "Who opened the harbour festival?", "--json", data_dir=seeded_copy,
                                   env={"NEWSBOT_READER": "true", "NEWSBOT_READER_MODEL": str(out)})).stdout)
    assert answer["abstained"]  # the seed store has no festival: the new reader does not invent one


def test_train_reader_names_a_folder_without_weeks(tmp_path: Path) -> None:
    result = run_cli("train-reader", tmp_path, "--out", tmp_path / "out")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{tmp_path}: no week folders" in result.stderr


def test_train_reader_refuses_a_layer_count_minilm_does_not_have(tmp_path: Path) -> None:
    result = run_cli("train-reader", tmp_path, "--out", tmp_path / "out", "--layers", "9")
    assert result.returncode == 1 and "--layers 9" in result.stderr
