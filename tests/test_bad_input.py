"""Bad input: each bad file, record, feed or URL gets one line naming it and the reason; the
rest of the batch is stored; the exit status is non-zero; nothing stored before is lost.

One real `newsbot ingest` run over a batch of good and bad inputs, on a copy of the seeded store.
"""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import copy_store, free_port, json_lines, ok, run_cli, story, write_jsonl

LIMIT_MB = 0.01  # ~10 KB: the oversized file is 20 KB, every good input is far smaller


@dataclass
class Bad:
    name: str  # what the failure line must name (file name, file:line, or URL)
    reason: str  # a word of the reason it must give


def make_inputs(root: Path) -> tuple[list[str], list[Bad], list[str]]:
    """(sources to ingest, the failures expected, titles of the good articles)."""
    root.mkdir()
    (root / "empty.txt").write_bytes(b"")
    (root / "blank.md").write_text("   \n\n \t \n", encoding="utf-8")
    with sqlite3.connect(root / "binary.txt") as db:  # a real binary file under a text name
        db.execute("create table t (x)")
    db.close()
    (root / "undecodable.txt").write_bytes(bytes(range(128, 256)) * 20)
    (root / "oversized.txt").write_text("Harbour report runs long\n\n" + story("Bigport", 200), encoding="utf-8")
    (root / "bomb.jsonl.gz").write_bytes(gzip.compress(b" " * 2_000_000))
    (root / "broken.json").write_text('{"title": "Cut off", "body": "The file ends in the mid', encoding="utf-8")
    (root / "nav-only.html").write_text(
        "<html><head><title>Menu</title></head><body><nav><a href='/'>Home</a> <a href='/news'>News</a> "
        "<a href='/sport'>Sport</a></nav><div class='cookie'>Accept all cookies</div><footer>Privacy policy</footer>"
        "</body></html>", encoding="utf-8")
    (root / "broken.rss").write_text("<?xml version='1.0'?><rss><channel><title>Half a feed</tit", encoding="utf-8")
    (root / "good.txt").write_text("Harbour lights restored in Kelp Bay\n\n" + story("Kelp Bay", 8), encoding="utf-8")
    mixed = write_jsonl(root / "mixed.jsonl", [
        {"title": "Ferry fares frozen in Gullwick", "body": story("Gullwick", 8), "source": "Mixed Post"},
    ])
    with mixed.open("a", encoding="utf-8") as f:
        f.write('{"title": "Broken line", "body": "no closing brace"\n')  # line 2: malformed JSON
        f.write("[1, 2, 3]\n")  # line 3: not a record
        f.write(json.dumps({"title": "No body here"}) + "\n")  # line 4: no body, text or content
        f.write(json.dumps({"title": "Pier reopens in Stennet", "text": story("Stennet", 8), "source": "Mixed Post"}) + "\n")
    closed = f"http://127.0.0.1:{free_port()}/story.html"
    missing = root / "no-such-file.txt"
    sources = [str(p) for p in sorted(root.iterdir())] + [closed, str(missing)]
    bad = [
        Bad("empty.txt", "empty"), Bad("blank.md", "empty"), Bad("binary.txt", "binary"),
        Bad("undecodable.txt", "undecodable"), Bad("oversized.txt", "limit"), Bad("bomb.jsonl.gz", "decompression"),
        Bad("broken.json", "invalid JSON"), Bad("nav-only.html", "no article text"), Bad("broken.rss", "feed"),
        Bad("mixed.jsonl:2", "invalid JSON"), Bad("mixed.jsonl:3", "JSON object"), Bad("mixed.jsonl:4", "no body"),
        Bad(closed, "unreachable"), Bad(str(missing), "no such file"),
    ]
    good = ["Harbour lights restored in Kelp Bay", "Ferry fares frozen in Gullwick", "Pier reopens in Stennet"]
    return sources, bad, good


@dataclass
class Run:
    result: subprocess.CompletedProcess
    bad: list[Bad]
    good: list[str]
    before: list[dict]
    after: list[dict]
    stats_before: dict
    stats_after: dict


