"""Sentence-transformers embeddings (MiniLM) on ONNX Runtime + `tokenizers`, with no torch at query time.

`export_onnx` turns a sentence-transformers folder into `model.onnx` (token embeddings) plus the
tokenizer and pooling configs; only it imports torch/transformers, and only when called.
`ensure_onnx` keeps those exports in a content-addressed cache (exporting in a child process, in a
temporary working folder), and `OnnxEmbeddings` runs them:
tokenize, batch by length, ONNX forward, mean pooling, L2 normalisation.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from models.onnx_runner import INPUT_NAMES, OnnxModelError, OnnxRunner, default_threads

__all__ = ["MANIFEST_FILE", "MODEL_FILE", "OnnxEmbeddings", "OnnxModelError", "default_threads", "ensure_onnx",
           "export_onnx"]

MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
# Bump when the export changes shape or contents, so caches made by older code are not reused.
# 2: traced with eager attention (the SDPA graph of version 1 was 1.4x slower on the same vectors).
# 3: int8 is quantised after ONNX Runtime's BERT fusions (QAttention), ~10% faster than quantising the plain graph.
EXPORT_VERSION = 3
OUTPUT_NAME = "token_embeddings"
# The files of a sentence-transformers folder that decide what an export contains.
_KEY_FILES = ("config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json", "tokenizer_config.json",
              "special_tokens_map.json", "vocab.txt")
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_POOLING_MODES = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max"}
_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"


# ---------------------------------------------------------------------------------------------
# reading a sentence-transformers folder


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OnnxModelError(f"{path}: file is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OnnxModelError(f"{path}: cannot be read as JSON ({exc})") from exc


def _require_dir(path: Path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise OnnxModelError(f"{path}: {what} does not exist")
    if not path.is_dir():
        raise OnnxModelError(f"{path}: {what} is not a directory")
    return path


def _pipeline_config(model_dir: Path) -> dict[str, Any]:
    """What runs around the transformer: max length, lowercasing, pooling mode, normalisation."""
    modules = _read_json(model_dir / "modules.json")
    if not isinstance(modules, list) or not modules:
        raise OnnxModelError(f"{model_dir / 'modules.json'}: expected a non-empty list of modules")
    kinds = [m.get("type", "") for m in modules]
    if kinds[0] != _TRANSFORMER or (len(kinds) > 1 and kinds[1] != _POOLING) or any(
            k not in (_POOLING, _NORMALIZE) for k in kinds[1:]):
        raise OnnxModelError(f"{model_dir}: unsupported module pipeline {kinds}; only Transformer, Pooling and "
                             "Normalize are implemented")
    if modules[0].get("path", ""):
        raise OnnxModelError(f"{model_dir}: the transformer must sit at the top of the folder")
    st_config = _read_json(model_dir / "sentence_bert_config.json")
    max_len = st_config.get("max_seq_length")
    if not isinstance(max_len, int) or max_len <= 0:
        raise OnnxModelError(f"{model_dir / 'sentence_bert_config.json'}: max_seq_length missing or invalid")
    pooling, dim = "mean", None
    if len(modules) > 1:
        pool_cfg = _read_json(model_dir / modules[1].get("path", "") / "config.json")
        modes = [name for key, name in _POOLING_MODES.items() if pool_cfg.get(key)]
        others = [k for k, v in pool_cfg.items() if k.startswith("pooling_mode") and v and k not in _POOLING_MODES]
        if len(modes) != 1 or others:
            raise OnnxModelError(f"{model_dir}: unsupported pooling {pool_cfg}; exactly one of mean/cls/max is")
        pooling, dim = modes[0], pool_cfg.get("word_embedding_dimension")
    return {"max_seq_length": max_len, "do_lower_case": bool(st_config.get("do_lower_case", False)),
            "pooling": pooling, "normalize": _NORMALIZE in kinds, "dimension": dim}


def _key_files(model_dir: Path) -> list[Path]:
    """The files whose contents define an export (weights, configs, tokenizer), sorted."""
    model_dir = _require_dir(model_dir, "model folder")
    weights = [model_dir / n for n in _WEIGHT_FILES if (model_dir / n).is_file()]
    if not weights:
        raise OnnxModelError(f"{model_dir}: no weights ({' or '.join(_WEIGHT_FILES)})")
    for name in ("config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json"):
        if not (model_dir / name).is_file():
            raise OnnxModelError(f"{model_dir}: {name} is missing")
    files = weights + [model_dir / n for n in _KEY_FILES if (model_dir / n).is_file()]
    files += [p for p in model_dir.glob("*_Pooling/config.json")]
    return sorted(set(files))


def _content_hash(model_dir: Path, quantize: bool) -> str:
    """Full sha256 (hex) over the names and contents of the key files, plus the export settings."""
    digest = hashlib.sha256(f"v{EXPORT_VERSION} int8={quantize}\n".encode())
    for path in _key_files(model_dir):
        digest.update(f"{path.relative_to(model_dir).as_posix()}\n".encode())
        with path.open("rb") as fh:
            digest.update(hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()


def _stat_key(model_dir: Path, quantize: bool) -> str:
    parts = [f"v{EXPORT_VERSION} int8={quantize} {Path(model_dir).resolve()}"]
    for path in _key_files(model_dir):
        st = path.stat()
        parts.append(f"{path.name} {st.st_size} {st.st_mtime_ns} {st.st_ino}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# export


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _export_into(model_dir: Path, work: Path, quantize: bool) -> dict[str, Any]:
    """Export into the (private) folder `work`; returns the manifest."""
    import torch  # heavy, and only needed here
    from transformers import AutoModel

    config = _pipeline_config(model_dir)
    started = time.perf_counter()
    from transformers.utils import logging as hf_logging

    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        # Eager attention traces to plain MatMul/Softmax, which ONNX Runtime fuses; the SDPA path
        # exports a masked graph it cannot fuse (same vectors, 1.4x slower on 256-token chunks).
        model = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager").eval()
    except (OSError, ValueError) as exc:
        raise OnnxModelError(f"{model_dir}: the transformer cannot be loaded ({exc})") from exc
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    wrapper = TokenEmbeddings(model).eval()
    # Trace with a padded row so the attention-mask path is part of the graph, not folded away.
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 7592, 102, 0, 0, 0]], dtype=torch.long)
    ids = ids.clamp(max=int(model.config.vocab_size) - 1)
    mask = (ids != 0).long()
    fp32_path = work / ("model_fp32.onnx" if quantize else MODEL_FILE)
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUT_NAMES, OUTPUT_NAME)}
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer notes
        torch.onnx.export(wrapper, (ids, mask, torch.zeros_like(ids)), str(fp32_path), dynamo=False,
                          input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME], dynamic_axes=axes,
                          opset_version=17, do_constant_folding=True)
    _check_export(wrapper, fp32_path, torch, int(model.config.vocab_size))
    if quantize:
        _quantize(fp32_path, work / MODEL_FILE, int(model.config.num_attention_heads), int(model.config.hidden_size))
        fp32_path.unlink()
    for name in ("tokenizer.json", "sentence_bert_config.json", "modules.json", "config.json"):
        shutil.copy2(model_dir / name, work / name)
    for pool_cfg in model_dir.glob("*_Pooling/config.json"):
        (work / pool_cfg.parent.name).mkdir(exist_ok=True)
        shutil.copy2(pool_cfg, work / pool_cfg.parent.name / "config.json")
    return {"export_version": EXPORT_VERSION, "source": str(Path(model_dir).resolve()),
            "content_sha256": _content_hash(model_dir, quantize), "quantized": quantize, "model_file": MODEL_FILE,
            "onnx_bytes": (work / MODEL_FILE).stat().st_size, "export_seconds": round(time.perf_counter() - started, 2),
            "torch": torch.__version__, **config}


def _quantize(fp32_path: Path, out: Path, heads: int, hidden: int) -> None:
    """int8 weights, quantised after fusing attention, layer norms and GELU into ONNX Runtime's BERT
    operators, so the attention runs as one quantised QAttention (the session fuses an fp32 graph by
    itself, but not one whose MatMuls are already quantised)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    fused_path = fp32_path.with_name("model_fused.onnx")
    optimize_model(str(fp32_path), model_type="bert", num_heads=heads, hidden_size=hidden,
                   opt_level=1).save_model_to_file(str(fused_path))
    # Per-channel weights: on MiniLM per-tensor int8 drops the min cosine to fp32 to ~0.88, per-channel ~0.97.
    quantize_dynamic(str(fused_path), str(out), weight_type=QuantType.QInt8, per_channel=True,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})  # for the fused ops' outputs
    fused_path.unlink()


