"""RealTimeQA, one store per week: newsbot vs the LangChain tutorial pipeline vs published LLMs.

Scorer (the benchmark's own rule): an answer is right when it contains the gold choice and no
other choice. Also: answer recall@4 (gold inside one of the top-4 passages) and abstention.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.common import p50_p95, weeks
from chatbot.evaluation import contains


def right(answer: str, q: dict) -> bool:
    others = [c for c in q["choices"] if c != q["gold"] and not contains(q["gold"], c)]
    return contains(answer, q["gold"]) and not any(contains(answer, c) for c in others)


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def newsbot_week(week: Path, data_dir: Path) -> tuple[list[dict], list[float]]:
    from chatbot.service import NewsBot
    from ingest.sources import record_to_doc
    from newsbot.settings import load_settings
    from vectorstore.lock import release_store_lock

    settings = load_settings(data_dir=data_dir)
    bot = NewsBot(settings)
    if bot.store.count() == 0:
        from ingest.pipeline import Ingestor

        records = load_jsonl(week / "corpus.jsonl")
        docs = (record_to_doc(r, f"{week.name}#{i}") for i, r in enumerate(records))
        Ingestor(settings, bot.store, bot.embedder).ingest_docs(docs)
        bot.retriever.invalidate()
    bot.warm_up()
    rows, times = [], []
    for q in load_jsonl(week / "questions.jsonl"):
        start = time.perf_counter()
        retrieved = bot.retrieve(q["question"], 10, as_of=q.get("question_date"))
        answer = bot.ask(q["question"], retrieved=retrieved)
        times.append((time.perf_counter() - start) * 1000)
        rows.append({"right": right(answer.answer, q), "abstained": answer.abstained,
                     "recall4": any(contains(p.text, q["gold"]) for p in retrieved.passages[:4])})
    release_store_lock(data_dir)
    return rows, times


def tutorial_week(week: Path, model_name: str) -> list[dict]:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    embeddings = HuggingFaceEmbeddings(model_name=model_name)
    docs = [Document(page_content=r["body"]) for r in load_jsonl(week / "corpus.jsonl")]
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    store = Chroma.from_documents(splits, embeddings, collection_name=f"tut{week.name}")
    rows = []
    for q in load_jsonl(week / "questions.jsonl"):
        top = store.similarity_search(q["question"], k=4)
        rows.append({"right": bool(top) and right(top[0].page_content, q), "abstained": False,
                     "recall4": any(contains(d.page_content, q["gold"]) for d in top)})
    store.delete_collection()
    return rows


def baselines() -> dict[str, list[bool]]:
    scores: dict[str, list[bool]] = {}
    for week in weeks():
        questions = {q["question_id"]: q for q in load_jsonl(week / "questions.jsonl")}
        for b in load_jsonl(week / "baselines.jsonl"):
            q = questions.get(b["question_id"])
            if q:
                scores.setdefault(b["model"], []).append(right(str(b.get("prediction", "")), q))
    return scores


def _rate(rows: list[dict], key: str) -> float:
    return round(sum(r[key] for r in rows) / len(rows), 3) if rows else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stores", type=Path, default=None, help="reuse per-week stores under this folder")
    parser.add_argument("--no-tutorial", action="store_true")
    args = parser.parse_args()
    from newsbot.settings import load_settings

    model = load_settings().embedding_model
    root = args.stores or Path(tempfile.mkdtemp(prefix="rtqa-"))
    ours, tut, times = [], [], []
    for week in weeks():
        rows, t = newsbot_week(week, root / week.name)
        ours += rows
        times += t
        if not args.no_tutorial:
            tut += tutorial_week(week, model)
    print("## RealTimeQA (10 weeks, one store per week)\n")
    print(f"{len(ours)} questions; right = gold choice in the answer and no other choice.\n")
    print("| system | accuracy | answer recall@4 | abstention |\n|---|---|---|---|")
    print(f"| newsbot (extractive, offline) | {_rate(ours, 'right')} | {_rate(ours, 'recall4')} | {_rate(ours, 'abstained')} |")
    if tut:
        print(f"| LangChain tutorial (top chunk as answer, k=4) | {_rate(tut, 'right')} | {_rate(tut, 'recall4')} | 0.0 |")
    for name, marks in sorted(baselines().items()):
        print(f"| {name} (published, LLM + web search) | {round(sum(marks) / len(marks), 3)} | – | – |")
    p50, p95 = p50_p95(sorted(times))
    print(f"\nnewsbot retrieve+answer per question: p50 {p50} ms, p95 {p95} ms")


if __name__ == "__main__":
    main()
