"""The MCP server through the official SDK client, started as `newsbot mcp` on a temporary store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def seeded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("mcp")
    subprocess.run([sys.executable, "-m", "newsbot.cli", "ingest", str(ROOT / "seeds"), "--data-dir", str(data_dir), "-q"],
                   check=True, capture_output=True)
    return data_dir


async def _call(data_dir: Path, tool: str, args: dict) -> tuple[object, object]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "newsbot.cli", "mcp", "--data-dir", str(data_dir)])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = await session.list_tools()
        result = await session.call_tool(tool, args)
        return tools, result


def _payload(result) -> object:  # noqa: ANN001
    if result.structuredContent is not None:
        return result.structuredContent.get("result", result.structuredContent)
    return json.loads(result.content[0].text)


async def test_tools_have_schemas_and_ask_cites_the_seed(seeded_dir: Path) -> None:
    tools, result = await _call(seeded_dir, "ask_news", {"question": "What did Macron say about troops?"})
    by_name = {t.name: t for t in tools.tools}
    assert {"search_news", "ask_news", "list_sources"} <= by_name.keys()
    assert by_name["search_news"].inputSchema["properties"]["k"]["description"]
    answer = _payload(result)
    assert not result.isError and answer["abstained"] is False
    assert "American backup" in answer["answer"]
    assert answer["citations"][0]["title"].startswith("Macron backs Trump")


async def test_search_filters_and_sources(seeded_dir: Path) -> None:
    _, hits = await _call(seeded_dir, "search_news", {"query": "UN resolution vote", "k": 2, "source": "AFP"})
    passages = _payload(hits)
    assert len(passages) == 2 and all(p["source"] == "AFP" for p in passages)
    _, sources = await _call(seeded_dir, "list_sources", {})
    assert _payload(sources)["sources"] == ["AFP"]


async def test_bad_arguments_are_a_tool_error_not_a_crash(seeded_dir: Path) -> None:
    _, result = await _call(seeded_dir, "search_news", {"query": "troops", "k": 0, "since": "yesterday"})
    assert result.isError
    assert "k" in result.content[0].text or "since" in result.content[0].text


async def test_readme_mcp_snippet_starts_a_working_server(seeded_dir: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    config = json.loads(readme.split("<!-- mcp-example -->")[1].split("```json")[1].split("```")[0])["mcpServers"]["newsbot"]
    args = [a.replace("/path/to/.newsbot", str(seeded_dir)) for a in config["args"]]
    command = str(Path(sys.executable).with_name(config["command"]))
    async with stdio_client(StdioServerParameters(command=command, args=args)) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool("list_sources", {})
    assert _payload(result)["articles"] == 1


async def test_the_server_reports_newsbot_and_its_version(seeded_dir: Path) -> None:
    """Not the MCP SDK's version: the client is told which newsbot it talks to."""
    from importlib.metadata import version

    params = StdioServerParameters(command=sys.executable, args=["-m", "newsbot.cli", "mcp", "--data-dir", str(seeded_dir)])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
    assert init.serverInfo.name == "newsbot"
    assert init.serverInfo.version == version("newsbot") != version("mcp")
