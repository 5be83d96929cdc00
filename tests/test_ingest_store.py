"""Ingest into the real on-disk Chroma store: idempotent, replace-on-change, duplicate wire
copies, delete, every input kind (files, folders, JSON, RSS/Atom, HTML, URLs on loopback), the
inspection commands, and the lexical index following the collection."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from chatbot.retrieval import Filters, HybridRetriever
from tests.conftest import (
    SEED_FILE,
    SEED_TITLE,
    SEEDS,
    assert_no_orphans,
    json_lines,
    ok,
    run_cli,
    run_parallel,
    story,
    write_jsonl,
)
from vectorstore import indexes


def long_record(url: str, topic: str, n: int, **extra) -> dict:
    return {"title": f"Dispute over the harbour in {topic}", "body": story(topic, n), "url": url,
            "published_at": "2025-03-04", "source": "Harbour Gazette", **extra}


# -- idempotent re-ingest ---------------------------------------------------------------------

def test_reingesting_the_same_articles_adds_nothing(open_store, tmp_path: Path) -> None:
    feed = write_jsonl(tmp_path / "a.jsonl", [long_record(f"https://gazette.example/{t}", t, 20) for t in ("Elsey", "Marrow")])
    handle = open_store()
    first = handle.ingest(SEEDS, feed)
    assert (first.added, first.failed) == (3, 0)
    before = handle.chunks()
    generation = handle.store.generation()

    again = handle.ingest(SEEDS, feed)
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 3, 0)
    assert handle.chunks() == before  # same ids, texts and metadata
    assert handle.store.generation() == generation  # nothing written, the indexes stay valid
    assert_no_orphans(before)


def test_cli_reingest_of_the_seed_says_unchanged(seeded_copy: Path) -> None:
    before = ok(run_cli("stats", "--json", data_dir=seeded_copy)).stdout
    result = ok(run_cli("ingest", SEEDS, data_dir=seeded_copy))
    assert result.stdout.strip().startswith("0 added, 0 updated, 1 unchanged")
    assert ok(run_cli("stats", "--json", data_dir=seeded_copy)).stdout == before


# -- replace on change ------------------------------------------------------------------------

def test_a_changed_article_replaces_its_chunks_and_leaves_no_orphans(open_store, tmp_path: Path) -> None:
    url = "https://gazette.example/harbour?utm_source=rss"
    handle = open_store()
    first = handle.ingest(write_jsonl(tmp_path / "v1.jsonl", [long_record(url, "Elsey", 40)]))
    assert first.added == 1
    old = handle.chunks()
    assert len(old) >= 4, "the first version should need several chunks"
    article_id = next(iter(old.values()))[1]["article_id"]

    edited = long_record("https://gazette.example/harbour", "Elsey", 6)
    edited["body"] += "\n\nThe harbour reopened to ferries on Friday after the repairs were finished."
    second = handle.ingest(write_jsonl(tmp_path / "v2.jsonl", [edited]))
    assert (second.added, second.updated) == (0, 1)

    new = handle.chunks()
    assert_no_orphans(new)
    assert {m["article_id"] for _, m in new.values()} == {article_id}  # same article, same id
    assert len(new) < len(old)
    text = handle.store.article_text(article_id)
    assert "reopened to ferries on Friday" in text
    assert "on day 40 of the dispute" not in text  # the old version's sentences are gone

    # the lexical index follows: the old tail is not found, the new sentence is
    index = indexes.load(handle.store, handle.settings.index_dir)
    assert set(index.ids) == set(new)
    hits = index.lexical_scores("ferries reopened Friday")
    assert index.ids[int(hits.argmax())] in new and hits.max() > 0


# -- duplicate wire copies ----------------------------------------------------------------------

def wire_copies(n: int = 3) -> list[dict]:
    body = story("Marrow", 10)
    outlets = [("First Post", "https://first.example/a1"), ("Second Times", "https://second.example/news/77"),
               ("Third Herald", "https://third.example/x")]
    return [{"title": f"Harbour dispute deepens ({name})", "body": body, "url": url, "source": name}
            for name, url in outlets[:n]]


def test_the_same_wire_story_from_two_outlets_in_one_file_keeps_both_sources(open_store, tmp_path: Path) -> None:
    handle = open_store()
    summary = handle.ingest(write_jsonl(tmp_path / "wire.jsonl", wire_copies(2)))
    assert len(handle.store.articles()) == 1
    assert handle.store.articles()[0].sources == ["First Post", "Second Times"]
    assert (summary.added, summary.merged, summary.failed) == (1, 1, 0)


def test_the_same_wire_story_arriving_later_from_other_outlets_is_stored_once(open_store, tmp_path: Path) -> None:
    first, second, third = wire_copies(3)
    handle = open_store()
    assert handle.ingest(write_jsonl(tmp_path / "1.jsonl", [first])).added == 1
    before = handle.chunks()
    summary = handle.ingest(write_jsonl(tmp_path / "2.jsonl", [second]))
    assert (summary.added, summary.merged, summary.failed) == (0, 1, 0)
    articles = handle.store.articles()
    assert len(articles) == 1 and articles[0].sources == ["First Post", "Second Times"]
    assert set(handle.chunks()) == set(before)
    assert_no_orphans(handle.chunks())

    # the second outlet is searchable as a source; copies seen before are not added twice
    found = handle.bot().retrieve("harbour dispute Marrow", 3, Filters(source="Second Times"))
    assert found.passages and {p.article_id for p in found.passages} == {articles[0].id}
    again = handle.ingest(write_jsonl(tmp_path / "3.jsonl", [first, second, third]))
    assert (again.added, again.merged) == (0, 1)
    assert handle.store.articles()[0].sources == ["First Post", "Second Times", "Third Herald"]


# -- the inspection commands and delete, through the CLI --------------------------------------

def test_stats_list_show_through_the_cli(seeded_copy: Path) -> None:
    stats = json.loads(ok(run_cli("stats", "--json", data_dir=seeded_copy)).stdout)
    assert stats["articles"] == 1 and stats["chunks"] >= 4 and stats["quotes"] >= 14
    assert stats["sources"] == ["AFP"] and stats["from"] == stats["to"] == "2025-02-24"
    human = ok(run_cli("stats", data_dir=seeded_copy)).stdout
    assert "articles: 1" in human and "AFP" in human

    listed = json_lines(ok(run_cli("list", "--json", data_dir=seeded_copy)).stdout)
    assert len(listed) == 1
    art = listed[0]
    assert (art["title"], art["sources"], art["published"], art["agency"]) == (SEED_TITLE, ["AFP"], "2025-02-24", "AFP")
    assert art["n_chunks"] == stats["chunks"]
    line = ok(run_cli("list", data_dir=seeded_copy)).stdout
    assert art["id"] in line and SEED_TITLE in line and "2025-02-24" in line

    shown = json.loads(ok(run_cli("show", art["id"], "--json", data_dir=seeded_copy)).stdout)
    assert shown["title"] == SEED_TITLE
    assert "“We want a quick deal but not a fragile one,” Macron said" in shown["text"]
    assert len(shown["chunks"]) == stats["chunks"] and len(shown["quotes"]) == stats["quotes"]
    assert {"Emmanuel Macron", "Vassily Nebenzia"} <= {q["speaker"] for q in shown["quotes"]}
    readable = ok(run_cli("show", art["id"], data_dir=seeded_copy)).stdout
    assert SEED_TITLE in readable and "AFP" in readable and "Quotes:" in readable


def test_delete_removes_the_article_everywhere(seeded_copy: Path) -> None:
    article_id = json_lines(ok(run_cli("list", "--json", data_dir=seeded_copy)).stdout)[0]["id"]
    chunks = json.loads(ok(run_cli("stats", "--json", data_dir=seeded_copy)).stdout)["chunks"]
    deleted = ok(run_cli("delete", article_id, data_dir=seeded_copy))
    assert deleted.stdout.strip() == f"deleted {article_id} ({chunks} chunks)"
    stats = json.loads(ok(run_cli("stats", "--json", data_dir=seeded_copy)).stdout)
    assert (stats["articles"], stats["chunks"], stats["quotes"]) == (0, 0, 0)
    assert ok(run_cli("list", "--json", data_dir=seeded_copy)).stdout.strip() == ""
    for command in ("show", "delete"):
        again = run_cli(command, article_id, data_dir=seeded_copy)
        assert again.returncode != 0
        assert article_id in again.stderr and "Traceback" not in again.stderr


def test_a_second_process_on_the_same_store_gets_a_clear_message(seeded_copy: Path, open_store) -> None:
    handle = open_store(seeded_copy)
    result = run_cli("stats", data_dir=seeded_copy)
    assert result.returncode != 0
    assert "in use" in result.stderr and "Traceback" not in result.stderr
    handle.release()
    assert ok(run_cli("stats", "--json", data_dir=seeded_copy))


# -- every input kind -------------------------------------------------------------------------

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Harbour Gazette</title><link>https://gazette.example/</link>
<description>News from the coast</description>
<item><title>Ferry service resumes after the storm</title><link>https://gazette.example/ferry?utm_source=rss</link>
<pubDate>Tue, 04 Mar 2025 08:00:00 GMT</pubDate><author>desk@gazette.example (Mia Chen)</author>
<description><![CDATA[{one}]]></description></item>
<item><title>Sea wall repairs begin in Port Elsey</title><link>https://gazette.example/wall</link>
<pubDate>Wed, 05 Mar 2025 09:30:00 GMT</pubDate><description><![CDATA[{two}]]></description></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Coast Weekly</title><id>urn:coast</id><updated>2025-03-06T10:00:00Z</updated>
<entry><title>Fish market lease renewed for ten years</title><link href="https://coast.example/market"/><id>urn:1</id>
<updated>2025-03-06T10:00:00Z</updated><content type="html">{one}</content></entry></feed>"""

