"""newsbot as MCP tools (official `mcp` SDK): search_news, ask_news, quotes_by, list_sources.

The server answers `initialize` and lists its tools at once; the store, the indexes and the
embedding model load in a background thread meanwhile, and the first tool call waits for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib.metadata import version
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from pydantic import Field

from vectorstore.lock import exit_cleanly_on_sigterm

if TYPE_CHECKING:
    from chatbot.service import NewsBot

_ISO = r"^\d{4}-\d{2}-\d{2}$"


class LoadingBot:
    """A NewsBot being built in a background thread; `get()` waits for it (and raises what building raised)."""

    def __init__(self, build: Callable[[], NewsBot]) -> None:
        self._build = build
        self._bot: NewsBot | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="newsbot-load", daemon=True)

    def start(self) -> LoadingBot:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._bot = self._build()
        except BaseException as exc:  # kept for the tool calls, which report it
            self._error = exc
        finally:
            self._done.set()

    def get(self) -> NewsBot:
        self._done.wait()
        if self._error is not None:
            raise ToolError(f"newsbot could not load its store or model: {self._error}")
        assert self._bot is not None
        return self._bot


def build_server(bot: NewsBot | LoadingBot, host: str = "127.0.0.1", port: int = 8000) -> FastMCP:
    get_bot = bot.get if isinstance(bot, LoadingBot) else lambda: bot
    server = FastMCP("newsbot", instructions="Search and question the news articles newsbot has read; "
                     "every answer cites the exact sentences it used.", host=host, port=port)
    # FastMCP takes no version and reports the SDK's own as the server's: report newsbot's.
    server._mcp_server.version = version("newsbot")

    @server.tool()
    def search_news(
        query: Annotated[str, Field(min_length=1, max_length=1000, description="What to look for.")],
        k: Annotated[int, Field(ge=1, le=50, description="How many passages to return.")] = 5,
        source: Annotated[str | None, Field(description="Only this outlet, e.g. 'AFP'.")] = None,
        since: Annotated[str | None, Field(pattern=_ISO, description="Published on or after, YYYY-MM-DD.")] = None,
        until: Annotated[str | None, Field(pattern=_ISO, description="Published on or before, YYYY-MM-DD.")] = None,
    ) -> list[dict[str, Any]]:
        """Passages from the stored articles that match the query, best first, each with its citation."""
        from chatbot.retrieval import Filters

        found = get_bot().retrieve(query, k, Filters(source=source, date_from=since, date_to=until))
        return [p.as_dict() for p in found.passages]

    @server.tool()
    def ask_news(
        question: Annotated[str, Field(min_length=1, max_length=1000, description="A question about the news.")],
    ) -> dict[str, Any]:
        """A short answer quoting the articles, with numbered citations; says so when the articles don't answer."""
        answering = get_bot()
        try:
            return answering.ask(question).as_dict()
        except Exception as exc:  # a tool error for the agent, never a dead server
            raise ToolError(f"could not answer: {exc}") from exc

    @server.tool()
    def quotes_by(
        person: Annotated[str, Field(min_length=1, max_length=300, description="A name, surname, title or role.")],
        about: Annotated[str | None, Field(max_length=300, description="Only quotes on this topic.")] = None,
    ) -> dict[str, Any]:
        """What a person is quoted saying in the stored articles, newest first, each with its source."""
        return get_bot().quotes(person, about).as_dict()

    @server.tool()
    def list_sources() -> dict[str, Any]:
        """The outlets in the store, with article and chunk counts and the date range."""
        from vectorstore.stats import store_stats

        return store_stats(get_bot().store)

    return server


def run(settings: Any, http_port: int | None = None, open_store: Callable[[], Any] | None = None) -> None:
    """Serve at once; `open_store` (from `NewsStore.opener`, the lock already taken) opens the store in the background."""

    def load() -> NewsBot:
        from chatbot.service import NewsBot

        bot = NewsBot(settings, store=open_store() if open_store else None)
        bot.warm_up()
        return bot

    server = build_server(LoadingBot(load).start(), port=http_port or 8000)
    exit_cleanly_on_sigterm()
    server.run("streamable-http" if http_port else "stdio")