def _check_export(wrapper: Any, onnx_path: Path, torch: Any, vocab_size: int) -> None:
    """Run the new graph on a shape it was not traced with (longer, more rows, padding) against torch."""
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    ids = rng.integers(min(1000, vocab_size // 2), vocab_size, size=(3, 11), dtype=np.int64)
    mask = np.ones_like(ids)
    mask[1, 7:] = 0
    mask[2, 3:] = 0
    ids[mask == 0] = 0
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_NAME], feeds)[0]
    with torch.no_grad():
        want = wrapper(*(torch.from_numpy(feeds[n]) for n in INPUT_NAMES)).numpy()
    diff = float(np.abs((got - want) * mask[..., None]).max())
    if diff > 1e-3:
        raise OnnxModelError(f"{onnx_path}: the exported graph disagrees with torch (max abs diff {diff:.2g})")


def export_onnx(model_dir: Path, out_dir: Path, quantize: bool = False) -> Path:
    """Export a sentence-transformers folder to `out_dir` (model.onnx + tokenizer + pooling configs).

    The export is built in a temporary sibling folder and renamed into place, so `out_dir` is either
    absent or complete. `out_dir` must not exist yet. `quantize` stores int8 dynamic-quantised weights.
    Needs torch, transformers and onnx (imported here only).
    """
    model_dir, out_dir = _require_dir(Path(model_dir), "model folder"), Path(out_dir)
    _key_files(model_dir)  # fail on a missing file before importing torch
    _pipeline_config(model_dir)
    import importlib.util

    for module, package in (("torch", "torch"), ("transformers", "transformers"), ("onnx", "onnx")):
        if importlib.util.find_spec(module) is None:
            raise OnnxModelError(f"exporting {model_dir} to ONNX needs the {package} package (pip install {package})")
    if out_dir.exists():
        raise OnnxModelError(f"{out_dir}: already exists; export_onnx writes a new folder only")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.tmp-"))
    try:
        manifest = _export_into(model_dir, work, quantize)
        # written last: a manifest marks a whole export
        _write_atomic(work / MANIFEST_FILE, json.dumps(manifest, indent=2, sort_keys=True))
        _make_readable(work)
        os.rename(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out_dir


def export_in_child(model_dir: Path, out_dir: Path, quantize: bool = False, timeout: float = 1800) -> Path:
    """`export_onnx` in a child Python whose working folder is a fresh temporary one, removed after.

    So torch and transformers never load into the calling process (a server stays small), and
    whatever the exporters write beside themselves (onnxruntime's shape inference saves
    `sym_shape_infer_temp.onnx` + a `<uuid>.data` into the working folder when it gives up)
    never lands in the caller's folder. An `OnnxModelError` in the child is raised here with its message.
    """
    import subprocess
    import sys

    model_dir, out_dir = Path(model_dir).resolve(), Path(out_dir).resolve()
    _key_files(model_dir)  # the usual errors, at once and without a child
    _pipeline_config(model_dir)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    package_root = str(Path(__file__).resolve().parents[1])  # so `-m models.onnx_embeddings` resolves from any cwd
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    args = [sys.executable, "-m", "models.onnx_embeddings", str(model_dir), str(out_dir), *["--int8"] * quantize]
    with tempfile.TemporaryDirectory(prefix="newsbot-onnx-export-") as cwd:
        try:
            done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise OnnxModelError(f"{model_dir}: the ONNX export took more than {timeout:.0f} s") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        prefix = "OnnxModelError: "
        message = next((line[len(prefix):] for line in reversed(lines) if line.startswith(prefix)), None)
        raise OnnxModelError(message or f"{model_dir}: the ONNX export failed ({lines[-1] if lines else done.returncode})")
    return out_dir


def _make_readable(folder: Path) -> None:
    """mkdtemp/mkstemp create 0700/0600 entries; a cache may be shared with other users of the machine."""
    for path in [folder, *folder.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


# ---------------------------------------------------------------------------------------------
# cache


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An advisory inter-process lock, so a racing process waits instead of exporting the same model twice."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): the atomic rename alone keeps the cache consistent
        yield
        return
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _is_complete(export_dir: Path) -> bool:
    try:
        manifest = json.loads((export_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return manifest.get("export_version") == EXPORT_VERSION and (export_dir / manifest.get("model_file", "")).is_file()


def ensure_onnx(model_dir: Path, cache_root: Path, quantize: bool = False) -> Path:
    """Return the cached export of `model_dir` under `cache_root`, exporting it first if missing.

    Exports are keyed by a sha256 over the model's weight, config and tokenizer contents. The content
    key is remembered per (path, size, mtime, inode) of those files, so an unchanged model costs a few
    `stat` calls, not a 90 MB hash. Safe for racing processes: one exports, the others wait and reuse it.
    The export runs in a child process (`export_in_child`): this process never imports torch.
    """
    model_dir, cache_root = Path(model_dir), Path(cache_root)
    stat_key = _stat_key(model_dir, quantize)
    index = cache_root / "index" / stat_key
    with contextlib.suppress(OSError):
        known = cache_root / index.read_text(encoding="utf-8").strip()
        if known.name and _is_complete(known):
            return known
    target = cache_root / f"{_content_hash(model_dir, quantize)[:16]}-{'int8' if quantize else 'fp32'}"
    if not _is_complete(target):
        cache_root.mkdir(parents=True, exist_ok=True)
        with _locked(cache_root / f".{target.name}.lock"):
            if not _is_complete(target):
                if target.exists():  # a folder without a valid manifest: not ours to trust, move it aside
                    trash = Path(tempfile.mkdtemp(dir=cache_root, prefix=f".{target.name}.stale-"))
                    os.rename(target, trash / "old")
                    shutil.rmtree(trash, ignore_errors=True)
                try:
                    export_in_child(model_dir, target, quantize)
                except (OSError, OnnxModelError):
                    if not _is_complete(target):  # lost a race with a process that had no lock support
                        raise
    index.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(index, target.name)
    os.chmod(index, 0o644)
    return target


# ---------------------------------------------------------------------------------------------
# runtime

class OnnxEmbeddings(Embeddings):
    """Normalised sentence embeddings from an `export_onnx` folder; session and tokenizer load on first use.

    Texts are sorted by token count and batched so each batch pads only to its own longest text;
    the vectors come back in the input order.
    """

    def __init__(self, model_dir: str | Path, batch_size: int = 32, threads: int | None = None) -> None:
        self.model_dir = _require_dir(Path(model_dir), "ONNX export folder")
        if not (self.model_dir / MODEL_FILE).is_file():
            raise OnnxModelError(f"{self.model_dir}: {MODEL_FILE} is missing (make it with export_onnx/ensure_onnx)")
        if not (self.model_dir / "tokenizer.json").is_file():
            raise OnnxModelError(f"{self.model_dir}: tokenizer.json is missing")
        self.config = _pipeline_config(self.model_dir)
        self.runner = OnnxRunner(self.model_dir / MODEL_FILE, self.model_dir / "tokenizer.json",
                                 self.config["max_seq_length"], OUTPUT_NAME, batch_size, threads)

    @property
    def load_seconds(self) -> float | None:
        return self.runner.load_seconds

    def load(self) -> float:
        """Load the tokenizer and the ONNX session now instead of on first use; returns the seconds taken."""
        return self.runner.load()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts; the result is in the input order."""
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query text."""
        return self.encode([text])[0].tolist()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts to a float32 array of shape (len(texts), dimension), rows in the input order."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.config.get("dimension") or 0), dtype=np.float32)
        if self.config["do_lower_case"]:
            texts = [t.lower() for t in texts]
        out: np.ndarray | None = None
        for rows, tokens, mask in self.runner.run(texts):
            vectors = self._pool(tokens, mask)
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
        assert out is not None
        return out

    def _pool(self, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        pooling = self.config["pooling"]
        if pooling == "mean":
            weights = mask[..., None].astype(np.float32)
            vectors = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        elif pooling == "cls":
            vectors = tokens[:, 0]
        else:  # max over real tokens, as sentence-transformers does it
            vectors = np.where(mask[..., None] > 0, tokens, -1e9).max(axis=1)
        vectors = vectors.astype(np.float32, copy=False)
        if self.config["normalize"]:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors


def _main(argv: list[str] | None = None) -> int:
    """`python -m models.onnx_embeddings MODEL_DIR OUT_DIR [--int8]`: one export (what `export_in_child` runs)."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    quantize = "--int8" in args
    args = [a for a in args if a != "--int8"]
    if len(args) != 2:
        print("usage: python -m models.onnx_embeddings MODEL_DIR OUT_DIR [--int8]", file=sys.stderr)
        return 2
    try:
        print(export_onnx(Path(args[0]), Path(args[1]), quantize))
    except OnnxModelError as exc:
        print(f"OnnxModelError: {exc}".replace("\n", " "), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
