"""One way to run a BERT-style ONNX graph on CPU, shared by the embedder and the neural reader:
a process-wide session per model file, a `tokenizers` tokenizer, and length-sorted batches that pad
only to their own longest text. What a model does with its output (pooling, a logit) is its own."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
MAX_BATCH_TOKENS = 4096  # padded tokens per ONNX batch (see OnnxRunner.batches)

_SESSIONS: dict[tuple[str, int], Any] = {}
_SESSIONS_LOCK = threading.Lock()


class OnnxModelError(RuntimeError):
    """A model folder or an ONNX export folder is missing, incomplete or unusable."""


def default_threads() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def session(model_path: Path, threads: int) -> Any:
    """One ONNX Runtime session per (model file, threads), shared by every runner in the process."""
    key = (str(model_path), threads)
    with _SESSIONS_LOCK:
        if key not in _SESSIONS:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            # Idle worker threads sleep instead of spinning: on 2 shared cores spinning took CPU from the
            # other thread of the same run (220 chunks: 9.4 s spinning vs 7.6 s; one query: 4.7 vs 2.6 ms).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            try:
                _SESSIONS[key] = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
                raise OnnxModelError(f"{model_path}: ONNX Runtime cannot load it ({exc})") from exc
        return _SESSIONS[key]


class OnnxRunner:
    """Tokenize, batch by length, run; the session and tokenizer load on first use (or `load()`).

    `pairs=True` encodes (first, second) text pairs and truncates only the second, as a cross-encoder
    is trained; otherwise single texts, truncated at `max_length`."""

    def __init__(self, model_file: Path, tokenizer_file: Path, max_length: int, output: str, batch_size: int = 32,
                 threads: int | None = None, pairs: bool = False) -> None:
        for path, what in ((model_file, "the ONNX model"), (tokenizer_file, "tokenizer.json")):
            if not Path(path).is_file():
                raise OnnxModelError(f"{path}: {what} is missing")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.model_file, self.tokenizer_file = Path(model_file), Path(tokenizer_file)
        self.max_length, self.output, self.batch_size, self.pairs = max_length, output, batch_size, pairs
        self.threads = threads or default_threads()
        self.load_seconds: float | None = None  # wall time of the first load(), for start-up budgets
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def load(self) -> float:
        """Load the tokenizer and the ONNX session now instead of on first use; returns the seconds taken."""
        with self._lock:
            if self._tokenizer is None:
                started = time.perf_counter()
                self._session = session(self.model_file, self.threads)
                from tokenizers import Tokenizer

                try:
                    tokenizer = Tokenizer.from_file(str(self.tokenizer_file))
                except Exception as exc:  # tokenizers raises a bare Exception on a bad file
                    raise OnnxModelError(f"{self.tokenizer_file}: cannot be loaded ({exc})") from exc
                tokenizer.enable_truncation(max_length=self.max_length, strategy="only_second" if self.pairs else "longest_first")
                tokenizer.no_padding()  # padding happens per length-sorted batch below
                self._inputs = [i.name for i in self._session.get_inputs()]
                self._tokenizer = tokenizer
                self.load_seconds = time.perf_counter() - started
        return self.load_seconds or 0.0

    def run(self, inputs: Sequence[str] | Sequence[tuple[str, str]]) -> list[tuple[list[int], np.ndarray, np.ndarray]]:
        """(rows, output, attention mask) per batch; rows index `inputs`, every input in exactly one batch."""
        self.load()
        encodings = self._tokenizer.encode_batch(list(inputs), add_special_tokens=True)
        lengths = [len(e.ids) for e in encodings]
        out = []
        for rows in self.batches(sorted(range(len(encodings)), key=lengths.__getitem__), lengths):
            feeds = _feeds([encodings[i] for i in rows])
            result = self._session.run([self.output], {name: feeds[name] for name in self._inputs})[0]
            out.append((rows, result, feeds["attention_mask"]))
        return out

    def batches(self, order: list[int], lengths: list[int]) -> list[list[int]]:
        """Consecutive rows of the length-sorted order, at most batch_size texts and MAX_BATCH_TOKENS
        padded tokens each: attention memory grows with the square of the width, and 64 texts of
        256 tokens took an ingest to 1.6 GB (ONNX Runtime's arena keeps a batch's peak)."""
        batches: list[list[int]] = []
        for i in order:  # widths only grow along the order, so the newest row sets the padded width
            if batches and len(batches[-1]) < self.batch_size and (len(batches[-1]) + 1) * lengths[i] <= MAX_BATCH_TOKENS:
                batches[-1].append(i)
            else:
                batches.append([i])
        return batches


def _feeds(encodings: list[Any]) -> dict[str, np.ndarray]:
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for row, enc in enumerate(encodings):
        n = len(enc.ids)
        ids[row, :n], mask[row, :n], types[row, :n] = enc.ids, enc.attention_mask, enc.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
