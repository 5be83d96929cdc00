"""Mistakes a new user makes with the CLI get one line naming the input and the reason, never a
traceback or a silently empty result: filter values, an empty store, settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import copy_store, json_lines, ok, run_cli

pytestmark = pytest.mark.slow  # runs the real CLI


def one_error_line(result, code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize("flag", ["--since", "--until"])
@pytest.mark.parametrize("value", ["25-02-2025", "yesterday", "2025-02-30", "2025/02/01"])
def test_a_date_filter_that_is_not_a_date_is_refused(seeded_dir: Path, flag: str, value: str) -> None:
    line = one_error_line(run_cli("retrieve", "UN vote", flag, value, data_dir=seeded_dir), 2)
    assert line == f"error: {flag} {value!r} is not a date; use YYYY-MM-DD"


def test_an_outlet_is_matched_in_any_letter_case_and_an_unknown_one_is_named(seeded_dir: Path) -> None:
    found = json_lines(ok(run_cli("retrieve", "UN vote", "--source", "afp", "--json", data_dir=seeded_dir)).stdout)
    assert found[0]["results"] and {r["source"] for r in found[0]["results"]} == {"AFP"}
    line = one_error_line(run_cli("ask", "UN vote", "--source", "Reuters", data_dir=seeded_dir), 2)
    assert line == "error: --source 'Reuters': no article from that outlet; the store has AFP"


def test_asking_an_empty_store_says_so_instead_of_abstaining(tmp_path: Path) -> None:
    for command in ("ask", "retrieve"):
        line = one_error_line(run_cli(command, "What did Macron say about troops?", data_dir=tmp_path / "new"), 1)
        assert f"the store in {tmp_path / 'new'} has no articles yet" in line and "newsbot ingest" in line


def test_a_setting_that_is_not_valid_is_named(seeded_dir: Path, tmp_path: Path) -> None:
    bad_env = run_cli("stats", data_dir=seeded_dir, env={"NEWSBOT_CHUNK_TOKENS": "abc"})
    line = one_error_line(bad_env, 2)
    assert line.startswith("error: setting 'chunk_tokens' (NEWSBOT_CHUNK_TOKENS or newsbot.toml): ")
    assert line.endswith("got 'abc'")
    # a misspelt key in newsbot.toml once gave a silently new, empty store
    (tmp_path / "newsbot.toml").write_text(f'data-dir = "{copy_store(seeded_dir, tmp_path / "store")}"\n')
    line = one_error_line(run_cli("stats", cwd=tmp_path), 2)
    assert line == "error: newsbot.toml: unknown setting 'data-dir' (did you mean 'data_dir'?)"
    (tmp_path / "newsbot.toml").write_text(f'data_dir = "{tmp_path / "store"}"\n')
    assert "articles: 1" in ok(run_cli("stats", cwd=tmp_path)).stdout


def test_a_data_dir_that_cannot_hold_a_store_is_named_and_left_alone(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("my notes\n")
    line = one_error_line(run_cli("stats", data_dir=a_file), 1)
    assert line == f"error: {a_file}: is a file; the data dir must be a folder"
    assert a_file.read_text() == "my notes\n"
    broken = tmp_path / "broken"
    (broken / "chroma").mkdir(parents=True)
    (broken / "chroma" / "chroma.sqlite3").write_bytes(b"not a database, e.g. a half-copied backup\n" * 100)
    for args in (("stats",), ("ask", "What did Macron say about troops?")):
        line = one_error_line(run_cli(*args, data_dir=broken), 1)
        assert line.startswith(f"error: {broken / 'chroma'}: Chroma cannot open this store (") and "--data-dir" in line


COMMANDS = ["ingest", "stats", "list", "show", "delete", "retrieve", "ask", "eval", "serve", "mcp"]


def test_help_labels_no_flag_with_a_type() -> None:
    """A flag takes no value: no "<bool>" beside --help, --json, --quiet or --dry-run; options that
    take one keep their type."""
    for args in [("--help",), *((c, "--help") for c in COMMANDS)]:
        result = ok(run_cli(*args, env={"COLUMNS": "120"}))
        assert "<bool>" not in result.stdout, (args, result.stdout)
    assert "<path>" in ok(run_cli("stats", "--help", env={"COLUMNS": "120"})).stdout


@pytest.mark.parametrize(("args", "line"), [
    (("stats", "--bogus"), "error: No such option: --bogus (see `newsbot stats --help`)"),
    (("stats", "extra"), "error: Got unexpected extra argument(s) (extra) (see `newsbot stats --help`)"),
    (("show",), "error: Missing argument 'article_id' (see `newsbot show --help`)"),
    (("retrieve", "UN vote", "--k", "many"), "error: Invalid value for '--k': "),
    (("nope",), "error: No such command 'nope' (see `newsbot --help`)"),
], ids=["option", "extra", "missing", "value", "command"])
def test_usage_mistakes_are_one_error_line_like_every_other_error(args: tuple[str, ...], line: str) -> None:
    """Not Typer's "Error" box: the same "error: …" line as `ask` and the others, exit status 2."""
    assert one_error_line(run_cli(*args), 2).startswith(line)


def test_the_bare_command_still_shows_the_help() -> None:
    result = run_cli()
    assert result.returncode == 2 and "Usage: newsbot" in result.stderr + result.stdout and "error:" not in result.stderr
