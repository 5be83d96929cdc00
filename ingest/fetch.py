"""Fetch http(s) URLs with a timeout, a size cap and a guard against private addresses."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import httpx

from ingest.errors import IngestError
from ingest.sources import Failure, Loaded, RawDoc, decode

_FEED_TYPES = ("rss", "atom", "xml")
_MAX_REDIRECTS = 5


def check_public(url: str) -> None:
    host = urlsplit(url).hostname
    if not host:
        raise IngestError("URL has no host")
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        raise IngestError(f"unreachable: cannot resolve {host} ({exc.strerror})") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise IngestError(f"refused: {host} resolves to non-public address {address}")


def fetch(url: str, max_bytes: int, timeout: float, allow_private: bool = False) -> tuple[bytes, str]:
    """The body (decompressed, capped) and content type; redirects re-checked hop by hop."""
    with httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": "newsbot"}) as client:
        for _ in range(_MAX_REDIRECTS + 1):
            if not allow_private:
                check_public(url)
            try:
                with client.stream("GET", url) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if response.status_code >= 400:
                        raise IngestError(f"HTTP {response.status_code}")
                    body = bytearray()
                    for part in response.iter_bytes():
                        body += part
                        if len(body) > max_bytes:
                            raise IngestError(f"response is over the {max_bytes:,}-byte limit")
                    return bytes(body), response.headers.get("content-type", "")
            except httpx.HTTPError as exc:
                raise IngestError(f"unreachable ({type(exc).__name__}: {exc})") from None
    raise IngestError("too many redirects")


def load_url(url: str, max_bytes: int, timeout: float, allow_private: bool = False) -> Iterator[Loaded]:
    try:
        data, content_type = fetch(url, max_bytes, timeout, allow_private)
        if any(t in content_type for t in _FEED_TYPES) or data.lstrip()[:200].find(b"<rss") >= 0:
            from ingest.feeds import parse_feed

            yield from parse_feed(data, url)
            return
        charset = content_type.split("charset=")[-1].strip() if "charset=" in content_type else None
        text = decode(data, charset)
        yield RawDoc(url, text, is_html="html" in content_type or "<html" in text[:1000].lower(), hints={"url": url})
    except IngestError as exc:
        yield Failure(url, str(exc))
