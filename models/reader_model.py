"""The learned reader's weights and scoring, numpy only (no torch on the query path): standardise
the features, then a linear layer or a small ReLU MLP. The weights are a JSON file that ships in
models/reader/ (made by `newsbot train-reader`; see the model card beside it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.embeddings import ModelUnavailable

BUNDLED_READER = Path(__file__).resolve().parent / "reader" / "reader.json"


class ReaderUnavailable(ModelUnavailable):
    """The reader's weights file is missing or does not match the features newsbot computes."""


@dataclass
class ReaderModel:
    features: list[str]
    mean: np.ndarray
    scale: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]
    abstain_below: float = 0.0  # a best-sentence probability under this means "the articles do not say"
    calibration: tuple[float, float] = (1.0, 0.0)  # Platt scaling of the logit, fitted on held-out weeks
    compose_ratio: float = 0.8  # a further sentence joins the answer when its probability is this close to the best
    meta: dict[str, Any] | None = None
    # A fixed hand-set scorer added to the learned logit (feature name -> weight): the learned part
    # corrects it rather than replacing it, which keeps what coverage is good at on few training weeks.
    prior: dict[str, float] | None = None

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> ReaderModel:
        layers = [(np.asarray(w, dtype=np.float32), np.asarray(b, dtype=np.float32)) for w, b in spec["layers"]]
        return cls(list(spec["features"]), np.asarray(spec["mean"], dtype=np.float32),
                   np.asarray(spec["scale"], dtype=np.float32), layers, float(spec.get("abstain_below", 0.0)),
                   tuple(spec.get("calibration", (1.0, 0.0))), float(spec.get("compose_ratio", 0.8)), spec.get("meta"),
                   spec.get("prior"))

    @classmethod
    def load(cls, path: Path) -> ReaderModel:
        try:
            return cls.from_spec(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ReaderUnavailable(f"the reader model {str(path)!r} cannot be loaded ({exc}); set NEWSBOT_READER_MODEL "
                                    "to a file made by `newsbot train-reader`, or NEWSBOT_READER=false") from exc

    def spec(self) -> dict[str, Any]:
        return {"features": self.features, "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "layers": [[w.tolist(), b.tolist()] for w, b in self.layers], "abstain_below": self.abstain_below,
                "calibration": list(self.calibration), "compose_ratio": self.compose_ratio, "meta": self.meta or {},
                "prior": self.prior or {}}

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.spec()), encoding="utf-8")

    def logits(self, X: np.ndarray) -> np.ndarray:
        if X.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        h = (X - self.mean) / self.scale
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        out = h[:, 0]
        for name, weight in (self.prior or {}).items():
            out = out + weight * X[:, self.features.index(name)]
        return out

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        """Per row: how likely its sentence answers the question (the calibrated logit)."""
        a, b = self.calibration
        return 1.0 / (1.0 + np.exp(-np.clip(a * self.logits(X) + b, -30, 30)))
