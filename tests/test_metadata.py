"""Metadata: title, outlet, agency, ISO date, byline, URL and a stable article id."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.article import build_article, canonical_url
from ingest.metadata import parse_date
from ingest.sources import RawDoc, load_file, record_to_doc
from tests.conftest import SEED_FILE, SEED_TITLE

BODY = [
    "The central bank raised its main interest rate by a quarter point on Thursday.",
    "Officials said inflation had proved more stubborn than expected over the winter months.",
    "“We will do what is needed to bring prices back under control,” the governor said.",
]


def seed_article():
    raw = next(load_file(SEED_FILE, 10**8, 10**8))
    assert isinstance(raw, RawDoc), raw
    return build_article(raw)


def test_seed_metadata_as_found_in_the_text() -> None:
    article = seed_article()
    assert article.title == SEED_TITLE
    assert article.agency == "AFP"
    assert article.published == "2025-02-24"  # "LAST UPDATE | 24 Feb" + "© AFP 2025"
    assert article.source == "AFP"


def test_seed_metadata_as_stored(seeded, seed_article_id) -> None:
    stored = seeded.store.article(seed_article_id)
    assert stored is not None
    assert stored.title == SEED_TITLE
    assert stored.agency == "AFP"
    assert stored.published == "2025-02-24"
    assert stored.sources == ["AFP"]
    for chunk in seeded.store.article_chunks(seed_article_id):  # every passage can name its article
        assert (chunk.title, chunk.source, chunk.published) == (SEED_TITLE, "AFP", "2025-02-24")


def test_dateline_and_copyright_of_another_agency() -> None:
    text = "\n\n".join(["Central bank raises rates again", "Updated | 6 Mar", *BODY, "© Reuters 2024"])
    article = build_article(RawDoc("x.txt", text))
    assert article.title == "Central bank raises rates again"
    assert article.published == "2024-03-06"
    assert article.agency == "Reuters"


def test_date_line_above_the_story() -> None:
    text = "\n\n".join(["Central bank raises rates again", "Jan. 23, 2025, 11:16 a.m. ET", *BODY])
    assert build_article(RawDoc("x.txt", text)).published == "2025-01-23"


def test_byline_is_found_and_not_kept_as_story() -> None:
    text = "\n\n".join(["Central bank raises rates again", "By Jane Smith, Economics Correspondent", *BODY])
    article = build_article(RawDoc("x.txt", text))
    assert article.byline == "Jane Smith"
    assert "Economics Correspondent" not in article.text


def test_undated_article_has_no_date_rather_than_a_wrong_one() -> None:
    article = build_article(RawDoc("x.txt", "\n\n".join(["Central bank raises rates again", *BODY])))
    assert article.published is None


def test_json_record_fields_win_over_guesses() -> None:
    record = {"title": "Rates rise again", "body": "\n\n".join(BODY), "published_at": "2025-01-23T10:15:00Z",
              "source": "usatoday.com", "author": "Jane Smith",
              "url": "https://www.Example.com/business/rates/?utm_source=twitter&id=7"}
    article = build_article(record_to_doc(record, "r.jsonl:1"))
    assert article.title == "Rates rise again"
    assert article.published == "2025-01-23"
    assert article.source == "usatoday.com"
    assert article.sources == ["usatoday.com"]
    assert article.byline == "Jane Smith"
    assert article.url == "https://example.com/business/rates?id=7"


def test_outlet_falls_back_to_the_url_host() -> None:
    record = {"title": "Rates rise again", "text": "\n\n".join(BODY), "url": "https://www.bbc.co.uk/news/1"}
    assert build_article(record_to_doc(record, "r.json")).source == "bbc.co.uk"


@pytest.mark.parametrize(("value", "expected"), [
    ("2025-02-24", "2025-02-24"),
    ("2025-02-24T18:30:00+01:00", "2025-02-24"),
    ("24 February 2025", "2025-02-24"),
    ("February 24, 2025", "2025-02-24"),
    ("Mon, 24 Feb 2025 10:00:00 GMT", "2025-02-24"),
    ("Feb. 24, 2025", "2025-02-24"),
    ("yesterday", None),
    ("", None),
    ("2025-02-30", None),
])
def test_dates_become_iso(value: str, expected: str | None) -> None:
    assert parse_date(value) == expected


def test_article_id_comes_from_the_canonical_url() -> None:
    a = build_article(record_to_doc({"title": "A", "body": "\n\n".join(BODY),
                                     "url": "https://www.example.com/story/?utm_medium=email"}, "a"))
    b = build_article(record_to_doc({"title": "B", "body": "\n\n".join(BODY[:2]) + "\n\nA new closing line was added.",
                                     "url": "https://example.com/story"}, "b"))
    assert canonical_url("https://www.example.com/story/?utm_medium=email") == "https://example.com/story"
    assert a.id == b.id  # same page, edited: same article
    assert a.content_hash != b.content_hash


def test_article_id_without_url_comes_from_the_normalised_text() -> None:
    text = "\n\n".join(["Central bank raises rates again", *BODY])
    respaced = text.replace(" ", "  ").replace("\n\n", "\n\n\n")
    same = build_article(RawDoc("a.txt", text)).id
    assert build_article(RawDoc("b/other-name.txt", respaced)).id == same
    assert build_article(RawDoc("a.txt", text + "\n\nOne more sentence changes the story.")).id != same


def test_same_seed_gets_the_same_id_from_another_path(tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere.txt"
    copy.write_bytes(SEED_FILE.read_bytes())
    assert build_article(next(load_file(copy, 10**8, 10**8))).id == seed_article().id
