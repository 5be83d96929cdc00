"""The short answer on an answer's first line ("93 [1]"), on the RealTimeQA questions that ask for one
number, date or person (how many / how much / when / who).

A lead line is right when it singles out the gold choice (holds it and no other, the benchmark's rule,
or is the part of it no other choice holds: "45" for "45 days"), wrong when it gives anything else.

- Dev (`--stores DIR`): each question asked of its week's own store, as `ask` answers it (learned
  reader on); the store is built first when the folder is empty.
- Sentences (`--sentences`): the training weeks' pages, no store needed: every sentence holding the
  gold choice and at least one other candidate of the asked type, given to `short_answer` alone; also
  the part of them that carry at least 40% of the question's words, as a sentence an answer leads with
  does. The lead line's weights were tuned on these, never on dev.

Written against APIs the base checkout has too, so "before" is the same script run there, from a copy
outside both checkouts (run from bench/, `import ingest` would find bench/ingest.py):

    python -m bench.lead_line --stores DIR [--sentences]
    cp bench/lead_line.py /tmp/ && cd ../base && PYTHONPATH=. python /tmp/lead_line.py --stores DIR [--sentences]"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from pathlib import Path

from bench.common import SHARED, weeks
from bench.realtimeqa import load_jsonl, right

_LEAD = re.compile(r"^(?P<lead>[^\n]+) \[1\]\n\n")


def asks_for_one(question: str) -> bool:
    """A question whose answer is one number, date or person."""
    from chatbot.question import analyse, question_type

    info = analyse(question)
    return info.wants_number or info.wants_date or question_type(question) in ("number", "date", "who")


def lead_of(answer: str) -> str | None:
    m = _LEAD.match(answer)
    return m.group("lead") if m else None


def verdict(lead: str | None, q: dict) -> str:
    """Right when the lead line singles out the gold choice: holds it and no other ("93"), or is the part
    of it no other choice holds ("45" for "45 days" against "30 days", "Joe Biden" for "President Joe Biden")."""
    from newsbot.evaluation.scorer import contains

    if lead is None:
        return "none"
    others = [c for c in q["choices"] if c != q["gold"]]
    part = contains(q["gold"], lead) and not any(contains(c, lead) for c in others)
    return "right" if right(lead, q) or part else "wrong"


def dev(stores: Path) -> dict[str, int]:
    from chatbot.service import NewsBot
    from ingest.pipeline import Ingestor
    from ingest.sources import record_to_doc
    from newsbot.settings import load_settings
    from vectorstore.lock import release_store_lock

    counts = {"questions": 0, "right": 0, "wrong": 0, "none": 0, "answer right": 0}
    for week in weeks():
        asked = [q for q in load_jsonl(week / "questions.jsonl") if asks_for_one(q["question"])]
        if not asked:
            continue
        settings = load_settings(data_dir=stores / week.name)
        bot = NewsBot(settings)
        if bot.store.count() == 0:
            records = load_jsonl(week / "corpus.jsonl")
            Ingestor(settings, bot.store, bot.embedder).ingest_docs(
                record_to_doc(r, f"{week.name}#{i}") for i, r in enumerate(records))
            bot.retriever.invalidate()
        for q in asked:
            as_of = (q.get("question_date") or "").replace("/", "-") or None
            answer = bot.ask(q["question"], retrieved=bot.retrieve(q["question"], 10, as_of=as_of))
            lead = lead_of(answer.answer)
            counts["questions"] += 1
            counts[verdict(lead, q)] += 1
            counts["answer right"] += right(answer.answer, q)
            print(f"  {q['question_id']:12} {verdict(lead, q):5} lead={lead!r} gold={q['gold']!r}")
        release_store_lock(settings.data_dir)
    return counts


def _candidates(info, sentence: str) -> int:  # noqa: ANN001 - a chatbot.question.QuestionInfo
    from chatbot.presentation import _DATE, _NUMBER, question_type
    from text.names import person_names

    if info.wants_number or question_type(info.text) == "number":
        return len(_NUMBER.findall(sentence))
    if info.wants_date or question_type(info.text) == "date":
        return len(_DATE.findall(sentence))
    return len(person_names(sentence))


def sentences() -> dict[str, object]:
    from chatbot.presentation import calm_capitals, short_answer
    from chatbot.question import analyse
    from newsbot.evaluation.scorer import contains
    from text.sentences import split_sentences
    from vectorstore.indexes import tokenize

    asking = set(tokenize(["what who when where why how many much did does do is are was were which this week "
                           "recently"])[0])
    counts = {"questions": 0, "sentences": 0, "right": 0, "wrong": 0, "none": 0}
    covered = {"sentences": 0, "right": 0, "wrong": 0, "none": 0}
    for week in sorted((SHARED / "data" / "realtimeqa-train").iterdir()):
        questions = {q["question_id"]: q for q in load_jsonl(week / "questions.jsonl") if asks_for_one(q["question"])}
        if not questions or not (week / "corpus.jsonl.gz").exists():
            continue
        seen: set[tuple[str, str]] = set()
        with gzip.open(week / "corpus.jsonl.gz", "rt", encoding="utf-8") as pages:
            for line in pages:
                page = json.loads(line)
                for qid in page.get("question_ids") or []:
                    q = questions.get(qid)
                    if q is None:
                        continue
                    info = analyse(q["question"])
                    for sentence in split_sentences(page.get("body") or ""):
                        if (qid, sentence) in seen or not contains(sentence, q["gold"]) or \
                                _candidates(info, sentence) < 2:
                            continue
                        seen.add((qid, sentence))
                        said = verdict(short_answer(info, calm_capitals(sentence)), q)
                        counts["sentences"] += 1
                        counts[said] += 1
                        terms = set(tokenize([q["question"]])[0]) - asking
                        if terms and len(terms & set(tokenize([sentence])[0])) >= 0.4 * len(terms):
                            covered["sentences"] += 1
                            covered[said] += 1
        counts["questions"] += len({qid for qid, _ in seen})
    return {**counts, "carrying 40% of the question's words": covered}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stores", type=Path, help="per-week stores (built here when empty)")
    parser.add_argument("--sentences", action="store_true", help="also the training weeks' sentences")
    args = parser.parse_args()
    if args.stores:
        print("dev, asked of each week's store:", json.dumps(dev(args.stores)))
    if args.sentences:
        print("training weeks' sentences with the gold and another candidate:", json.dumps(sentences()))


if __name__ == "__main__":
    main()
