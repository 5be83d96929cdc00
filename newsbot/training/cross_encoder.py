"""Fine-tuning the neural reader: a cross-encoder that reads (question, sentence + headline + the
sentence before) and scores how likely the sentence answers. Initialised from the bottom layers of
the MiniLM newsbot already bundles (the top ones are dropped: on two CPU cores the reader must score
a question's candidates in tens of milliseconds), trained listwise: each group is one positive and
hard negatives of the same question, and the loss is the cross-entropy of the softmax over the group.
torch and transformers are imported here only; the query path runs the ONNX export."""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from newsbot.training.quiz_weeks import NEGATIVE, POSITIVE, Candidate, QuizQuestion


@dataclass
class TrainConfig:
    layers: int = 3
    max_length: int = 96
    group: int = 8  # one positive and this many minus one negatives per group
    groups_per_batch: int = 4
    epochs: int = 3
    lr: float = 6e-5
    warmup: float = 0.05
    negatives_from: int = 48  # negatives are drawn from the question's best candidates by prefilter
    hard_negatives: int = 2  # of which up to this many hold another choice of the quiz
    shown: int = 32  # candidates scored per question when measuring (what `ask` shows the reader)
    seed: int = 0
    threads: int = 2
    checkpoint_every: int = 100


def _seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _scorer_class() -> Any:
    import torch

    class MeanPoolScorer(torch.nn.Module):
        """BERT, mean pooling over the real tokens, one linear logit. The bi-encoder's mean-pooled vector is
        informative from the first step; its CLS pooler gives nearly the same output for every input
        (mean difference 1e-4), and the loss did not move in 100 steps from it."""

        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(bert.config.hidden_size, 1)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return self.head(self.dropout(pooled))

    return MeanPoolScorer


def load_base(base: Path, layers: int | None = None) -> tuple[Any, Any]:
    """(tokenizer, scorer) from a sentence-transformers folder (the first `layers` transformer layers and a
    new head) or from a folder `_save_pretrained` wrote (layers=None)."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the load report lists the dropped layers
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    extra = {"num_hidden_layers": layers} if layers else {}
    bert = AutoModel.from_pretrained(str(base), attn_implementation="eager", add_pooling_layer=False, **extra)
    model = _scorer_class()(bert)
    if (base / "head.pt").exists():
        model.head.load_state_dict(torch.load(base / "head.pt"))
    return tokenizer, model


def _groups(questions: Sequence[QuizQuestion], cfg: TrainConfig,
            rng: random.Random) -> list[tuple[str, list[Candidate]]]:
    """One group per question with a positive: a random positive, then negatives (hard ones first)."""
    out = []
    for q in questions:
        positives = q.positives
        negatives = [c for c in q.candidates if c.label == NEGATIVE and c.rank < cfg.negatives_from]
        if not positives or not negatives:
            continue
        hard = [c for c in negatives if c.other_choice]
        rng.shuffle(hard)
        picked = hard[:cfg.hard_negatives]
        rest = [c for c in negatives if c not in picked]
        picked += rng.sample(rest, min(len(rest), cfg.group - 1 - len(picked)))
        while len(picked) < cfg.group - 1:  # a small pool: repeat negatives so every group has one shape
            picked.append(rng.choice(negatives))
        out.append((q.question, [rng.choice(positives), *picked]))
    rng.shuffle(out)
    return out


def _encode(tokenizer: Any, questions: list[str], texts: list[str], max_length: int) -> Any:
    return tokenizer(questions, texts, truncation="only_second", max_length=max_length, padding=True,
                     return_tensors="pt")


def score(model: Any, tokenizer: Any, pairs: Sequence[tuple[str, str]], max_length: int, batch: int = 64) -> np.ndarray:
    """Logits for (question, reader text) pairs, with the torch model (training-time measurement)."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(pairs), batch):
            chunk = pairs[start:start + batch]
            enc = _encode(tokenizer, [p[0] for p in chunk], [p[1] for p in chunk], max_length)
            out.append(model(**enc)[:, 0].numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def measure(questions: Sequence[QuizQuestion], scorer: Callable[[list[tuple[str, str]]], np.ndarray],
            shown: int) -> dict[str, float]:
    """On each question's `shown` best candidates by prefilter: how often the reader's best one (with its
    headline, as an answer shows it) is right, against the prefilter's own best; and the reader's MRR."""
    right = base = rr = n_pos = 0.0
    for q in questions:
        cands = [c for c in q.candidates if c.rank < shown]
        if not cands:
            continue
        logits = scorer([(q.question, c.text) for c in cands])
        order = np.argsort(-logits, kind="stable")
        best = cands[int(order[0])]
        right += q.right(f"{best.title} {best.sentence}")
        base += q.right(f"{cands[0].title} {cands[0].sentence}")
        ranks = [r for r, i in enumerate(order) if cands[int(i)].label == POSITIVE]
        if ranks:
            n_pos += 1
            rr += 1 / (1 + ranks[0])
    n = max(1, len(questions))
    return {"questions": len(questions), "reader_top_right": round(right / n, 4), "prefilter_top_right": round(base / n, 4),
            "mrr_where_positive": round(rr / max(1, n_pos), 4)}


def fine_tune(train: Sequence[QuizQuestion], check: Sequence[QuizQuestion], base: Path, work: Path,
              cfg: TrainConfig, progress: Callable[[str], None] = print) -> Path:
    """Train, measuring on `check` after every epoch; returns the folder of the best epoch's weights
    (work/best). Resumes from work/last when a run was stopped (same config)."""
    import torch

    torch.set_num_threads(cfg.threads)
    _seed(cfg.seed)
    tokenizer, model = load_base(base, cfg.layers)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)  # 12M of 17M weights, and AdamW's time
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01)
    rng = random.Random(cfg.seed)
    per_epoch = math.ceil(len(_groups(train, cfg, random.Random(0))) / cfg.groups_per_batch)
    total = per_epoch * cfg.epochs
    warm = max(1, int(total * cfg.warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    state = {"step": 0, "best": -1.0, "history": []}
    work.mkdir(parents=True, exist_ok=True)
    last = work / "last"
    if (last / "state.json").exists():
        saved = json.loads((last / "state.json").read_text())
        if saved.get("config") == asdict(cfg):
            ckpt = torch.load(last / "train.pt", weights_only=False)
            model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["opt"])
            sched.load_state_dict(ckpt["sched"])
            state = saved["state"]
            progress(f"resumed at step {state['step']} of {total}")
    started, losses = time.monotonic(), []
    for epoch in range(cfg.epochs):
        groups = _groups(train, cfg, rng)  # drawn every epoch, also the skipped ones: a resumed run draws the same
        if state["step"] >= (epoch + 1) * per_epoch:
            continue
        model.train()
        for b in range(state["step"] - epoch * per_epoch, per_epoch):
            batch = groups[b * cfg.groups_per_batch:(b + 1) * cfg.groups_per_batch]
            enc = _encode(tokenizer, [q for q, g in batch for _ in g], [c.text for _, g in batch for c in g],
                          cfg.max_length)
            logits = model(**enc).view(len(batch), cfg.group)
            loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(batch), dtype=torch.long))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            state["step"] += 1
            losses.append(float(loss.detach()))
            if state["step"] % 20 == 0:
                rate = (time.monotonic() - started) / max(1, len(losses))
                progress(f"epoch {epoch + 1} step {state['step']}/{total}: loss {np.mean(losses[-20:]):.3f}, "
                         f"{rate:.2f} s/step, {(total - state['step']) * rate / 60:.0f} min left")
            if state["step"] % cfg.checkpoint_every == 0:
                _checkpoint(last, model, opt, sched, state, cfg)
        figures = measure(check, lambda pairs: score(model, tokenizer, pairs, cfg.max_length), cfg.shown)
        figures["epoch"] = epoch + 1
        state["history"].append(figures)
        progress(f"epoch {epoch + 1} held out: {figures}")
        if figures["reader_top_right"] > state["best"]:
            state["best"] = figures["reader_top_right"]
            _save_pretrained(work / "best", model, tokenizer)
        _checkpoint(last, model, opt, sched, state, cfg)
        model.train()
    (work / "history.json").write_text(json.dumps(state["history"], indent=2))
    return work / "best"


