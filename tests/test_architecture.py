"""The rooms and the arrows between them (docs/architecture.md), checked on the source.

Every import in every file of the rooms counts, at the top of a file or inside a function, so a
lazy import cannot hide an arrow running the wrong way or a circle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOMS = ("chatbot", "newsbot", "ingest", "vectorstore", "text", "models", "prompts")
BELOW_EVERYTHING = {"chatbot", "newsbot", "ingest", "vectorstore"}
FACES = {"gradio", "gradio_client", "fastapi", "fastapi_offline", "starlette", "mcp", "typer", "uvicorn"}
# room -> top-level packages its files must not import
FORBIDDEN: dict[str, set[str]] = {
    "chatbot": FACES | {"newsbot", "ingest"},
    "vectorstore": {"chatbot", "newsbot", "ingest"},
    "ingest": {"chatbot", "newsbot"},
    "text": BELOW_EVERYTHING,
    "models": BELOW_EVERYTHING,
    "prompts": BELOW_EVERYTHING | {"text", "models"},
}


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room_files(root: Path, rooms: tuple[str, ...] = ROOMS) -> dict[str, Path]:
    """Module name -> file, for every .py file under the rooms."""
    return {module_name(root, p): p for room in rooms if (root / room).is_dir()
            for p in sorted((root / room).rglob("*.py"))}


def imports(root: Path, path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line, imported module, names taken from it) for every import statement in the file;
    relative imports are made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(root, path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            yield node.lineno, module, [alias.name for alias in node.names]


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def violations(root: Path) -> list[str]:
    """Every wrong-way arrow and every cross-room import of a _private name, as 'file:line: ...'."""
    found = []
    for module, path in room_files(root).items():
        room = module.split(".")[0]
        where = path.relative_to(root)
        for line, target, names in imports(root, path):
            top = target.split(".")[0]
            statement = f"from {target} import {', '.join(names)}" if names else f"import {target}"
            if top in FORBIDDEN.get(room, ()):
                found.append(f"{where}:{line}: {room}/ must not import {top} ({statement})")
            if top in ROOMS and top != room:
                private = [p for p in target.split(".")[1:] if is_private(p)] + [n for n in names if is_private(n)]
                if private:
                    found.append(f"{where}:{line}: private name {', '.join(private)} imported across rooms ({statement})")
    return found


def module_graph(root: Path, room: str) -> dict[str, set[str]]:
    """Module -> modules of the same room it imports (`from pkg import mod` counts as importing pkg.mod)."""
    files = room_files(root, (room,))
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        for _line, target, names in imports(root, path):
            if target.split(".")[0] != room:
                continue
            for name in names or [""]:
                sub = f"{target}.{name}" if name else target
                dep = sub if sub in files else target
                if dep in files and dep != module:
                    graph[module].add(dep)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def circles(root: Path) -> list[str]:
    out = []
    for room in ROOMS:
        graph = module_graph(root, room)
        for component in cycles(graph):
            edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a]) if b in component]
            out.append(f"{room}/: import circle among {', '.join(component)} ({'; '.join(edges)})")
    return out


# -- the project ---------------------------------------------------------------------------------

def test_every_room_exists() -> None:
    assert [room for room in ROOMS if not (REPO / room / "__init__.py").is_file()] == []


def test_arrows_run_one_way_and_no_private_name_crosses_a_room() -> None:
    found = violations(REPO)
    assert found == [], "\n".join(found)


def test_no_import_circle_inside_a_room() -> None:
    found = circles(REPO)
    assert found == [], "\n".join(found)


# -- the checker itself, on a made-up tree --------------------------------------------------------

def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for room in ROOMS:
        (root / room).mkdir(exist_ok=True)
        (root / room / "__init__.py").touch()
    return root


@pytest.mark.parametrize(("files", "expected"), [
    ({"chatbot/a.py": "import gradio as gr\n"}, "chatbot/a.py:1: chatbot/ must not import gradio"),
    ({"chatbot/a.py": "def f():\n    from fastapi.responses import JSONResponse\n"},
     "chatbot/a.py:2: chatbot/ must not import fastapi"),
    ({"chatbot/a.py": "from mcp.server.fastmcp import FastMCP\n"}, "chatbot/ must not import mcp"),
    ({"chatbot/a.py": "from newsbot.web import server\n"}, "chatbot/ must not import newsbot"),
    ({"vectorstore/a.py": "def f():\n    from ingest.embed import X\n"}, "vectorstore/ must not import ingest"),
    ({"vectorstore/a.py": "import chatbot.service\n"}, "vectorstore/ must not import chatbot"),
    ({"ingest/a.py": "from newsbot.settings import Settings\n"}, "ingest/ must not import newsbot"),
    ({"text/a.py": "from vectorstore.indexes import tokenize\n"}, "text/ must not import vectorstore"),
    ({"models/a.py": "from ingest import pipeline\n"}, "models/ must not import ingest"),
    ({"chatbot/a.py": "from text.names import _helper\n"}, "private name _helper imported across rooms"),
    ({"newsbot/a.py": "from ingest._hidden import thing\n"}, "private name _hidden imported across rooms"),
])
def test_the_checker_finds_a_wrong_way_import(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    found = violations(write(tmp_path, files))
    assert any(expected in v for v in found), found


def test_the_checker_allows_the_right_arrows_and_private_names_inside_a_room(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "newsbot/a.py": "import gradio\nfrom chatbot.service import NewsBot\nfrom ingest.pipeline import Ingestor\n",
        "chatbot/a.py": "from vectorstore.store import NewsStore\nfrom text.names import names\nfrom models.embeddings import E\n"
                        "from chatbot.b import _private\n",
        "ingest/a.py": "from vectorstore.records import Chunk\nfrom text.sentences import sentence_spans\n",
        "vectorstore/a.py": "from models.embeddings import E\nfrom . import b\n",
    })
    assert violations(root) == []


def test_the_checker_finds_a_circle_through_a_lazy_or_relative_import(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "ingest/sources.py": "def load():\n    from ingest.fetch import load_url\n",
        "ingest/fetch.py": "from .raw import decode\n",
        "ingest/raw.py": "from ingest import sources\n",
        "ingest/ok.py": "from ingest.raw import decode\n",
    })
    assert circles(root) == ["ingest/: import circle among ingest.fetch, ingest.raw, ingest.sources "
                             "(ingest.fetch -> ingest.raw; ingest.raw -> ingest.sources; ingest.sources -> ingest.fetch)"]
