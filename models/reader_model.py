"""The neural reader's runtime: a cross-encoder (question, sentence in context) -> logit, run on
ONNX Runtime with `tokenizers` like the embedder (models.onnx_runner), no torch at query time.

A reader folder holds `reader.json` (how to read: input length, how many candidates to score, the
calibration of the logit and the compose ratio tuned on held-out weeks, and what it was trained
on), `model.onnx` and `tokenizer.json`. The one that ships is models/reader/, made by
`newsbot train-reader` (see the model card beside it)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.embeddings import ModelUnavailable
from models.onnx_runner import OnnxModelError, OnnxRunner

BUNDLED_READER = Path(__file__).resolve().parent / "reader"
SPEC_FILE = "reader.json"
FORMAT = "cross-encoder-onnx/1"


class ReaderUnavailable(ModelUnavailable):
    """The reader's folder is missing, incomplete, or made for another format."""


@dataclass
class ReaderModel:
    folder: Path
    max_length: int = 96
    shown: int = 32  # candidates scored per question, the lexical prefilter's best
    # P(the sentence answers) = sigmoid(a * logit + b * prefilter score + c), fitted on held-out weeks: the
    # lexical prefilter carries what the small cross-encoder misses (a whole pool about one story).
    calibration: tuple[float, float, float] = (1.0, 0.0, 0.0)
    abstain_below: float = 0.0  # a best-sentence probability under this means "the articles do not say"
    compose_ratio: float = 0.8  # a further sentence joins the answer when its probability is this close to the best
    meta: dict[str, Any] = field(default_factory=dict)
    threads: int | None = None
    model_file: str = "model.onnx"
    tokenizer_file: str = "tokenizer.json"

    def __post_init__(self) -> None:
        self._runner: OnnxRunner | None = None

    @classmethod
    def load(cls, path: Path, threads: int | None = None) -> ReaderModel:
        """A reader folder (or its reader.json); the ONNX session itself loads on first use."""
        path = Path(path)
        folder = path.parent if path.name == SPEC_FILE else path
        try:
            spec = json.loads((folder / SPEC_FILE).read_text(encoding="utf-8"))
            if spec.get("format") != FORMAT:
                raise ValueError(f"format {spec.get('format')!r}, expected {FORMAT!r}")
            for name in (spec["model_file"], spec["tokenizer_file"]):
                if not (folder / name).is_file():
                    raise FileNotFoundError(f"{name} is missing")
            return cls(folder, int(spec["max_length"]), int(spec["shown"]), tuple(spec["calibration"]),
                       float(spec["abstain_below"]), float(spec["compose_ratio"]), dict(spec.get("meta") or {}),
                       threads, spec["model_file"], spec["tokenizer_file"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ReaderUnavailable(f"the reader {str(folder)!r} cannot be loaded ({exc}); set NEWSBOT_READER_MODEL to a "
                                    "folder made by `newsbot train-reader`, or NEWSBOT_READER=false") from exc

    def spec(self) -> dict[str, Any]:
        return {"format": FORMAT, "model_file": self.model_file, "tokenizer_file": self.tokenizer_file,
                "max_length": self.max_length, "shown": self.shown, "calibration": list(self.calibration),
                "abstain_below": self.abstain_below, "compose_ratio": self.compose_ratio, "meta": self.meta}

    def save(self) -> None:
        (self.folder / SPEC_FILE).write_text(json.dumps(self.spec(), indent=2) + "\n", encoding="utf-8")

    @property
    def runner(self) -> OnnxRunner:
        if self._runner is None:
            try:
                self._runner = OnnxRunner(self.folder / self.model_file, self.folder / self.tokenizer_file,
                                          self.max_length, "logits", batch_size=64, threads=self.threads, pairs=True)
            except OnnxModelError as exc:
                raise ReaderUnavailable(str(exc)) from exc
        return self._runner

    def load_now(self) -> float:
        """Load the session and tokenizer now (a server's warm-up); returns the seconds taken."""
        return self.runner.load()

    def logits(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """The reader's logit for each text read beside the question, in the input order."""
        out = np.zeros(len(texts), dtype=np.float32)
        if texts:
            for rows, logits, _ in self.runner.run([(question, t) for t in texts]):
                out[rows] = logits[:, 0]
        return out

    def probabilities(self, logits: np.ndarray, lexical: np.ndarray) -> np.ndarray:
        """The calibrated probability that each sentence answers, from its logit and its prefilter score."""
        a, b, c = self.calibration
        return 1.0 / (1.0 + np.exp(-(a * logits + b * lexical + c)))
