"""Server-side requests: URL ingest through the real CLI and the chat page's Ingest tab never
reaches loopback, private, link-local or metadata addresses, however the URL spells them, nor
through a redirect; every fetch is capped in bytes (counted after decompression) and in time.

A loopback listener records every request it gets: refused URLs must leave it untouched, and
the same URLs with private addresses allowed must reach it (so the spellings are real ones).
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import brotli
import httpx
import pytest

from ingest.errors import IngestError
from ingest.fetch import UrlPolicy, fetch
from newsbot.settings import load_settings
from tests.conftest import run_cli_measured, run_parallel, story
from tests.server_helpers import RunningServer, gradio_call, newsbot_server

pytestmark = pytest.mark.slow  # runs the real CLI and a real server

ALLOW_PRIVATE = {"NEWSBOT_ALLOW_PRIVATE_URLS": "1"}
LIMIT = 1_000_000
ARTICLE = f"""<html><head><title>Harbour wall repairs begin</title></head><body><article>
<h1>Harbour wall repairs begin</h1>{"".join(f"<p>{p}</p>" for p in story("Saltmouth", 8).split(chr(10) * 2))}
</article></body></html>""".encode()


def loopback_spellings(port: int) -> dict[str, str]:
    """Ways of writing this machine's own address; each has its own path, to tell hits apart."""
    return {
        "ipv6": f"http://[::1]:{port}/s/ipv6",
        "decimal": f"http://2130706433:{port}/s/decimal",
        "hex": f"http://0x7f000001:{port}/s/hex",
        "octal": f"http://0177.0.0.1:{port}/s/octal",
        "short": f"http://127.1:{port}/s/short",
        "name": f"http://localhost:{port}/s/name",
        "mapped": f"http://[::ffff:127.0.0.1]:{port}/s/mapped",
        "unspecified": f"http://0.0.0.0:{port}/s/unspecified",
        "userinfo": f"http://example.com@127.0.0.1:{port}/s/userinfo",
        "upper": f"http://LocalHost:{port}/s/upper",
    }


def other_private(port: int) -> dict[str, str]:
    return {
        "metadata": "http://169.254.169.254/latest/meta-data/",
        "link-local": f"http://[fe80::1]:{port}/s/link-local",
        "ula": f"http://[fd00::1]:{port}/s/ula",
        "rfc1918": f"http://10.0.0.1:{port}/s/rfc1918",
        "cgnat": f"http://100.64.0.1:{port}/s/cgnat",
        "nat64": f"http://[64:ff9b::7f00:1]:{port}/s/nat64",
        "6to4": f"http://[2002:7f00:1::]:{port}/s/6to4",
    }


# -- the listener --------------------------------------------------------------------------------

