"""Files and origins on a real `newsbot serve`: no route hands out a file from outside its own
folder, however the path is spelled; the Ingest tab reads only files that were uploaded to it,
within the size and type limits; and no foreign origin (nor `null`) is granted CORS, not even
when the server is reached under a non-local host name.

Canary files, each holding a unique token inside article-like text, sit in the repository
root (the server's working directory), next to the data directory and inside it: the token
must never come back, neither from a file route nor from the store after an ingest attempt.
"""

from __future__ import annotations

import http.client
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest

from tests.conftest import REPO, story
from tests.server_helpers import RunningServer, gradio_call, newsbot_server

pytestmark = pytest.mark.slow  # starts a real server

MAX_UPLOAD = 50_000
FILE_DATA = {"_type": "gradio.FileData"}


@dataclass
class Site:
    server: RunningServer
    token: str
    canaries: list[Path]


def canary_text(token: str) -> str:
    return f"Quillmere lighthouse keeper {token} reports a storm\n\n" + story(f"Quillmere {token}", 6)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    token = f"CANARY{secrets.token_hex(8)}"
    root = tmp_path_factory.mktemp("static")
    data_dir = root / "data"
    data_dir.mkdir()
    # The token is in the files, never in their names: error pages echo the path asked for.
    name = f"newsbot-canary-{secrets.token_hex(4)}.txt"
    canaries = [REPO / name, root / "canary-next-to-data.txt", data_dir / "canary-inside-data.txt"]
    try:
        for canary in canaries:
            canary.write_text(canary_text(token), encoding="utf-8")
        with newsbot_server(data_dir, {"NEWSBOT_MAX_UPLOAD_BYTES": str(MAX_UPLOAD)}) as running:
            yield Site(running, token, canaries)
    finally:
        canaries[0].unlink(missing_ok=True)  # the one outside tmp


