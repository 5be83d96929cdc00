"""RealTimeQA in LLM mode (SmolLM2 on llama.cpp): the same questions answered from the passages
the learned reader ranks and from the hand-tuned order, same scorer as bench/realtimeqa.py.

    python -m bench.llm_realtimeqa --stores DIR [--per-week 3]

DIR holds one store per week (as `python -m bench.realtimeqa --stores DIR` leaves them)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.common import weeks
from bench.injection import llama_server
from bench.realtimeqa import load_jsonl, right


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stores", type=Path, required=True)
    parser.add_argument("--per-week", type=int, default=3, help="questions per week (SmolLM2 takes seconds each)")
    args = parser.parse_args()
    from chatbot.service import NewsBot
    from newsbot.settings import load_settings
    from vectorstore.lock import release_store_lock

    tally = {"reader": [0, 0], "extractive order": [0, 0]}
    with llama_server(Path(tempfile.mkdtemp()) / "llama.log") as url:
        for week in weeks():
            settings = load_settings(data_dir=args.stores / week.name, llm_base_url=url, llm_max_tokens=160)
            bot = NewsBot(settings)
            reader = bot.reader
            for q in load_jsonl(week / "questions.jsonl")[: args.per_week]:
                as_of = (q.get("question_date") or "").replace("/", "-") or None
                for mode in tally:
                    bot.reader = reader if mode == "reader" else None
                    retrieved = bot.retrieve(q["question"], 4, as_of=as_of)
                    answer = bot.ask(q["question"], llm="local", retrieved=retrieved)
                    tally[mode][0] += right(answer.answer, q)
                    tally[mode][1] += 1
            release_store_lock(args.stores / week.name)
    print("| passages ranked by | questions | right (SmolLM2 answer) |\n|---|---|---|")
    for mode, (good, n) in tally.items():
        print(f"| {mode} | {n} | {good} ({good / max(1, n):.3f}) |")


if __name__ == "__main__":
    main()
