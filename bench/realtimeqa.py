"""RealTimeQA, one store per week: newsbot vs the LangChain tutorial pipeline vs published LLMs.

Scorer (the benchmark's own rule): an answer is right when it contains the gold choice and no
other choice. Also: answer recall@4 (gold inside one of the top-4 passages) and abstention, overall
and on the questions whose gold answer appears verbatim somewhere in the week's pages (on the others
no system reading only those pages can be right, and abstaining is the honest answer).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.common import p50_p95, weeks
from newsbot.evaluation.scorer import contains


def right(answer: str, q: dict) -> bool:
    others = [c for c in q["choices"] if c != q["gold"] and not contains(q["gold"], c)]
    return contains(answer, q["gold"]) and not any(contains(answer, c) for c in others)


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def in_pages(week: Path) -> dict[str, bool]:
    """question_id -> does the gold answer appear in any of the week's pages?"""
    bodies = [f"{r.get('title', '')}\n{r.get('body', '')}" for r in load_jsonl(week / "corpus.jsonl")]
    return {q["question_id"]: any(contains(b, q["gold"]) for b in bodies) for q in load_jsonl(week / "questions.jsonl")}


def newsbot_week(week: Path, data_dir: Path) -> dict[str, tuple[list[dict], list[float]]]:
    """Per mode ("extractive": the lexical scorer; "reader": the neural reader, when it is on), rows and times."""
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
    answerable = in_pages(week)
    reader = bot.reader
    runs: dict[str, tuple[list[dict], list[float]]] = {}
    for mode in ("reader", "extractive") if reader is not None else ("extractive",):
        bot.reader = reader if mode == "reader" else None
        rows, times = [], []
        for q in load_jsonl(week / "questions.jsonl"):
            as_of = (q.get("question_date") or "").replace("/", "-") or None  # the benchmark writes 2026/01/22
            start = time.perf_counter()
            retrieved = bot.retrieve(q["question"], 10, as_of=as_of)
            answer = bot.ask(q["question"], retrieved=retrieved)
            times.append((time.perf_counter() - start) * 1000)
            rows.append({"right": right(answer.answer, q), "abstained": answer.abstained,
                         "recall4": any(contains(p.text, q["gold"]) for p in retrieved.passages[:4]),
                         "in_pages": answerable[q["question_id"]]})
        runs[mode] = (rows, times)
    release_store_lock(data_dir)
    return runs


def tutorial_week(week: Path, model_name: str) -> list[dict]:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    embeddings = HuggingFaceEmbeddings(model_name=model_name)
    docs = [Document(page_content=r["body"]) for r in load_jsonl(week / "corpus.jsonl")]
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    store = Chroma.from_documents(splits, embeddings, collection_name=f"tut{week.name}")
    answerable = in_pages(week)
    rows = []
    for q in load_jsonl(week / "questions.jsonl"):
        top = store.similarity_search(q["question"], k=4)
        rows.append({"right": bool(top) and right(top[0].page_content, q), "abstained": False,
                     "recall4": any(contains(d.page_content, q["gold"]) for d in top),
                     "in_pages": answerable[q["question_id"]]})
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
    modes: dict[str, tuple[list[dict], list[float]]] = {"reader": ([], []), "extractive": ([], [])}
    tut: list[dict] = []
    for week in weeks():
        for mode, (rows, t) in newsbot_week(week, root / week.name).items():
            modes[mode][0].extend(rows)
            modes[mode][1].extend(t)
        if not args.no_tutorial:
            tut += tutorial_week(week, model)
    systems = {"newsbot, lexical scorer (NEWSBOT_READER=false, the default)": modes["extractive"][0]}
    if modes["reader"][0]:
        systems["newsbot, neural reader (NEWSBOT_READER=true)"] = modes["reader"][0]
    if tut:
        systems["LangChain tutorial (top chunk as answer, k=4)"] = tut
    ours = modes["extractive"][0]
    print("## RealTimeQA (10 weeks, one store per week)\n")
    print(f"{len(ours)} questions; right = gold choice in the answer and no other choice.\n")
    _table(systems)
    for name, marks in sorted(baselines().items()):
        print(f"| {name} (published, LLM + web search) | {round(sum(marks) / len(marks), 3)} | – | – |")
    found = {name: [r for r in rows if r["in_pages"]] for name, rows in systems.items()}
    print(f"\nThe gold answer appears verbatim in the week's pages for {len(found[next(iter(found))])} of {len(ours)} "
          f"questions (the ceiling for a system that reads only them: {_rate(ours, 'in_pages')}). On those:\n")
    _table(found)
    for name, rows in systems.items():
        missing = [r for r in rows if not r["in_pages"]]
        print(f"\n{name}: abstained on {sum(r['abstained'] for r in missing)} of the {len(missing)} questions "
              "the pages cannot answer.", end="")
    print()
    for mode, (_, times) in modes.items():
        if not times:
            continue
        p50, p95 = p50_p95(sorted(times))
        print(f"\nnewsbot ({mode}) retrieve+answer per question: p50 {p50} ms, p95 {p95} ms", end="")
    print()


def _table(systems: dict[str, list[dict]]) -> None:
    print("| system | accuracy | answer recall@4 | abstention |\n|---|---|---|---|")
    for name, rows in systems.items():
        print(f"| {name} | {_rate(rows, 'right')} | {_rate(rows, 'recall4')} | {_rate(rows, 'abstained')} |")

if __name__ == "__main__":
    main()
