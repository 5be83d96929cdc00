"""Ingest throughput: newsbot (ONNX backend, the default, and torch) vs raw model encoding vs the
LangChain tutorial pipeline.

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
                chunk_tokens: int | None = None) -> tuple[float, dict, list[str]]:
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
    start = time.perf_counter()
    summary = ingestor.ingest_docs(record_to_doc(r, f"bench#{i}") for i, r in enumerate(records))
    elapsed = time.perf_counter() - start
    texts = []
    for _, doc, meta in store.iter_all():
        from vectorstore.records import Article, Chunk

        art = Article(id="", title=meta.get("title", ""), text="", published=meta.get("published"))
        texts.append(embedding_text(art, Chunk("", "", 0, doc, 0, 0, 0)))
    return elapsed, summary.as_dict(), texts


def run_raw(texts: list[str], model_name: str, batch_size: int) -> float:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_name, device="cpu", local_files_only=True)
    model.encode(["warm up"])
    start = time.perf_counter()
    model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
    return time.perf_counter() - start


def run_tutorial(records: list[dict], model_name: str, data_dir: Path) -> tuple[float, int]:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    embeddings = HuggingFaceEmbeddings(model_name=model_name)
    embeddings.embed_query("warm up")
    start = time.perf_counter()
    docs = [Document(page_content=r["body"], metadata={"title": r.get("title", "")}) for r in records]
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    store = Chroma.from_documents(splits, embeddings, persist_directory=str(data_dir))
    store.similarity_search("warm", k=4)
    return time.perf_counter() - start, len(splits)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=240, help="the first N pages (default 240; 0: all)")
    parser.add_argument("--chunk-tokens", type=int, nargs="*", default=[],
                        help="also time newsbot (ONNX) ingests with these chunk sizes (tokens)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from newsbot.settings import load_settings

    settings = load_settings()
    records = corpus_records(args.limit or None)
    sizes: dict[int, tuple[float, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        t_nb, summary, texts = run_newsbot(records, Path(tmp) / "nb", "onnx")
        t_torch, torch_summary, _ = run_newsbot(records, Path(tmp) / "nb-torch", "torch")
        for size in args.chunk_tokens:
            t_size, size_summary, _ = run_newsbot(records, Path(tmp) / f"nb-{size}", "onnx", chunk_tokens=size)
            sizes[size] = (t_size, size_summary)
        t_raw = run_raw(texts, settings.embedding_model, settings.embedding_batch_size)
        t_tut, n_tut = run_tutorial(records, settings.embedding_model, Path(tmp) / "tut")
    chunks, tokens = summary["chunks"], summary["tokens"]
    assert torch_summary["chunks"] == chunks, (torch_summary, summary)
    result = {
        "pages": len(records), "chunks": chunks, "tokens": tokens, "newsbot_s": round(t_nb, 1),
        "newsbot_chunks_per_s": round(chunks / t_nb, 1), "newsbot_tokens_per_s": round(tokens / t_nb),
        "newsbot_torch_s": round(t_torch, 1), "torch_time_over_onnx": round(t_torch / t_nb, 3),
        "raw_encode_s": round(t_raw, 1), "raw_chunks_per_s": round(chunks / t_raw, 1),
        "ratio_to_raw_encode": round(t_raw / t_nb, 3), "tutorial_s": round(t_tut, 1), "tutorial_chunks": n_tut,
        "tutorial_time_over_newsbot": round(t_tut / t_nb, 3),
        "tutorial_time_over_newsbot_torch": round(t_tut / t_torch, 3),
    }
    for size, (t_size, size_summary) in sorted(sizes.items()):
        result[f"chunk_tokens_{size}"] = (f"{t_size:.1f} s, {size_summary['chunks']} chunks, "
                                          f"{size_summary['chunks'] / t_size:.1f} chunks/s")
    if args.json:
        print(json.dumps(result))
        return
    print("## Ingest throughput\n")
    print(f"{len(records)} RealTimeQA pages, one process, same machine, same run. newsbot_s: the ONNX backend "
          "(default); newsbot_torch_s: the same ingest with sentence-transformers; raw_encode: sentence-transformers "
          "encoding newsbot's chunk texts alone; tutorial: the LangChain RAG tutorial pipeline "
          "(RecursiveCharacterTextSplitter 1000/200, HuggingFaceEmbeddings, Chroma).\n")
    print("| measure | value |\n|---|---|")
    for key, value in result.items():
        print(f"| {key} | {value} |")


if __name__ == "__main__":
    main()
