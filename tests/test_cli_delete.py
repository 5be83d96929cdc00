"""`newsbot delete`: several ids in one run, --source/--before selectors, --dry-run, unknown ids,
usage errors, and the derived indexes (BM25, quotes) following the deletes — all through the
real CLI on a store built from the seed and four small articles from two outlets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SEED_TITLE, SEEDS, copy_store, json_lines, ok, run_cli, story, write_jsonl

pytestmark = pytest.mark.slow  # runs the real CLI

ELSEY = "Elsey harbour master refuses mooring fees"  # Harbour Gazette, 2025-03-01, quotes Orla Quennell
MARROW = "Marrow ferry timetable changes"  # Harbour Gazette, 2025-03-20
PELLOW = "Pellow dredging plan delayed"  # Coast Courier, 2025-01-10
TARRANT = "Tarrant storm warnings reviewed"  # Coast Courier, undated
ELSEY_QUESTION = "What did Quennell say about the Elsey mooring fees?"


def records() -> list[dict[str, Any]]:
    quote = ("“We will not pay these fees while the sea wall is broken,” said Orla Quennell, "
             "the Elsey harbour master.")
    return [
        {"title": ELSEY, "body": story("Elsey", 14) + "\n\n" + quote, "url": "https://gazette.example/elsey",
         "published_at": "2025-03-01", "source": "Harbour Gazette"},
        {"title": MARROW, "body": story("Marrow", 14, 10), "url": "https://gazette.example/marrow",
         "published_at": "2025-03-20", "source": "Harbour Gazette"},
        {"title": PELLOW, "body": story("Pellow", 14, 20), "url": "https://courier.example/pellow",
         "published_at": "2025-01-10", "source": "Coast Courier"},
        {"title": TARRANT, "body": story("Tarrant", 14, 30), "url": "https://courier.example/tarrant",
         "source": "Coast Courier"},
    ]


def listed(data_dir: Path) -> dict[str, dict[str, Any]]:
    """title -> the article as `newsbot list --json` shows it."""
    return {a["title"]: a for a in json_lines(ok(run_cli("list", "--json", data_dir=data_dir)).stdout)}


def stats(data_dir: Path) -> dict[str, Any]:
    return json.loads(ok(run_cli("stats", "--json", data_dir=data_dir)).stdout)


def retrieved_articles(data_dir: Path, question: str, **env: str) -> list[str]:
    result = ok(run_cli("retrieve", question, "--json", "--k", 10, data_dir=data_dir, env=env or None))
    return [r["article_id"] for r in json_lines(result.stdout)[0]["results"]]


def derived_indexes(data_dir: Path) -> dict[str, Any]:
    """The BM25 and quote indexes as a reader loads them (saved by the last `newsbot retrieve`)."""
    from newsbot.settings import load_settings
    from vectorstore import indexes
    from vectorstore.lock import release_store_lock
    from vectorstore.store import NewsStore

    settings = load_settings(data_dir=data_dir)
    version = (settings.index_dir / "current").read_text()
    saved = json.loads((settings.index_dir / version / "state.json").read_text())
    store = NewsStore.from_settings(settings)
    try:
        index = indexes.load(store, settings.index_dir)
        lexical = index.lexical_scores("Quennell Elsey")
        top = str(index.metas[int(lexical.argmax())]["article_id"]) if lexical.max() > 0 else None
        return {"saved_is_current": saved["generation"] == index.stamp["generation"],
                "articles": {str(m["article_id"]) for m in index.metas},
                "speakers": set(index.quotes), "bm25_top": top}
    finally:
        release_store_lock(settings.data_dir)


@pytest.fixture(scope="module")
def news_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seed + four articles, ingested by the CLI; a retrieve saved the derived indexes. Tests copy it."""
    root = tmp_path_factory.mktemp("delete-cli")
    feed = write_jsonl(root / "news.jsonl", records())
    data_dir = root / "data"
    summary = json.loads(ok(run_cli("ingest", SEEDS, feed, "--json", data_dir=data_dir)).stdout.strip().splitlines()[-1])
    assert (summary["added"], summary["failed"]) == (5, 0), summary
    ok(run_cli("retrieve", ELSEY_QUESTION, "--json", data_dir=data_dir))
    return data_dir


