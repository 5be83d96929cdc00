"""Ingest throughput: newsbot (ONNX backend with its default int8 weights, and torch) vs raw model
encoding vs the LangChain tutorial pipeline.

All run in this one process on the same pages (the first 240 RealTimeQA pages by default), so the
ratios compare like with like. Prints a Markdown section; `bench/run.py` collects it.

    python -m bench.ingest [--limit 240] [--chunk-tokens 150 200 256]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.common import corpus_records


def run_newsbot(records: list[dict], data_dir: Path, backend: str = "onnx",
                chunk_tokens: int | None = None) -> tuple[float, float, dict, list[str]]:
    """Wall and CPU seconds (user + system, every thread) of the ingest, its summary, the embedded texts."""
    from ingest.pipeline import Ingestor, embedding_text
    from ingest.sources import record_to_doc
    from models.embeddings import NewsEmbeddings
    from newsbot.settings import load_settings
    from vectorstore.store import NewsStore

    settings = load_settings(data_dir=data_dir, embedding_backend=backend, chunk_tokens=chunk_tokens)
    embedder = NewsEmbeddings.from_settings(settings)
    embedder.embed_query("warm up")  # load the model outside the timed part, as for the raw encode
    store = NewsStore.from_settings(settings)
    ingestor = Ingestor(settings, store, embedder)
    start, cpu = time.perf_counter(), time.process_time()
    summary = ingestor.ingest_docs(record_to_doc(r, f"bench#{i}") for i, r in enumerate(records))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    texts = []
    for _, doc, meta in store.iter_all():
        from vectorstore.records import Article, Chunk

        art = Article(id="", title=meta.get("title", ""), text="", published=meta.get("published"))
        texts.append(embedding_text(art, Chunk("", "", 0, doc, 0, 0, 0)))
    return elapsed, cpu, summary.as_dict(), texts


def run_raw(texts: list[str], model_name: str, batch_size: int) -> tuple[float, float]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_name, device="cpu", local_files_only=True)
    model.encode(["warm up"])
    start, cpu = time.perf_counter(), time.process_time()
    model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
    return time.perf_counter() - start, time.process_time() - cpu


def run_tutorial(records: list[dict], model_name: str, data_dir: Path) -> tuple[float, float, int]:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    embeddings = HuggingFaceEmbeddings(model_name=model_name)
    embeddings.embed_query("warm up")
    start, cpu = time.perf_counter(), time.process_time()
    docs = [Document(page_content=r["body"], metadata={"title": r.get("title", "")}) for r in records]
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    store = Chroma.from_documents(splits, embeddings, persist_directory=str(data_dir))
    store.similarity_search("warm", k=4)
    return time.perf_counter() - start, time.process_time() - cpu, len(splits)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=240, help="the first N pages (default 240; 0: all)")
    parser.add_argument("--chunk-tokens", type=int, nargs="*", default=[],
                        help="also time newsbot (ONNX) ingests with these chunk sizes (tokens)")
    parser.add_argument("--repeat", type=int, default=1, help="run the comparison N times in turn; report the fastest")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from newsbot.settings import load_settings

    settings = load_settings()
    records = corpus_records(args.limit or None)
    sizes: dict[int, tuple[float, dict]] = {}
    runs: dict[str, list[tuple[float, float]]] = {"nb": [], "torch": [], "raw": [], "tut": []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.repeat):  # in turn, so that a busy spell on a shared machine hits every pipeline
            t_nb, c_nb, summary, texts = run_newsbot(records, Path(tmp) / f"nb{n}", "onnx")
            t_torch, c_torch, torch_summary, _ = run_newsbot(records, Path(tmp) / f"nb-torch{n}", "torch")
            t_raw, c_raw = run_raw(texts, settings.embedding_model, settings.embedding_batch_size)
            t_tut, c_tut, n_tut = run_tutorial(records, settings.embedding_model, Path(tmp) / f"tut{n}")
            for key, value in (("nb", (t_nb, c_nb)), ("torch", (t_torch, c_torch)), ("raw", (t_raw, c_raw)),
                               ("tut", (t_tut, c_tut))):
                runs[key].append(value)
        # the fastest of the repeats: the run least disturbed by other work
        (t_nb, c_nb), (t_torch, c_torch), (t_raw, c_raw), (t_tut, c_tut) = (min(runs[k]) for k in runs)
        for size in args.chunk_tokens:  # last, so they do not stand between the runs compared above
            t_size, c_size, size_summary, _ = run_newsbot(records, Path(tmp) / f"nb-{size}", "onnx", chunk_tokens=size)
            sizes[size] = (t_size, c_size, size_summary)
    chunks, tokens = summary["chunks"], summary["tokens"]
    assert torch_summary["chunks"] == chunks, (torch_summary, summary)
    result = {
        "pages": len(records), "chunks": chunks, "tokens": tokens,
        "newsbot_onnx_weights": "int8" if settings.onnx_quantize else "fp32", "newsbot_s": round(t_nb, 1),
        "newsbot_chunks_per_s": round(chunks / t_nb, 1), "newsbot_tokens_per_s": round(tokens / t_nb),
        "newsbot_torch_s": round(t_torch, 1), "torch_time_over_onnx": round(t_torch / t_nb, 3),
        "raw_encode_s": round(t_raw, 1), "raw_chunks_per_s": round(chunks / t_raw, 1),
        "ratio_to_raw_encode": round(t_raw / t_nb, 3), "tutorial_s": round(t_tut, 1), "tutorial_chunks": n_tut,
        "tutorial_time_over_newsbot": round(t_tut / t_nb, 3),
        "tutorial_time_over_newsbot_torch": round(t_tut / t_torch, 3),
        # CPU seconds (every thread): the figure a busy machine disturbs least
        "cpu_s_newsbot_onnx_torch_raw_tutorial": f"{c_nb:.0f} / {c_torch:.0f} / {c_raw:.0f} / {c_tut:.0f}",
        "tutorial_cpu_over_newsbot": round(c_tut / c_nb, 3),
    }
    for size, (t_size, c_size, size_summary) in sorted(sizes.items()):
        result[f"chunk_tokens_{size}"] = (f"{t_size:.1f} s ({c_size:.0f} s CPU), {size_summary['chunks']} chunks, "
                                          f"{size_summary['chunks'] / t_size:.1f} chunks/s")
    if args.json:
        print(json.dumps(result))
        return
    print("## Ingest throughput\n")
    print(f"{len(records)} RealTimeQA pages, one process, same machine, same run"
          f"{f', fastest of {args.repeat} runs in turn' if args.repeat > 1 else ''}. newsbot_s: the ONNX backend "
          "(default); newsbot_torch_s: the same ingest with sentence-transformers; raw_encode: sentence-transformers "
          "encoding newsbot's chunk texts alone; tutorial: the LangChain RAG tutorial pipeline "
          "(RecursiveCharacterTextSplitter 1000/200, HuggingFaceEmbeddings, Chroma).\n")
    print("| measure | value |\n|---|---|")
    for key, value in result.items():
        print(f"| {key} | {value} |")


if __name__ == "__main__":
    main()