@pytest.fixture(scope="module")
def run(seeded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    base = tmp_path_factory.mktemp("bad")
    data_dir = copy_store(seeded_dir, base / "data")
    sources, bad, good = make_inputs(base / "inputs")
    before = json_lines(ok(run_cli("list", "--json", data_dir=data_dir)).stdout)
    stats_before = json.loads(ok(run_cli("stats", "--json", data_dir=data_dir)).stdout)
    result = run_cli("ingest", *sources, "--max-file-mb", LIMIT_MB, data_dir=data_dir,
                     env={"NEWSBOT_ALLOW_PRIVATE_URLS": "1", "NEWSBOT_MAX_DECOMPRESSED_BYTES": "100000",
                          "NEWSBOT_FETCH_TIMEOUT_S": "5"})
    after = json_lines(ok(run_cli("list", "--json", data_dir=data_dir)).stdout)
    stats_after = json.loads(ok(run_cli("stats", "--json", data_dir=data_dir)).stdout)
    return Run(result, bad, good, before, after, stats_before, stats_after)


def test_exit_status_is_non_zero_and_no_traceback(run: Run) -> None:
    assert run.result.returncode != 0, run.result.stdout
    assert "Traceback" not in run.result.stderr, run.result.stderr


def test_summary_counts_every_failure(run: Run) -> None:
    summary = run.result.stdout.strip().splitlines()[-1]
    assert summary.startswith("3 added, 0 updated, 0 unchanged"), summary
    assert f"{len(run.bad)} failed" in summary, summary


@pytest.mark.parametrize("index", range(14), ids=[
    "empty", "blank", "binary", "undecodable", "oversized", "gzip-bomb", "invalid-json-file", "html-no-text",
    "feed-does-not-parse", "jsonl-malformed-line", "jsonl-not-an-object", "jsonl-no-body", "unreachable-url", "missing-path"])
def test_each_bad_input_gets_one_line_naming_it_and_the_reason(run: Run, index: int) -> None:
    bad = run.bad[index]
    lines = [ln for ln in run.result.stderr.splitlines() if ln.startswith("failed: ")]
    named = [ln for ln in lines if _names(_origin(ln), bad.name)]
    assert len(named) == 1, f"{bad.name}: expected one line, got {named}\nstderr:\n{run.result.stderr}"
    reason = named[0].removeprefix(f"failed: {_origin(named[0])}: ")
    assert bad.reason.lower() in reason.lower(), named[0]


def _origin(line: str) -> str:
    return line.removeprefix("failed: ").split(": ")[0]  # "failed: ORIGIN: REASON"


def _names(origin: str, name: str) -> bool:
    return origin == name or os.path.basename(origin) == name or origin.endswith(os.sep + name)


def test_only_the_bad_inputs_are_reported(run: Run) -> None:
    lines = [ln for ln in run.result.stderr.splitlines() if ln.startswith("failed: ")]
    assert len(lines) == len(run.bad), "\n".join(lines)


def test_the_good_inputs_in_the_same_batch_are_stored(run: Run) -> None:
    titles = {a["title"] for a in run.after}
    assert set(run.good) <= titles
    assert run.stats_after["articles"] == run.stats_before["articles"] + len(run.good)


def test_nothing_stored_before_is_lost(run: Run) -> None:
    after = {a["id"]: a for a in run.after}
    for article in run.before:
        assert after.get(article["id"]) == article


def test_a_batch_where_everything_fails_changes_nothing(seeded_copy: Path, tmp_path: Path) -> None:
    before = ok(run_cli("stats", "--json", data_dir=seeded_copy)).stdout
    (tmp_path / "empty.txt").write_bytes(b"")
    result = run_cli("ingest", tmp_path / "empty.txt", tmp_path / "missing.json", data_dir=seeded_copy)
    assert result.returncode != 0
    assert result.stdout.strip().startswith("0 added, 0 updated, 0 unchanged, 0 merged, 2 failed")
    assert ok(run_cli("stats", "--json", data_dir=seeded_copy)).stdout == before


def test_an_empty_folder_is_reported(tmp_path: Path) -> None:
    (tmp_path / "empty-folder").mkdir()
    result = run_cli("ingest", tmp_path / "empty-folder", data_dir=tmp_path / "data")
    assert result.returncode != 0
    assert "empty-folder" in result.stderr and "no .txt" in result.stderr
