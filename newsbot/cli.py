"""The `newsbot` command: the edge where settings are read and errors become messages."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from newsbot.settings import Settings, load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Answers questions about news from the articles it has read.")

DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="Where the store lives (NEWSBOT_DATA_DIR).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _settings(data_dir: Path | None, **overrides: Any) -> Settings:
    return load_settings(data_dir=data_dir, **overrides)


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def open_store(settings: Settings):  # noqa: ANN201 - returns vectorstore.store.NewsStore
    from vectorstore.errors import StoreError
    from vectorstore.store import NewsStore

    try:
        return NewsStore.from_settings(settings)
    except StoreError as exc:
        fail(str(exc))


@app.command()
def ingest(
    sources: Annotated[list[str], typer.Argument(help="Files, folders, feeds or http(s) URLs.")],
    data_dir: DataDir = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
    max_file_mb: Annotated[Optional[float], typer.Option(help="Per-file size limit in MB.")] = None,
) -> None:
    """Clean, chunk, embed and store articles."""
    from ingest.embed import NewsEmbeddings
    from ingest.pipeline import Ingestor

    overrides = {"max_file_bytes": int(max_file_mb * 1024 * 1024) if max_file_mb else None}
    settings = _settings(data_dir, **overrides)
    store = open_store(settings)
    ingestor = Ingestor(settings, store, NewsEmbeddings.from_settings(settings))
    show_bar = not quiet and sys.stderr.isatty()
    from tqdm import tqdm

    with tqdm(desc="ingest", unit="doc", disable=not show_bar, file=sys.stderr) as bar:
        summary = ingestor.run(sources, on_item=lambda _origin: bar.update(1))
    for failure in summary.failures:
        typer.echo(f"failed: {failure}", err=True)
    typer.echo(json.dumps(summary.as_dict()) if as_json else summary.line())
    if summary.failed:
        raise typer.Exit(1)


@app.command()
def stats(data_dir: DataDir = None, as_json: AsJson = False) -> None:
    """Articles, chunks, quotes, sources and date range in the store."""
    from vectorstore.stats import store_stats

    result = store_stats(open_store(_settings(data_dir)))
    if as_json:
        typer.echo(json.dumps(result))
        return
    for key, value in result.items():
        typer.echo(f"{key:>10}: {', '.join(map(str, value)) if isinstance(value, list) else value}")


@app.command("list")
def list_articles(data_dir: DataDir = None, as_json: AsJson = False) -> None:
    """One line per stored article."""
    from dataclasses import asdict

    for art in open_store(_settings(data_dir)).articles():
        if as_json:
            typer.echo(json.dumps(asdict(art)))
        else:
            typer.echo(f"{art.id}  {art.published or '----------'}  {', '.join(art.sources) or '-':<18.18}  {art.title}")


@app.command()
def show(article_id: str, data_dir: DataDir = None, as_json: AsJson = False) -> None:
    """An article's metadata, text and quotes."""
    from dataclasses import asdict

    store = open_store(_settings(data_dir))
    art = store.article(article_id)
    if art is None:
        fail(f"no article with id {article_id!r} (see `newsbot list`)")
    chunks = store.article_chunks(article_id)
    quotes = [q for c in chunks for q in c.quotes]
    if as_json:
        typer.echo(json.dumps({**asdict(art), "text": store.article_text(article_id), "quotes": quotes,
                               "chunks": [c.as_dict() for c in chunks]}))
        return
    typer.echo(f"{art.title}\n{', '.join(art.sources)} · {art.published or 'undated'} · {art.url or ''}")
    typer.echo(f"agency: {art.agency or '-'} · byline: {art.byline or '-'} · {art.n_chunks} chunks\n")
    typer.echo(store.article_text(article_id))
    if quotes:
        typer.echo("\nQuotes:")
        for q in quotes:
            typer.echo(f"  {q['speaker']}: “{q['text']}”")


@app.command()
def delete(article_id: str, data_dir: DataDir = None) -> None:
    """Remove an article and all its chunks."""
    removed = open_store(_settings(data_dir)).delete_article(article_id)
    if not removed:
        fail(f"no article with id {article_id!r} (see `newsbot list`)")
    typer.echo(f"deleted {article_id} ({removed} chunks)")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