@pytest.fixture
def store_dir(news_dir: Path, tmp_path: Path) -> Path:
    return copy_store(news_dir, tmp_path / "data")


@pytest.fixture(scope="module")
def before(news_dir: Path) -> dict[str, Any]:
    """What the untouched store shows: its articles and stats."""
    return {"articles": listed(news_dir), "stats": stats(news_dir)}


def test_several_ids_in_one_run_delete_each_and_report_unknown_ones(store_dir: Path, before) -> None:
    arts = before["articles"]
    elsey, pellow = arts[ELSEY], arts[PELLOW]
    assert elsey["n_chunks"] >= 2 and pellow["n_chunks"] >= 2
    # the store before: BM25 and the quote index know Elsey's chunks and its speaker
    assert retrieved_articles(store_dir, ELSEY_QUESTION)[0] == elsey["id"]
    held = derived_indexes(store_dir)
    assert elsey["id"] in held["articles"] and "Orla Quennell" in held["speakers"] and held["bm25_top"] == elsey["id"]

    result = run_cli("delete", elsey["id"], "nosuchid00000000", pellow["id"], elsey["id"], data_dir=store_dir)
    assert result.returncode == 1, result
    assert result.stdout.splitlines() == [
        f"deleted {elsey['id']} ({elsey['n_chunks']} chunks)",
        f"deleted {pellow['id']} ({pellow['n_chunks']} chunks)",
        f"deleted 2 articles ({elsey['n_chunks'] + pellow['n_chunks']} chunks)",
    ]
    assert result.stderr.splitlines() == ["failed: nosuchid00000000: no article with that id (see newsbot list)"]

    assert set(listed(store_dir)) == {SEED_TITLE, MARROW, TARRANT}
    now, was = stats(store_dir), before["stats"]
    assert now["articles"] == was["articles"] - 2
    assert now["chunks"] == was["chunks"] - elsey["n_chunks"] - pellow["n_chunks"]
    assert now["quotes"] == was["quotes"] - 1  # Quennell's quote went with Elsey
    assert now["from"] == "2025-02-24"  # Pellow (2025-01-10) was the oldest

    found = retrieved_articles(store_dir, ELSEY_QUESTION)
    assert found and not {elsey["id"], pellow["id"]} & set(found)
    after = derived_indexes(store_dir)
    assert after["saved_is_current"]
    assert not {elsey["id"], pellow["id"]} & after["articles"]
    assert "Orla Quennell" not in after["speakers"] and after["bm25_top"] != elsey["id"]


def test_one_id_keeps_its_one_line_answer(store_dir: Path, before) -> None:
    marrow = before["articles"][MARROW]
    result = ok(run_cli("delete", marrow["id"], data_dir=store_dir))
    assert result.stdout.strip() == f"deleted {marrow['id']} ({marrow['n_chunks']} chunks)"
    again = run_cli("delete", marrow["id"], data_dir=store_dir)
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.strip() == f"failed: {marrow['id']}: no article with that id (see newsbot list)"


def test_source_deletes_every_article_of_that_outlet(store_dir: Path, before) -> None:
    arts = before["articles"]
    result = ok(run_cli("delete", "--source", "Coast Courier", data_dir=store_dir))
    chunks = arts[PELLOW]["n_chunks"] + arts[TARRANT]["n_chunks"]
    assert sorted(result.stdout.splitlines()[:-1]) == sorted(
        f"deleted {arts[t]['id']} ({arts[t]['n_chunks']} chunks)" for t in (PELLOW, TARRANT))
    assert result.stdout.splitlines()[-1] == f"deleted 2 articles ({chunks} chunks)"
    assert set(listed(store_dir)) == {SEED_TITLE, ELSEY, MARROW}
    assert stats(store_dir)["sources"] == ["AFP", "Harbour Gazette"]


def test_before_deletes_older_dated_articles_only(store_dir: Path, before) -> None:
    # the seed (2025-02-24) and Pellow (2025-01-10); not Elsey, published that very day, nor undated Tarrant
    result = ok(run_cli("delete", "--before", "2025-03-01", data_dir=store_dir))
    assert result.stdout.splitlines()[-1].startswith("deleted 2 articles (")
    assert set(listed(store_dir)) == {ELSEY, MARROW, TARRANT}
    assert stats(store_dir)["from"] == "2025-03-01"


