"""The derived BM25 and quote indexes follow writes by what changed, on a real Chroma store on disk:
each catch-up ends equal to a full rebuild, a question never waits for a catch-up, a delete killed
between its tombstones and the delete loses nothing, and a damaged saved index is rebuilt."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from tests.conftest import SEED_FILE, json_lines, ok, run_cli, story, write_jsonl
from vectorstore import indexes
from vectorstore.indexes import DerivedIndexes

QUOTED = ("Mayor Alma Quennell said the harbour would reopen. \"We will open the quays to ferries by "
          "Friday,\" Quennell said. Inspectors had found the sea wall sound after the storm.")


def view(index: DerivedIndexes) -> dict[str, Any]:
    """What a reader can tell of an index: every chunk's indexed version, words, quotes, outlets."""
    return {"versions": index.lexical.versions(), "doc_freq": dict(index.doc_freq),
            "quotes": {k: sorted((q.speaker, q.text, q.chunk_id) for q in v) for k, v in index.quotes.items()},
            "outlets": index.outlets(), "chunks": index.n_chunks, "articles": index.n_articles}


def records(tag: str, n: int) -> list[dict[str, Any]]:
    return [{"title": f"{tag} harbour story {i}", "body": story(f"{tag}ville {i}", 6, i) + "\n" + QUOTED,
             "url": f"https://{tag.lower()}.example/{i}", "source": f"{tag} Post", "published_at": "2025-03-0" + str(i % 9 + 1)}
            for i in range(n)]


def test_each_catch_up_equals_a_full_rebuild(open_store, tmp_path: Path) -> None:
    handle = open_store()
    handle.ingest(SEED_FILE, write_jsonl(tmp_path / "a.jsonl", records("Marrow", 6)))
    bot = handle.bot()
    start = view(bot.retriever.index)
    assert start["quotes"].get("Alma Quennell") and "Marrow Post" in start["outlets"]

    steps = {
        "more articles": lambda: handle.ingest(write_jsonl(tmp_path / "b.jsonl", records("Pellow", 4))),
        "a changed article": lambda: handle.ingest(write_jsonl(tmp_path / "c.jsonl", [
            {**records("Marrow", 1)[0], "body": story("Marrowville 0", 2, 0) + "\nThe Zanzibarite ferry sailed again."}])),
        "the same story from another outlet": lambda: handle.ingest(write_jsonl(tmp_path / "d.jsonl", [
            {**records("Pellow", 2)[1], "url": "https://wire.example/p1", "source": "Wire Copy"}])),
        "deleted articles": lambda: handle.store.delete_articles(
            [a.id for a in handle.store.articles() if a.source == "Pellow Post"][:2]),
    }
    for step, write in steps.items():
        write()
        caught_up = view(bot.retriever.catch_up())
        rebuilt = view(indexes.build(handle.store, tmp_path / f"rebuilt-{len(step)}"))
        assert caught_up == rebuilt, step
        assert caught_up["chunks"] == handle.store.count(), step
    assert "Wire Copy" in caught_up["outlets"]
    index = bot.retriever.index
    assert index.lexical_top("Zanzibarite ferry", 1)[0].meta["title"] == "Marrow harbour story 0"
    assert all(q.chunk_id in index.row_of for q in index.quotes["Alma Quennell"])


def test_a_question_is_answered_while_the_index_catches_up(open_store, tmp_path: Path) -> None:
    """The catch-up holds its own lock; the question reads the snapshot in use and does not wait."""
    handle = open_store()
    handle.ingest(SEED_FILE)
    bot = handle.bot()
    assert bot.retriever.index.n_chunks
    handle.ingest(write_jsonl(tmp_path / "a.jsonl", records("Tarrant", 3)))
    answered: list[Any] = []
    with bot.retriever.keeper._lock:  # a catch-up in progress (it holds this lock while it applies writes)
        asker = threading.Thread(target=lambda: answered.append(bot.ask("What did Macron say about troops?")))
        asker.start()
        asker.join(timeout=120)
        assert answered, "the question waited for the catch-up"
    assert "American backup" in answered[0].answer
    assert not bot.retriever.index.lexical_top("Tarrantville", 1)  # answered from the snapshot held
    assert bot.retriever.catch_up().lexical_top("Tarrantville", 1)


def test_a_delete_killed_after_its_tombstones_keeps_the_chunks(open_store, tmp_path: Path) -> None:
    handle = open_store()
    handle.ingest(SEED_FILE, write_jsonl(tmp_path / "a.jsonl", records("Elsey", 2)))
    bot = handle.bot()
    before = view(bot.retriever.index)
    victim = next(a for a in handle.store.articles() if a.source == "Elsey Post")
    ids = [p.chunk_id for p in handle.store.article_chunks(victim.id)]
    seq = handle.store.bump_generation()  # what delete_chunks writes before its delete, and no more
    handle.store.tombstones.upsert(ids=ids, metadatas=[{"seq": seq}] * len(ids), embeddings=[[1.0]] * len(ids))
    assert view(bot.retriever.catch_up()) == before
    assert handle.store.delete_article(victim.id) == len(ids)  # the rerun of the delete
    after = bot.retriever.catch_up()
    assert after.n_chunks == before["chunks"] - len(ids) and not set(ids) & set(after.ids)


def test_a_damaged_or_missing_saved_index_is_rebuilt(seeded_copy: Path) -> None:
    question = "Nebenzia step in the right direction"
    index_dir = seeded_copy / "index"
    ok(run_cli("retrieve", question, "--json", data_dir=seeded_copy))  # saves the index
    version = (index_dir / "current").read_text()
    (index_dir / version / "tantivy" / "meta.json").write_text("{not json")
    first = json_lines(ok(run_cli("retrieve", question, "--json", data_dir=seeded_copy)).stdout)[0]
    assert "Nebenzia" in first["results"][0]["text"]
    assert (index_dir / "current").read_text() != version and not (index_dir / version).exists()
    (index_dir / "current").unlink()
    again = json_lines(ok(run_cli("retrieve", question, "--json", data_dir=seeded_copy)).stdout)[0]
    assert again["results"] == first["results"]


def test_reindex_builds_a_new_version_and_swaps_it_in(seeded_copy: Path) -> None:
    ok(run_cli("retrieve", "Macron", "--json", data_dir=seeded_copy))
    old = (seeded_copy / "index" / "current").read_text()
    result = json.loads(ok(run_cli("reindex", "--json", data_dir=seeded_copy)).stdout)
    new = (seeded_copy / "index" / "current").read_text()
    assert result["articles"] == 1 and result["chunks"] >= 3
    assert new != old and not (seeded_copy / "index" / old).exists()
    found = json_lines(ok(run_cli("retrieve", "Nebenzia step in the right direction", "--json",
                                  data_dir=seeded_copy)).stdout)[0]
    assert "Nebenzia" in found["results"][0]["text"]
    assert (seeded_copy / "index" / "current").read_text() == new  # answered from it, not rebuilt again