def raw_get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET with the path sent exactly as written (httpx would resolve the dot segments first)."""
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.read()


def upload(server: RunningServer, name: str, content: bytes) -> httpx.Response:
    return httpx.post(f"{server.url}/gradio_api/upload", files=[("files", (name, content))], timeout=60)


def articles(server: RunningServer) -> int:
    return httpx.get(f"{server.url}/api/health").json()["articles"]


def retrieved(server: RunningServer, question: str) -> str:
    return httpx.post(f"{server.url}/api/retrieve", json={"question": question, "k": 10}, timeout=60).text


# -- no file outside a served folder ------------------------------------------------------------

ROUTES = ["/static/", "/assets/", "/static-offline-docs/", "/gradio_api/file=", "/gradio_api/file/", "/file=",
          "/gradio_api/static/", "/gradio_api/assets/", "/svelte/", "/custom_component/x/client/y/", "/widget.js/",
          "/embed/", "/embed.js/", "/favicon.ico/", "/gradio_api/proxy=", "/", "/STATIC/", "/Static-Offline-Docs/",
          "/GRADIO_API/FILE=", "/gradio_api/File=", "/Widget.js/"]


def escapes(target: Path) -> list[str]:
    """Ways to name `target` (absolute) from inside some served folder."""
    rel = str(target).lstrip("/")
    up = 14
    forms = [
        "../" * up + rel, "..%2f" * up + quote(rel, safe=""), "%2e%2e/" * up + rel, "%2e%2e%2f" * up + rel,
        "%2E%2E%2F" * up + rel, ".%2e/" * up + rel, "%252e%252e%252f" * up + rel, "..%252f" * up + rel,
        "..\\" * up + rel.replace("/", "\\"), "..%5c" * up + rel.replace("/", "%5c"), "....//" * up + rel,
        "%c0%ae%c0%ae/" * up + rel, str(target), "/" + str(target), quote(str(target), safe=""),
        "%2f" + quote(rel, safe=""), "file://" + str(target), str(target).upper(),
    ]
    if target.is_relative_to(REPO):  # relative to the server's working directory
        inside = str(target.relative_to(REPO))
        forms += [inside, "./" + inside, "newsbot/web/static/../../../" + inside,
                  "newsbot/web/static/%2e%2e/%2e%2e/%2e%2e/" + inside]
    return forms


def test_no_route_serves_a_file_from_outside_its_folder(site: Site) -> None:
    host, port = urlsplit(site.server.url).hostname, urlsplit(site.server.url).port
    conn = http.client.HTTPConnection(host, port, timeout=30)
    served = {}
    for route in ROUTES:
        for canary in site.canaries:
            for form in escapes(canary):
                status, body = raw_get(conn, route + form)
                if site.token.encode() in body:
                    served[route + form] = status
    assert served == {}, f"canary served by {len(served)} paths: {list(served)[:10]}"
    # The routes do serve what they may: their own files, and an upload through Gradio's file route.
    assert raw_get(conn, "/widget.js")[0] == 200 and raw_get(conn, "/static-offline-docs/swagger-ui.css")[0] == 200
    [uploaded] = upload(site.server, "harbour.txt", f"uploaded {site.token[::-1]}".encode()).json()
    assert site.token[::-1].encode() in raw_get(conn, f"/gradio_api/file={uploaded}")[1]
    conn.close()


# -- the Ingest tab reads uploads only ---------------------------------------------------------

def test_the_ingest_tab_reads_only_uploaded_files(site: Site) -> None:
    before = articles(site.server)
    named = [*map(str, site.canaries), site.canaries[0].name,  # relative to the working directory
             f"/tmp/gradio/../..{site.canaries[1]}", "/etc/hostname", str(REPO / "README.md")]
    for path in named:
        event, payload = gradio_call(site.server, "add", ["", {"path": path, "meta": FILE_DATA}])
        assert event == "error", (path, payload)
    assert articles(site.server) == before
    assert site.token not in retrieved(site.server, "What did the Quillmere lighthouse keeper report?")


def test_uploads_are_limited_in_size_and_type(site: Site) -> None:
    server = site.server
    before = articles(server)
    oversize = upload(server, "big.txt", canary_text("OVERSIZE").encode() * (MAX_UPLOAD // 500))
    assert oversize.status_code == 413, oversize.text  # Gradio's per-file limit, set from max_upload_bytes
    assert upload(server, "huge.txt", b"x" * (MAX_UPLOAD * 4)).status_code == 413  # the request body limit
    for name in ("report.pdf", "run.exe", "notes", "page.html.exe", "feed.xml.zip"):
        [path] = upload(server, name, canary_text(f"WRONGTYPE {name}").encode()).json()
        event, payload = gradio_call(server, "add", ["", {"path": path, "orig_name": name, "meta": FILE_DATA}])
        assert event == "error" and "file" in payload["error"].lower(), (name, payload)
    assert articles(server) == before
    # Within the limits an upload is read: the same path through the page works.
    [path] = upload(server, "harbour.txt", canary_text("ACCEPTED").encode()).json()
    event, payload = gradio_call(server, "add", ["", {"path": path, "orig_name": "harbour.txt", "meta": FILE_DATA}])
    assert event == "complete" and payload[0].startswith("1 added"), payload
    assert articles(server) == before + 1
    found = retrieved(server, "What did the Quillmere lighthouse keeper report?")
    assert "ACCEPTED" in found and "OVERSIZE" not in found and "WRONGTYPE" not in found


# -- cross-origin ----------------------------------------------------------------------------

CORS_PATHS = ["/api/health", "/api/ask", "/api/retrieve", "/v1/chat/completions", "/v1/models", "/gradio_api/info",
              "/config", "/gradio_api/queue/join", "/gradio_api/upload", "/gradio_api/call/add", "/", "/widget.js",
              "/embed/allowed"]
# Gradio grants any origin, with credentials, when the Host is not a local name: reach it as such.
HOSTS = [None, "newsbot.example", "0.0.0.0", "10.1.2.3:7860", "[::1]"]


def granted(response: httpx.Response) -> list[tuple[str, str]]:
    return [(k, v) for k, v in response.headers.items()
            if k.lower() in ("access-control-allow-origin", "access-control-allow-credentials")]


@pytest.mark.parametrize("origin", ["null", "https://evil.test", "http://localhost.evil.test", "http://127.0.0.1.evil.test"])
def test_foreign_and_null_origins_are_granted_nothing(site: Site, origin: str) -> None:
    grants = {}
    with httpx.Client(base_url=site.server.url, timeout=30) as client:
        for host in HOSTS:
            for path in CORS_PATHS:
                headers = {"Origin": origin, "Cookie": "session=1", **({"Host": host} if host else {})}
                simple = client.get(path, headers=headers)
                preflight = client.options(path, headers={**headers, "Access-Control-Request-Method": "POST",
                                                          "Access-Control-Request-Headers": "content-type, authorization"})
                for kind, response in (("GET", simple), ("OPTIONS", preflight)):
                    if granted(response):
                        grants[f"{kind} {path} Host={host}"] = granted(response)
    assert grants == {}
    # The loopback origins the settings allow by default are granted, Gradio routes included,
    # without credentials: the middleware answering above is the one that grants.
    local = httpx.get(f"{site.server.url}/gradio_api/info", headers={"Origin": "http://localhost:3000"})
    assert local.headers.get("access-control-allow-origin") == "http://localhost:3000"
    assert "access-control-allow-credentials" not in local.headers
