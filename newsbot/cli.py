"""The `newsbot` command: the edge where settings are read and errors become messages."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup, TyperOption

from newsbot.settings import Settings, load_settings


class _Group(TyperGroup):
    """Usage errors (an unknown option, a missing argument) in the style of every other error, one
    line "error: …", instead of Typer's "Error" box; the exit status stays 2."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _usage_errors():
            return super().invoke(ctx)


@contextmanager
def _usage_errors() -> Iterator[None]:
    try:
        yield
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `newsbot` alone shows the help
            raise
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        typer.echo(f"error: {exc.format_message().rstrip('.')}{hint}", err=True)
        raise typer.Exit(exc.exit_code) from None


app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, cls=_Group,
                  help="Answers questions about news from the articles it has read, citing the exact sentences.")

# Typer's help labels each option with its type; a flag (--json, --help) takes no value, so "<bool>" only misleads.
_option_type = TyperOption.display_type_rich
TyperOption.display_type_rich = lambda self, ctx: None if self.is_flag else _option_type(self, ctx)  # type: ignore[method-assign]

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
    from ingest.pipeline import Ingestor
    from models.embeddings import NewsEmbeddings

    overrides = {"max_file_bytes": int(max_file_mb * 1024 * 1024) if max_file_mb else None}
    settings = _settings(data_dir, **overrides)
    store = open_store(settings)
    ingestor = Ingestor(settings, store, NewsEmbeddings.from_settings(settings))
    show_bar = not quiet and sys.stderr.isatty()
    from tqdm import tqdm

    with tqdm(desc="ingest", unit="doc", disable=not show_bar, file=sys.stderr) as bar:
        summary = ingestor.run(sources, on_item=lambda _origin: bar.update(1))
    if summary.added or summary.updated or summary.merged:  # saved now, so the first answer loads them
        from vectorstore import indexes

        indexes.load(store, store.index_dir)
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


@app.command()
def reindex(data_dir: DataDir = None, as_json: AsJson = False) -> None:
    """Rebuild the BM25 and quote indexes from the store (the repair path; writes keep them in step)."""
    import time

    from vectorstore import indexes

    store = open_store(_settings(data_dir))
    started = time.perf_counter()
    index = indexes.build(store, store.index_dir)
    result = {"chunks": index.n_chunks, "articles": index.n_articles, "seconds": round(time.perf_counter() - started, 1)}
    typer.echo(json.dumps(result) if as_json else
               f"reindexed {result['chunks']} chunks of {result['articles']} articles in {result['seconds']} s")


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
    typer.echo(" · ".join([f"{art.title}\n{', '.join(art.sources)}", art.published or "undated", *[art.url] * bool(art.url)]))
    typer.echo(f"agency: {art.agency or '-'} · byline: {art.byline or '-'} · {art.n_chunks} chunks\n")
    typer.echo(store.article_text(article_id))
    if quotes:
        typer.echo("\nQuotes:")
        for q in quotes:
            typer.echo(f"  {q['speaker']}: “{q['text']}”")


def _day(flag: str, text: str | None) -> str | None:
    """`text` as a YYYY-MM-DD day; a one-line error naming the flag when it is not one."""
    import re
    from datetime import date

    if text is None:
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        pass
    fail(f"{flag} {text!r} is not a date; use YYYY-MM-DD", code=2)
    return None