class Listener:
    """A loopback HTTP server (IPv4, and IPv6 on the same port when the machine has it)."""

    def __init__(self, brotli_bomb: bytes, gzip_bomb: bytes) -> None:
        self.hits: list[str] = []
        self.drip_seconds: list[float] = []
        self.bodies = {"/bomb.br": ("br", brotli_bomb), "/bomb.gz": ("gzip", gzip_bomb)}
        handler = type("Handler", (_Handler,), {"listener": self})
        self.servers = [ThreadingHTTPServer(("127.0.0.1", 0), handler)]
        self.port = self.servers[0].server_address[1]
        try:
            self.servers.append(_IPv6Server(("::1", self.port), handler))
        except OSError:
            pass
        self.ipv6 = len(self.servers) == 2
        for server in self.servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def spelled_hits(self) -> list[str]:
        return [h for h in self.hits if h.startswith("/s/")]

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    listener: Listener
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.listener.hits.append(self.path)
        path = urlsplit(self.path).path
        if path == "/redirect":
            self._send(302, b"", Location=parse_qs(urlsplit(self.path).query)["to"][0])
        elif path == "/article":
            self._send(200, ARTICLE, **{"Content-Type": "text/html; charset=utf-8"})
        elif path == "/big":
            self._send(200, b"The harbour wall is long. " * (3 * LIMIT // 26), **{"Content-Type": "text/plain"})
        elif path in self.listener.bodies:
            coding, body = self.listener.bodies[path]
            self._send(200, body, **{"Content-Type": "text/plain", "Content-Encoding": coding})
        elif path == "/drip":
            self._drip()
        else:
            self._send(404, b"not here")

    def _send(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:  # a client that stops at its limit hangs up mid-body
            self.close_connection = True

    def _drip(self) -> None:
        """An endless-looking page, one byte every half second, until the client hangs up."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Connection", "close")
        self.end_headers()
        start = time.monotonic()
        try:
            for _ in range(40):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.5)
        except OSError:
            pass
        self.listener.drip_seconds.append(time.monotonic() - start)
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


def brotli_bomb(megabytes: int) -> bytes:
    """`megabytes` MiB of zeros, brotli-compressed to under a kilobyte."""
    compressor, zeros = brotli.Compressor(quality=5), bytes(1 << 20)
    return b"".join(compressor.process(zeros) for _ in range(megabytes)) + compressor.finish()


def gzip_bomb(megabytes: int) -> bytes:
    compressor, zeros = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS), bytes(1 << 20)
    return b"".join(compressor.compress(zeros) for _ in range(megabytes)) + compressor.flush()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    served = Listener(brotli_bomb(512), gzip_bomb(64))
    yield served
    served.close()


@pytest.fixture(autouse=True)
def fresh_hits(listener: Listener) -> None:
    listener.hits.clear()


# -- helpers --------------------------------------------------------------------------------------

def failures(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """URL → reason, from `newsbot ingest --json`."""
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    return dict(f.split(": ", 1) for f in summary["failures"]) | {"_added": str(summary["added"])}


def reason_for(found: dict[str, str], url: str) -> str:
    [reason] = [r for u, r in found.items() if u.lower() == url.lower()]
    return reason


# -- the CLI ------------------------------------------------------------------------------------

def test_the_cli_refuses_every_spelling_of_a_private_address_without_connecting(listener: Listener,
                                                                                tmp_path: Path) -> None:
    loopback = loopback_spellings(listener.port)
    refused = {**loopback, **other_private(listener.port)}
    # The same loopback URLs with private addresses allowed: each must reach the listener,
    # or it was never a way to reach it (httpx itself rejects the octal form).
    reachable = {k: u for k, u in loopback.items() if k != "octal" and (listener.ipv6 or k not in ("ipv6", "mapped"))}
    runs = run_parallel({
        "default": (("ingest", *refused.values(), "--json"), {"data_dir": tmp_path / "default"}),
        "allowed": (("ingest", *reachable.values(), "--json"), {"data_dir": tmp_path / "allowed", "env": ALLOW_PRIVATE}),
    })
    found = failures(runs["default"])
    assert runs["default"].returncode == 1 and found["_added"] == "0"
    for name, url in refused.items():
        assert reason_for(found, url).startswith("refused"), (name, url, found)
    assert "non-public address 169.254.169.254" in reason_for(found, refused["metadata"])
    hit_paths = {urlsplit(u).path.lower() for u in listener.spelled_hits()}
    assert hit_paths == {urlsplit(u).path.lower() for u in reachable.values()}, "the allowed run reached the listener"
    allowed = failures(runs["allowed"])
    assert all(reason_for(allowed, u) == "HTTP 404" for u in reachable.values()), allowed
    # Only the allowed run's requests: the refused run sent none.
    assert len(listener.spelled_hits()) == len(reachable)


def test_a_slow_drip_is_cut_off_by_the_total_deadline(listener: Listener, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{listener.port}/drip"
    result, _, _ = run_cli_measured("ingest", url, "--json", data_dir=tmp_path / "data",
                                 env={**ALLOW_PRIVATE, "NEWSBOT_FETCH_TIMEOUT_S": "2"})
    assert result.returncode == 1
    assert reason_for(failures(result), url).startswith("timed out"), result.stdout
    deadline = time.monotonic() + 5
    while not listener.drip_seconds and time.monotonic() < deadline:
        time.sleep(0.1)  # the listener notices the hang-up at its next byte
    [seconds] = listener.drip_seconds
    assert seconds < 2 + 1.5, f"the client read the drip for {seconds:.1f} s with a 2 s timeout"


def test_the_byte_cap_counts_decompressed_bytes_and_a_bomb_is_stopped_early(listener: Listener, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{listener.port}"
    urls = {"plain": f"{base}/big", "gzip": f"{base}/bomb.gz", "brotli": f"{base}/bomb.br"}
    result, _, peak = run_cli_measured("ingest", *urls.values(), "--json", data_dir=tmp_path / "data",
                                        env={**ALLOW_PRIVATE, "NEWSBOT_MAX_FILE_BYTES": str(LIMIT)})
    found = failures(result)
    assert result.returncode == 1 and found["_added"] == "0"
    for kind, url in urls.items():
        assert f"over the {LIMIT:,}-byte limit" in reason_for(found, url), (kind, found)
    # 809 bytes of brotli are 512 MiB of zeros: decompressed in one go they would show here, over
    # what the same command needs for one refused plain body (the model and libraries, which vary).
    _, _, baseline = run_cli_measured("ingest", urls["plain"], "--json", data_dir=tmp_path / "baseline",
                                       env={**ALLOW_PRIVATE, "NEWSBOT_MAX_FILE_BYTES": str(LIMIT)})
    peak_mib, baseline_mib = peak // 2**20, baseline // 2**20
    assert peak_mib < baseline_mib + 256, f"ingest peaked at {peak_mib} MiB, {baseline_mib} MiB without the bombs"


# -- redirects, hop by hop ------------------------------------------------------------------------

def test_every_redirect_hop_is_checked_again(listener: Listener) -> None:
    """Redirects need one trusted host to start from: `allowed_url_hosts` names the listener's
    own host:port, so every other spelling of loopback stays refused."""
    port = listener.port
    settings = load_settings(allowed_url_hosts=[f"127.0.0.1:{port}"])
    policy = UrlPolicy.from_settings(settings)

    def via_redirect(target: str) -> str:
        return str(httpx.URL(f"http://127.0.0.1:{port}/redirect", params={"to": target}))

    body, kind = fetch(via_redirect(f"http://127.0.0.1:{port}/article"), LIMIT, 5, policy)
    assert b"Harbour wall repairs begin" in body and "text/html" in kind  # a trusted hop is followed
    # (The userinfo spelling names the trusted host itself; here the trick goes the other way.)
    spellings = {k: u for k, u in loopback_spellings(port).items() if k != "userinfo"}
    targets = [*spellings.values(), f"http://127.0.0.1:{port}@localhost:{port}/s/userinfo", other_private(port)["metadata"],
               via_redirect(f"http://localhost:{port}/s/twice"),  # a second hop
               "file:///etc/passwd", f"ftp://127.0.0.1:{port}/s/ftp"]
    for target in targets:
        listener.hits.clear()
        with pytest.raises(IngestError, match="^refused"):
            fetch(via_redirect(target), LIMIT, 5, policy)
        assert listener.hits and not listener.spelled_hits(), (target, listener.hits)
    with pytest.raises(IngestError, match="^refused"):  # and without the trusted host, not even the first hop
        fetch(via_redirect(f"http://127.0.0.1:{port}/article"), LIMIT, 5)


# -- the chat page's Ingest tab ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with newsbot_server(tmp_path_factory.mktemp("ssrf-serve") / "data") as running:
        yield running


def test_the_ingest_tab_refuses_private_urls_and_gradio_fetches_none(listener: Listener, server: RunningServer) -> None:
    refused = {**loopback_spellings(listener.port), **other_private(listener.port)}
    for name, url in refused.items():
        event, payload = gradio_call(server, "add", [url, None])
        assert event == "complete" and payload[0].startswith("refused: "), (name, event, payload)
    # Gradio fetches URLs itself in two places: the file route, and a file input given a URL.
    for url in (f"http://127.0.0.1:{listener.port}/s/file-route", f"http://localhost:{listener.port}/s/file-route2"):
        assert httpx.get(f"{server.url}/gradio_api/file={url}").status_code == 403
    upload = {"path": f"http://127.0.0.1:{listener.port}/s/upload.txt", "meta": {"_type": "gradio.FileData"}}
    assert gradio_call(server, "add", ["", upload])[0] == "error"
    assert listener.spelled_hits() == []
    health = httpx.get(f"{server.url}/api/health").json()
    assert health["articles"] == 1, health  # the seed article only