def _save_pretrained(folder: Path, model: Any, tokenizer: Any) -> None:
    import torch

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.bert.save_pretrained(str(tmp))
    torch.save(model.head.state_dict(), tmp / "head.pt")
    tokenizer.save_pretrained(str(tmp))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def _checkpoint(folder: Path, model: Any, opt: Any, sched: Any, state: dict[str, Any], cfg: TrainConfig) -> None:
    import torch

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, tmp / "train.pt")
    (tmp / "state.json").write_text(json.dumps({"config": asdict(cfg), "state": state}))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def export_onnx(model_dir: Path, out_dir: Path, quantize: bool = True,
                check_pairs: Sequence[tuple[str, str]] = (), max_length: int = 96) -> dict[str, float]:
    """The fine-tuned reader as out_dir/model.onnx (int8 weights unless quantize=False) + tokenizer.json,
    checked against torch on `check_pairs`: returns the largest logit difference and the rank
    correlation of the two scorings."""
    import warnings

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tokenizer, model = load_base(model_dir)
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    fp32 = out_dir / ("model_fp32.onnx" if quantize else "model.onnx")
    ids = torch.tensor([[101, 2054, 2106, 102, 1996, 2343, 2056, 102], [101, 2040, 102, 1037, 3231, 102, 0, 0]])
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer notes
        torch.onnx.export(model, (ids, (ids != 0).long(), torch.zeros_like(ids)), str(fp32), dynamo=False,
                          input_names=names, output_names=["logits"], opset_version=17, do_constant_folding=True,
                          dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*names, "logits"]})
    if quantize:
        # Per-channel weights, as for the embedder: per-tensor int8 bends MiniLM's outputs much further.
        quantize_dynamic(str(fp32), str(out_dir / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True)
        fp32.unlink()
    shutil.copy2(model_dir / "tokenizer.json", out_dir / "tokenizer.json")
    if not check_pairs:
        return {}
    from models.onnx_runner import OnnxRunner

    runner = OnnxRunner(out_dir / "model.onnx", out_dir / "tokenizer.json", max_length, "logits", pairs=True)
    got = np.zeros(len(check_pairs), dtype=np.float32)
    for rows, logits, _ in runner.run(list(check_pairs)):
        got[rows] = logits[:, 0]
    want = score(model, tokenizer, check_pairs, max_length)
    from scipy.stats import spearmanr

    return {"max_abs_diff": round(float(np.abs(got - want).max()), 4),
            "spearman": round(float(spearmanr(got, want).statistic), 4)}