@app.command()
def delete(
    article_ids: Annotated[Optional[list[str]], typer.Argument(
        metavar="ARTICLE_ID", help="Ids of the articles to remove (see `newsbot list`).", show_default=False)] = None,
    source: Annotated[Optional[str], typer.Option(
        "--source", help="Every article from this outlet (as `newsbot list` shows it).")] = None,
    before: Annotated[Optional[str], typer.Option(
        "--before", help="Every article published before this day (YYYY-MM-DD); undated ones are kept.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Remove articles and all their chunks: by id, or every one matching --source/--before."""
    from vectorstore.store import day_number

    ids = list(dict.fromkeys(article_ids or []))
    if not ids and source is None and before is None:
        fail("give article ids, or --source OUTLET and/or --before YYYY-MM-DD (see `newsbot list`)", code=2)
    if ids and (source is not None or before is not None):
        fail("give article ids or --source/--before, not both", code=2)
    day = _day("--before", before)
    cutoff = day_number(day) if day else None
    store = open_store(_settings(data_dir))

    if ids:
        targets = [art for art in map(store.article, ids) if art is not None] if dry_run else []
    else:
        targets = [art for art in store.articles()
                   if (source is None or source in art.sources)
                   and (cutoff is None or 0 < day_number(art.published) < cutoff)]
        if not targets:
            chosen = " ".join(f"{flag} {value!r}" for flag, value in (("--source", source), ("--before", before))
                              if value is not None)
            typer.echo(f"no article matches {chosen} (see `newsbot list`)", err=True)
    if dry_run:
        counts = {art.id: art.n_chunks for art in targets}
        for art in targets:
            typer.echo(f"would delete {art.id} ({art.n_chunks} chunks)  {art.title}")
    else:  # one look-up, one delete per batch of whole articles, tombstones first: indexes follow
        counts = store.delete_articles(ids or [art.id for art in targets])
        for article_id, removed in counts.items():
            typer.echo(f"deleted {article_id} ({removed} chunks)")
    failed = [article_id for article_id in ids if article_id not in counts]
    for article_id in failed:
        typer.echo(f"failed: {article_id}: no article with that id (see newsbot list)", err=True)
    if len(ids) != 1:  # one id keeps its one-line answer
        verb, n, chunks = "would delete" if dry_run else "deleted", len(counts), sum(counts.values())
        typer.echo(f"{verb} {n} article{'s' * (n != 1)} ({chunks} chunk{'s' * (chunks != 1)})")
    if failed:
        raise typer.Exit(1)


Source = Annotated[Optional[str], typer.Option("--source", help="Only articles from this outlet.")]
Since = Annotated[Optional[str], typer.Option("--since", help="Only articles published on or after (YYYY-MM-DD).")]
Until = Annotated[Optional[str], typer.Option("--until", help="Only articles published on or before (YYYY-MM-DD).")]
ArticleOpt = Annotated[Optional[str], typer.Option("--article", help="Only this article id.")]
Batch = Annotated[Optional[Path], typer.Option("--batch", help="JSONL file with a `question` field per line.")]
K = Annotated[Optional[int], typer.Option("--k", help="How many passages to retrieve.")]


def _bot(settings: Settings, need_articles: bool = False):  # noqa: ANN202 - chatbot.service.NewsBot
    from chatbot.service import NewsBot
    from vectorstore.errors import StoreError

    try:
        bot = NewsBot(settings)
    except StoreError as exc:
        fail(str(exc))
    if need_articles and bot.store.count() == 0:  # the default store is ./.newsbot: easy to miss from elsewhere
        fail(f"the store in {settings.data_dir} has no articles yet: run `newsbot ingest FILES…` first, "
             "or point --data-dir / NEWSBOT_DATA_DIR at the store you filled")
    return bot


def _questions(question: str | None, batch: Path | None) -> list[dict[str, Any]]:
    if batch is None:
        if not question:
            fail("give a QUESTION or --batch FILE.jsonl")
        return [{"question": question}]
    rows = []
    for lineno, line in enumerate(batch.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(f"{batch}:{lineno}: invalid JSON ({exc.msg})")
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            fail(f"{batch}:{lineno}: each line needs a text `question` field")
        rows.append(row)
    return rows


def _filters(bot: Any, source: str | None, since: str | None, until: str | None,  # noqa: ANN202
             article: str | None):
    """Filters as typed, checked: real dates, and an outlet the store has (in any letter case)."""
    from chatbot.retrieval import Filters

    if source is not None:
        outlets = bot.retriever.index.outlets()
        match = next((o for o in outlets if o.casefold() == source.strip().casefold()), None)
        if match is None:
            shown = ", ".join(outlets[:10]) + (f" … ({len(outlets)} in all, see `newsbot stats`)" if len(outlets) > 10 else "")
            fail(f"--source {source!r}: no article from that outlet; the store has {shown or 'none'}", code=2)
        source = match
    return Filters(source=source, date_from=_day("--since", since), date_to=_day("--until", until),
                   article_id=article)


@app.command()
def retrieve(
    question: Annotated[Optional[str], typer.Argument()] = None,
    k: K = None, as_json: AsJson = False, batch: Batch = None, data_dir: DataDir = None,
    source: Source = None, since: Since = None, until: Until = None, article: ArticleOpt = None,
) -> None:
    """The passages a question retrieves (dense + BM25, fused)."""
    rows = _questions(question, batch)
    bot = _bot(_settings(data_dir), need_articles=True)
    filters = _filters(bot, source, since, until, article)
    for row in rows:
        found = bot.retrieve(row["question"], k, filters, row.get("question_date"))
        results = [p.as_dict() for p in found.passages]
        if as_json or batch:
            typer.echo(json.dumps({**row, "results": results}, ensure_ascii=False))
            continue
        for i, p in enumerate(found.passages, 1):
            typer.echo(f"{i:>2}. [{p.score:.4f}] {p.chunk_id} · {p.title} · {p.source or '-'} · {p.published or '-'}")
            typer.echo("    " + p.text[:300].replace("\n", " ") + ("…" if len(p.text) > 300 else ""))


@app.command()
def ask(
    question: Annotated[Optional[str], typer.Argument()] = None,
    k: K = None, as_json: AsJson = False, batch: Batch = None, data_dir: DataDir = None,
    llm: Annotated[Optional[str], typer.Option("--llm", help="Answer with the configured LLM (model name).")] = None,
    source: Source = None, since: Since = None, until: Until = None, article: ArticleOpt = None,
) -> None:
    """Answer with numbered citations (extractive by default, an LLM with --llm)."""
    from chatbot.answer import Answer

    rows = _questions(question, batch)
    bot = _bot(_settings(data_dir), need_articles=True)
    filters = _filters(bot, source, since, until, article)
    for row in rows:
        kwargs = {"history": row.get("history"), "filters": filters, "k": k, "llm": llm, "as_of": row.get("question_date")}
        if as_json or batch:
            answer = bot.ask(row["question"], **kwargs)
            extra = {key: v for key, v in row.items() if key not in {"question", "history"}}
            typer.echo(json.dumps({**extra, **answer.as_dict()}, ensure_ascii=False))
            continue
        final = None
        for event in bot.stream(row["question"], **kwargs):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        typer.echo(final.readable())


@app.command()
def quotes(
    person: Annotated[str, typer.Argument(help="A name, surname, title or role: \"Macron\", \"the French president\".")],
    about: Annotated[Optional[str], typer.Option("--about", help="Only quotes on this topic.")] = None,
    as_json: AsJson = False, data_dir: DataDir = None,
    source: Source = None, since: Since = None, until: Until = None, article: ArticleOpt = None,
) -> None:
    """What a person is quoted saying, newest first, with the article each quote is from."""
    from chatbot.answer import human_date

    if not person.strip():
        fail("give a PERSON: a name, surname, title or role", code=2)
    bot = _bot(_settings(data_dir), need_articles=True)
    found = bot.quotes(person, about, _filters(bot, source, since, until, article))
    if as_json:
        typer.echo(json.dumps(found.as_dict(), ensure_ascii=False))
        return
    if found.message:
        typer.echo(found.message)
        return
    role = f" ({found.roles[0]})" if found.roles else ""
    topic = f" about {about}" if about else ""
    typer.echo(f"{found.person}{role}: {len(found.quotes)} quote{'s' * (len(found.quotes) != 1)}{topic}\n")
    for n, q in enumerate(found.quotes, 1):
        meta = " · ".join(str(x) for x in (q["source"], human_date(q["published"]), q["url"]) if x)
        typer.echo(f"[{n}] “{q['quote']}”\n    {q['title']} ({meta})\n    > {q['sentence']}")


@app.command("eval")
def evaluate(
    qa_file: Path,
    k: Annotated[int, typer.Option("--k")] = 10,
    as_json: AsJson = False,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a Markdown report here.")] = None,
    llm: Annotated[Optional[str], typer.Option("--llm")] = None,
    data_dir: DataDir = None,
    quiet: Quiet = False,
    min_fact_recall: Annotated[Optional[float], typer.Option()] = None,
    min_hits4: Annotated[Optional[float], typer.Option("--min-hits4")] = None,
    min_citation_precision: Annotated[Optional[float], typer.Option()] = None,
    min_abstention: Annotated[Optional[float], typer.Option(help="Share of unanswerable questions abstained.")] = None,
    min_accuracy: Annotated[Optional[float], typer.Option(help="RealTimeQA: share answered right.")] = None,
) -> None:
    """Score answers against the facts in a QA file; non-zero exit when a --min-* is missed."""
    from tqdm import tqdm

    from newsbot.evaluation.qa_formats import QAFormatError, load_qa
    from newsbot.evaluation.report import render
    from newsbot.evaluation.scorer import evaluate as run_eval

    try:
        items = load_qa(qa_file)
    except (OSError, QAFormatError) as exc:
        fail(f"{qa_file}: {exc}")
    bot = _bot(_settings(data_dir))
    with tqdm(total=len(items), desc="eval", disable=quiet or not sys.stderr.isatty(), file=sys.stderr) as bar:
        summary, results = run_eval(bot, items, k, llm, progress=lambda: bar.update(1))
    if report:
        report.write_text(render(summary, results, f"newsbot eval — {qa_file.name}"), encoding="utf-8")
    overall = summary["overall"]
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        for key, value in overall.items():
            if value is not None:
                typer.echo(f"{key:>24}: {value}")
    gates = {"fact_recall": min_fact_recall, "hits@4": min_hits4, "citation_precision": min_citation_precision,
             "abstained_unanswerable": min_abstention, "accuracy": min_accuracy}
    missed = [f"{name} {overall.get(name)} < {floor}" for name, floor in gates.items()
              if floor is not None and (overall.get(name) is None or overall[name] < floor)]
    for line in missed:
        typer.echo(f"threshold missed: {line}", err=True)
    if missed:
        raise typer.Exit(2)


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 7860,
    data_dir: DataDir = None,
) -> None:
    """Chat page, JSON API and embeddable widget in one process."""
    settings = _settings(data_dir)
    # Gradio keeps uploads (and serves files) from one folder, by default <tmp>/gradio shared by every
    # Gradio app on the machine; read when gradio is imported, so set before.
    os.environ.setdefault("GRADIO_TEMP_DIR", str(Path(settings.data_dir).resolve() / "uploads"))
    from newsbot.web.server import run

    open_store(settings)  # fail fast, with a clear message, when another process holds the store
    run(settings, host, port)


@app.command()
def mcp(
    http: Annotated[Optional[int], typer.Option("--http", help="Serve streamable HTTP on this port instead of stdio.")] = None,
    data_dir: DataDir = None,
) -> None:
    """MCP server with the tools search_news, ask_news and list_sources (stdio by default)."""
    from newsbot.mcp import run
    from vectorstore.errors import StoreError
    from vectorstore.store import NewsStore

    settings = _settings(data_dir)
    try:  # the lock now (a held store fails at once); Chroma and the model load while the tools are listed
        opener = NewsStore.opener(settings)
    except StoreError as exc:
        fail(str(exc))
    run(settings, http, opener)


@app.command("prepare-models")
def prepare_models(
    int8: Annotated[bool, typer.Option("--int8", help="Also make the int8 export (NEWSBOT_ONNX_QUANTIZE=true).")] = False,
    fp32: Annotated[bool, typer.Option("--fp32", help="Also make the fp32 export (NEWSBOT_ONNX_QUANTIZE=false).")] = False,
) -> None:
    """Export the embedding model to ONNX now (`make install` runs this; otherwise the first use does)."""
    from models.embeddings import NewsEmbeddings

    settings = load_settings()
    if settings.embedding_backend != "onnx":
        typer.echo(f"embedding_backend is {settings.embedding_backend!r}: nothing to export")
        return
    wanted = {settings.onnx_quantize} | ({True} if int8 else set()) | ({False} if fp32 else set())
    for quantize in sorted(wanted):
        embedder = NewsEmbeddings(settings.embedding_model, settings.embedding_batch_size, backend="onnx",
                                  cache_dir=settings.onnx_cache_dir, quantize=quantize)
        embedder.load()
        typer.echo(f"{'int8' if quantize else 'fp32'} ONNX export of {settings.embedding_model}: {embedder.model.model_dir}")


@app.command("train-reader")
def train_reader(
    data_dir: Annotated[Path, typer.Argument(help="Week folders, each with questions.jsonl and corpus.jsonl[.gz].")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the reader (use it with NEWSBOT_READER_MODEL).")],
    work: Annotated[Optional[Path], typer.Option("--work", help="Pools and checkpoints; a stopped run resumes.")] = None,
    weeks: Annotated[Optional[int], typer.Option("--weeks", help="Only the most recent N weeks.")] = None,
    layers: Annotated[int, typer.Option("--layers", help="Transformer layers of MiniLM kept (1-6).")] = 3,
    epochs: Annotated[int, typer.Option("--epochs", help="Passes over the training questions.")] = 3,
    fp32: Annotated[bool, typer.Option("--fp32", help="Ship fp32 weights instead of int8.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
) -> None:
    """Train the neural answer reader on past news quizzes (needs torch); prints its held-out figures."""
    from newsbot.train_reader import TrainConfig, train

    if not 1 <= layers <= 6:
        fail(f"--layers {layers}: MiniLM has 6 layers, keep 1 to 6")
    settings = load_settings()
    try:
        train(data_dir, out, work or out.with_name(f"{out.name}-work"), Path(settings.embedding_model), weeks,
              cfg=TrainConfig(layers=layers, epochs=epochs, seed=seed), quantize=not fp32, progress=typer.echo)
    except (ValueError, OSError) as exc:
        fail(str(exc))
    typer.echo(f"wrote {out}")


# Commands that only read: once they are done, nothing is left to save, so they end at once
# (atexit handlers run, the output is flushed) instead of tearing the interpreter down, which
# (Chroma, ONNX Runtime, pydantic's and LangChain's classes) took ~0.4 s of a cold `newsbot ask`.
_READ_ONLY = {"ask", "retrieve", "stats", "list", "show", "quotes"}


def _command() -> str | None:
    return next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)


def _exit_now(code: object) -> None:
    import atexit
    import contextlib

    if not (code is None or isinstance(code, int)) or not hasattr(atexit, "_run_exitfuncs"):
        return  # a message to print, or not CPython: the ordinary way out
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: the ordinary way out reports it
        return
    atexit._run_exitfuncs()  # the store lock is released there
    for stream in (sys.stdout, sys.stderr):  # and whatever those handlers wrote
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code or 0)


def main() -> None:
    from difflib import get_close_matches

    from pydantic import ValidationError

    from models.embeddings import ModelUnavailable

    try:
        app()
    except SystemExit as exc:  # how every command ends, done or failed
        if _command() in _READ_ONLY:
            _exit_now(exc.code)
        raise
    except ModelUnavailable as exc:  # raised wherever the model first loads: ingest, ask, serve, mcp
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    except ValidationError as exc:  # the settings, read once when a command starts
        for error in exc.errors():
            name = ".".join(map(str, error["loc"]))
            if error["type"] == "extra_forbidden":  # only newsbot.toml can name a setting that does not exist
                near = get_close_matches(name.replace("-", "_"), list(Settings.model_fields), n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                typer.echo(f"error: newsbot.toml: unknown setting {name!r}{hint}", err=True)
            else:
                typer.echo(f"error: setting {name!r} (NEWSBOT_{name.upper()} or newsbot.toml): {error['msg']}, "
                           f"got {error.get('input')!r}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