HTML = """<!doctype html><html><head><title>Marina plans approved | Bay News</title>
<meta property="og:site_name" content="Bay News"><meta property="og:title" content="Marina plans approved">
<meta property="article:published_time" content="2025-03-07T12:00:00Z">
<link rel="canonical" href="https://baynews.example/marina"></head>
<body><nav><a href="/">Home</a> <a href="/sport">Sport</a></nav>
<article><h1>Marina plans approved</h1>{paras}</article><footer>© Bay News</footer></body></html>"""


def paras(topic: str, n: int = 6, offset: int = 0) -> str:
    return "".join(f"<p>{p}</p>" for p in story(topic, n, offset).split("\n\n"))


@pytest.fixture(scope="module")
def inputs_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder (with a sub-folder) holding one article of every supported kind."""
    root = tmp_path_factory.mktemp("inputs")
    (root / "nested" / "deeper").mkdir(parents=True)
    (root / "plain.txt").write_text("Tide gauges fail in Quayside\n\n" + story("Quayside", 6), encoding="utf-8")
    (root / "nested" / "notes.md").write_text("# Dredging halted in Lowmere\n\n" + story("Lowmere", 6), encoding="utf-8")
    (root / "one.json").write_text(json.dumps({"headline": "Mooring fees frozen in Brackwater", "content": story("Brackwater", 6),
                                               "date": "2025-03-01", "outlet": "Tide Times",
                                               "link": "https://tide.example/fees"}), encoding="utf-8")
    (root / "many.json").write_text(json.dumps([
        {"title": f"Storm damage counted in {t}", "text": story(t, 6), "published": "2025-03-02", "source": "Array Daily",
         "url": f"https://array.example/{t.lower()}"} for t in ("Saltcombe", "Fennick")]), encoding="utf-8")
    write_jsonl(root / "nested" / "lines.jsonl", [
        {"title": f"Lifeboat crew honoured in {t}", "body": story(t, 6), "published_at": "2025-03-03",
         "source": "Lines Herald", "url": f"https://lines.example/{t.lower()}", "author": "Sam Ode"}
        for t in ("Gullhaven", "Orrin")])
    (root / "feed.rss").write_text(RSS.format(one=paras("Ferrybridge"), two=paras("Port Elsey")), encoding="utf-8")
    (root / "nested" / "deeper" / "feed.atom").write_text(
        ATOM.format(one=paras("Marketon").replace("<", "&lt;").replace(">", "&gt;")), encoding="utf-8")
    (root / "page.html").write_text(HTML.format(paras=paras("Baymouth")), encoding="utf-8")
    (root / "packed.jsonl.gz").write_bytes(gzip.compress(json.dumps(
        {"title": "Pier closes for winter in Dunmore", "body": story("Dunmore", 6), "source": "Gz Post"}).encode()))
    (root / "ignored.csv").write_text("a,b\n1,2\n", encoding="utf-8")  # not an article kind: skipped silently
    return root


@pytest.fixture(scope="module")
def ingested_inputs(inputs_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("inputs-store") / "data"
    result = run_cli("ingest", inputs_folder, "--json", data_dir=data_dir)
    listed = json_lines(run_cli("list", "--json", data_dir=data_dir).stdout)
    return result, {a["title"]: a for a in listed}


def test_a_folder_of_every_kind_is_ingested(ingested_inputs) -> None:
    result, by_title = ingested_inputs
    ok(result)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["added"], summary["failed"]) == (12, 0), summary
    assert len(by_title) == 12


@pytest.mark.parametrize(("title", "source", "published", "url"), [
    ("Tide gauges fail in Quayside", None, None, None),
    ("Dredging halted in Lowmere", None, None, None),
    ("Mooring fees frozen in Brackwater", "Tide Times", "2025-03-01", "https://tide.example/fees"),
    ("Storm damage counted in Saltcombe", "Array Daily", "2025-03-02", "https://array.example/saltcombe"),
    ("Storm damage counted in Fennick", "Array Daily", "2025-03-02", "https://array.example/fennick"),
    ("Lifeboat crew honoured in Gullhaven", "Lines Herald", "2025-03-03", "https://lines.example/gullhaven"),
    ("Lifeboat crew honoured in Orrin", "Lines Herald", "2025-03-03", "https://lines.example/orrin"),
    ("Ferry service resumes after the storm", "Harbour Gazette", "2025-03-04", "https://gazette.example/ferry"),
    ("Sea wall repairs begin in Port Elsey", "Harbour Gazette", "2025-03-05", "https://gazette.example/wall"),
    ("Fish market lease renewed for ten years", "Coast Weekly", "2025-03-06", "https://coast.example/market"),
    ("Marina plans approved", "Bay News", "2025-03-07", "https://baynews.example/marina"),
    ("Pier closes for winter in Dunmore", "Gz Post", None, None),
])
def test_each_input_kind_keeps_its_metadata(ingested_inputs, title, source, published, url) -> None:
    _, by_title = ingested_inputs
    titles = [t for t in by_title if t.lstrip("# ") == title]
    assert titles, f"{title!r} not stored; stored: {sorted(by_title)}"
    art = by_title[titles[0]]
    if source:
        assert art["sources"] == [source]
    assert art["published"] == published
    assert art["url"] == url


def test_markdown_heading_marks_are_not_part_of_the_title(ingested_inputs) -> None:
    _, by_title = ingested_inputs
    assert "Dredging halted in Lowmere" in by_title, sorted(by_title)


# -- URLs on loopback ---------------------------------------------------------------------------

class _QuietHandler(SimpleHTTPRequestHandler):
    requested: list[str] = []

    def log_message(self, *args) -> None:
        type(self).requested.append(self.path)


@pytest.fixture(scope="module")
def local_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("site")
    (root / "marina.html").write_text(HTML.format(paras=paras("Baymouth", 8, 20)), encoding="utf-8")
    (root / "feed.xml").write_text(RSS.format(one=paras("Ferrybridge", 6, 30), two=paras("Port Elsey", 6, 40)), encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_loopback_urls_are_refused_by_default(local_site: str) -> None:
    from ingest.fetch import load_url

    [failure] = list(load_url(f"{local_site}/marina.html", 10**6, 5.0))
    assert "non-public address" in failure.reason


def test_urls_are_fetched_when_private_addresses_are_allowed(local_site: str, tmp_path: Path) -> None:
    page, feed = f"{local_site}/marina.html", f"{local_site}/feed.xml"
    runs = run_parallel({
        "default": (("ingest", page), {"data_dir": tmp_path / "refused"}),
        "allowed": (("ingest", page, feed, "--json"), {"data_dir": tmp_path / "allowed",
                                                        "env": {"NEWSBOT_ALLOW_PRIVATE_URLS": "1"}}),
    })
    refused = runs["default"]
    assert refused.returncode != 0
    [line] = [ln for ln in refused.stderr.splitlines() if page in ln]
    assert "non-public address" in line
    summary = json.loads(ok(runs["allowed"]).stdout.strip().splitlines()[-1])
    assert (summary["added"], summary["failed"]) == (3, 0)
    assert "/marina.html" in _QuietHandler.requested and "/feed.xml" in _QuietHandler.requested
    stored = {a["title"]: a for a in json_lines(ok(run_cli("list", "--json", data_dir=tmp_path / "allowed")).stdout)}
    assert stored["Marina plans approved"]["sources"] == ["Bay News"]
    assert stored["Ferry service resumes after the storm"]["url"] == "https://gazette.example/ferry"


# -- the lexical index follows the collection ----------------------------------------------------

def test_lexical_index_follows_ingests_and_deletes_and_survives_restart(open_store, tmp_path: Path) -> None:
    handle = open_store()
    handle.ingest(SEED_FILE)
    bot = handle.bot()
    assert bot.retrieve("Nebenzia step in the right direction", 3).passages[0].text.count("Nebenzia")

    rare = {"title": "Quillfeather trawler impounded", "body": story("Quillfeather Sound", 8),
            "url": "https://gazette.example/quill", "source": "Harbour Gazette"}
    handle.ingest(write_jsonl(tmp_path / "rare.jsonl", [rare]))
    bot.retriever.catch_up()  # what a server's retriever does by itself within a second
    assert bot.retriever.index.lexical_scores("Quillfeather").max() > 0
    top = bot.retrieve("Quillfeather", 3).passages
    assert top and "Quillfeather" in top[0].text
    rare_id = top[0].article_id

    assert handle.store.delete_article(rare_id) > 0
    bot.retriever.catch_up()
    after = bot.retrieve("Quillfeather", 5).passages
    assert rare_id not in {p.article_id for p in after}
    assert float(bot.retriever.index.lexical_scores("Quillfeather").max(initial=0.0)) == 0.0
    assert not bot.retriever.index.doc_freq.get("quillfeath")  # the word is unknown again, not just unranked

    # restart: a new retriever reads the saved index (nothing re-indexed) and sees the same collection
    version = (handle.settings.index_dir / "current").read_text()
    segments = handle.settings.index_dir / version / "tantivy" / "meta.json"
    mtime = segments.stat().st_mtime_ns
    fresh = HybridRetriever(handle.store, handle.embedder, index_dir=handle.settings.index_dir)
    assert set(fresh.index.ids) == set(handle.chunks())
    assert (handle.settings.index_dir / "current").read_text() == version and segments.stat().st_mtime_ns == mtime

    # and a real restart: another process, the CLI, on the same folder
    handle.release()
    questions = [{"question": "Quillfeather"}, {"question": "Nebenzia step in the right direction"}]
    batch = write_jsonl(tmp_path / "q.jsonl", questions)
    quill, nebenzia = json_lines(ok(run_cli("retrieve", "--batch", batch, "--k", "5", data_dir=handle.settings.data_dir)).stdout)
    assert rare_id not in {r["article_id"] for r in quill["results"]}
    assert "Nebenzia" in nebenzia["results"][0]["text"]


def test_a_stale_saved_index_is_rebuilt(open_store, tmp_path: Path) -> None:
    handle = open_store()
    handle.ingest(SEED_FILE)
    index_dir = handle.settings.index_dir
    indexes.load(handle.store, index_dir)  # saved for the seed only
    handle.ingest(write_jsonl(tmp_path / "b.jsonl", [{"title": "Quillfeather trawler impounded",
                                                       "body": story("Quillfeather Sound", 8), "source": "Gazette"}]))
    reloaded = indexes.load(handle.store, index_dir)
    assert set(reloaded.ids) == set(handle.chunks())
    assert reloaded.lexical_scores("Quillfeather").max() > 0


# -- the precision of the vectors -----------------------------------------------------------------

def test_a_store_keeps_the_precision_it_was_filled_with(tmp_path: Path) -> None:
    """int8 weights are the default for new stores; a store filled with fp32 vectors (as every store
    was before) is asked and added to with fp32 ones, so its recall stays what it was."""
    from chatbot.service import NewsBot
    from ingest.pipeline import embedding_text
    from models.embeddings import NewsEmbeddings
    from newsbot.settings import load_settings
    from vectorstore.lock import release_store_lock
    from vectorstore.records import Article, Chunk

    data_dir = tmp_path / "data"
    ok(run_cli("ingest", SEED_FILE, data_dir=data_dir, env={"NEWSBOT_ONNX_QUANTIZE": "false"}))
    rare = {"title": "Quillfeather trawler impounded", "body": story("Quillfeather Sound", 4), "source": "Gazette"}
    ok(run_cli("ingest", write_jsonl(tmp_path / "rare.jsonl", [rare]), data_dir=data_dir))  # the default: int8
    settings = load_settings(data_dir=data_dir)
    assert settings.onnx_quantize
    bot = NewsBot(settings)
    try:
        assert bot.store.embedded_with() == "fp32" and bot.embedder.precision == "fp32"
        got = bot.store.collection.get(include=["documents", "metadatas", "embeddings"])
        texts = [embedding_text(Article("", m["title"], "", published=m.get("published")), Chunk("", "", 0, d, 0, 0, 0))
                 for d, m in zip(got["documents"], got["metadatas"])]
        fp32 = np.asarray(NewsEmbeddings(settings.embedding_model, quantize=False).embed_documents(texts))
        cosines = (fp32 * np.asarray(got["embeddings"])).sum(axis=1)
        assert cosines.min() > 0.9999, cosines.min()  # int8 vectors are 0.98-0.99 from fp32 ones
        assert "Quillfeather" in bot.retrieve("Quillfeather trawler", 3).passages[0].text
    finally:
        release_store_lock(data_dir)
