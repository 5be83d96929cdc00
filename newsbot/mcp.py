"""newsbot as MCP tools (official `mcp` SDK): search_news, ask_news, list_sources."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from pydantic import Field

from chatbot.retrieval import Filters
from chatbot.service import NewsBot
from vectorstore.lock import exit_cleanly_on_sigterm
from vectorstore.stats import store_stats

_ISO = r"^\d{4}-\d{2}-\d{2}$"


def build_server(bot: NewsBot, host: str = "127.0.0.1", port: int = 8000) -> FastMCP:
    server = FastMCP("newsbot", instructions="Search and question the news articles newsbot has read; "
                     "every answer cites the exact sentences it used.", host=host, port=port)

    @server.tool()
    def search_news(
        query: Annotated[str, Field(min_length=1, max_length=1000, description="What to look for.")],
        k: Annotated[int, Field(ge=1, le=50, description="How many passages to return.")] = 5,
        source: Annotated[str | None, Field(description="Only this outlet, e.g. 'AFP'.")] = None,
        since: Annotated[str | None, Field(pattern=_ISO, description="Published on or after, YYYY-MM-DD.")] = None,
        until: Annotated[str | None, Field(pattern=_ISO, description="Published on or before, YYYY-MM-DD.")] = None,
    ) -> list[dict[str, Any]]:
        """Passages from the stored articles that match the query, best first, each with its citation."""
        found = bot.retrieve(query, k, Filters(source=source, date_from=since, date_to=until))
        return [p.as_dict() for p in found.passages]

    @server.tool()
    def ask_news(
        question: Annotated[str, Field(min_length=1, max_length=1000, description="A question about the news.")],
    ) -> dict[str, Any]:
        """A short answer quoting the articles, with numbered citations; says so when the articles don't answer."""
        try:
            return bot.ask(question).as_dict()
        except Exception as exc:  # a tool error for the agent, never a dead server
            raise ToolError(f"could not answer: {exc}") from exc

    @server.tool()
    def list_sources() -> dict[str, Any]:
        """The outlets in the store, with article and chunk counts and the date range."""
        return store_stats(bot.store)

    return server


def run(settings: Any, http_port: int | None = None) -> None:
    bot = NewsBot(settings)
    bot.warm_up()
    server = build_server(bot, port=http_port or 8000)
    exit_cleanly_on_sigterm()
    server.run("streamable-http" if http_port else "stdio")