def test_source_and_before_together_take_articles_matching_both(store_dir: Path, before) -> None:
    elsey = before["articles"][ELSEY]
    result = ok(run_cli("delete", "--source", "Harbour Gazette", "--before", "2025-03-10", data_dir=store_dir))
    assert result.stdout.splitlines() == [f"deleted {elsey['id']} ({elsey['n_chunks']} chunks)",
                                          f"deleted 1 article ({elsey['n_chunks']} chunks)"]
    assert set(listed(store_dir)) == {SEED_TITLE, MARROW, PELLOW, TARRANT}


def test_a_selector_matching_nothing_deletes_nothing_and_says_so(store_dir: Path, before) -> None:
    result = ok(run_cli("delete", "--source", "Harbour gazette", data_dir=store_dir))  # outlet names are exact
    assert result.stdout.strip() == "deleted 0 articles (0 chunks)"
    assert "no article matches --source 'Harbour gazette'" in result.stderr
    assert stats(store_dir) == before["stats"]


def test_dry_run_lists_what_would_go_and_deletes_nothing(store_dir: Path, before) -> None:
    arts = before["articles"]
    result = ok(run_cli("delete", "--source", "Harbour Gazette", "--dry-run", data_dir=store_dir))
    lines = result.stdout.splitlines()
    assert sorted(lines[:-1]) == sorted(
        f"would delete {arts[t]['id']} ({arts[t]['n_chunks']} chunks)  {t}" for t in (ELSEY, MARROW))
    assert lines[-1] == f"would delete 2 articles ({arts[ELSEY]['n_chunks'] + arts[MARROW]['n_chunks']} chunks)"

    by_id = run_cli("delete", arts[PELLOW]["id"], "nosuchid00000000", "--dry-run", data_dir=store_dir)
    assert by_id.returncode == 1  # as the real run would
    assert by_id.stdout.splitlines() == [f"would delete {arts[PELLOW]['id']} ({arts[PELLOW]['n_chunks']} chunks)  {PELLOW}",
                                         f"would delete 1 article ({arts[PELLOW]['n_chunks']} chunks)"]
    assert "failed: nosuchid00000000: no article with that id" in by_id.stderr

    assert stats(store_dir) == before["stats"]
    assert listed(store_dir) == arts


@pytest.mark.parametrize(("args", "says"), [
    ((), "give article ids, or --source"),
    (("--dry-run",), "give article ids, or --source"),
    (("--before", "2025-13-01"), "'2025-13-01' is not a date"),
    (("--before", "last week"), "'last week' is not a date"),
    (("--before", "20250301"), "'20250301' is not a date"),
    (("--source", "AFP", "--before", "01/03/2025"), "'01/03/2025' is not a date"),
    (("some-id", "--source", "AFP"), "not both"),
])
def test_usage_errors_are_one_line_and_delete_nothing(store_dir: Path, before, args: tuple[str, ...], says: str) -> None:
    result = run_cli("delete", *args, data_dir=store_dir)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: "), result.stderr
    assert says in result.stderr
    assert stats(store_dir) == before["stats"]


def test_deleting_does_not_need_the_embedding_model(store_dir: Path, before) -> None:
    no_model = {"NEWSBOT_EMBEDDING_MODEL": str(store_dir / "no-such-model")}
    needs_it = run_cli("retrieve", "harbour", data_dir=store_dir, env=no_model)
    assert needs_it.returncode == 1 and "Traceback" not in needs_it.stderr
    assert needs_it.stderr.strip().splitlines() == [
        f"error: the embedding model {no_model['NEWSBOT_EMBEDDING_MODEL']!r} cannot be loaded offline "
        f"(Path {no_model['NEWSBOT_EMBEDDING_MODEL']} not found); set NEWSBOT_EMBEDDING_MODEL to a "
        "sentence-transformers folder or a model already in the local cache"]
    arts = before["articles"]
    ok(run_cli("delete", arts[ELSEY]["id"], arts[MARROW]["id"], data_dir=store_dir, env=no_model))
    ok(run_cli("delete", "--source", "Coast Courier", data_dir=store_dir, env=no_model))
    assert set(listed(store_dir)) == {SEED_TITLE}
