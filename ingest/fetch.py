"""Fetch http(s) URLs for ingest: a guard against private addresses, a byte cap and a deadline.

The guard sits where the connection is opened. Each host the fetch connects to (the first one
and every redirect's) is resolved once, every address it resolves to is checked, and the socket
goes to a checked address: the name cannot resolve elsewhere between check and connect (DNS
rebinding), and what is checked is what httpx connects to, however the URL spells it
(2130706433, 0x7f000001, 127.1, [::ffff:127.0.0.1], user@host ...). TLS still verifies the
name, and the Host header carries it. Proxies from the environment are not used: a proxy
would resolve the name itself.

The cap counts decompressed bytes, decompressing in bounded steps (a few hundred compressed
bytes of brotli can expand to gigabytes in one unbounded call), and one deadline covers
resolving, connecting, TLS and every read: a server dripping a byte a second is cut off too.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from ingest.errors import IngestError
from ingest.raw import Failure, Loaded, RawDoc, decode

try:
    import brotli  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - brotli comes with the web stack
    brotli = None

_FEED_TYPES = ("rss", "atom", "xml")
_MAX_REDIRECTS = 5
_ENCODINGS = ("gzip", "deflate", "br") if brotli else ("gzip", "deflate")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known prefix embeds an IPv4 address
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


@dataclass(frozen=True)
class UrlPolicy:
    """Where fetches may connect: public addresses only, unless private ones are allowed
    everywhere (`allow_private_urls`) or for the listed hosts (`allowed_url_hosts`:
    "host" or "host:port", as the URL names them)."""

    allow_private: bool = False
    allowed_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Any) -> UrlPolicy:
        return cls.of(bool(settings.allow_private_urls), settings.allowed_url_hosts or ())

    @classmethod
    def of(cls, allow_private: bool = False, allowed_hosts: Iterable[str] = ()) -> UrlPolicy:
        return cls(allow_private, frozenset(_host_key(h) for h in allowed_hosts))

    def trusts(self, host: str, port: int) -> bool:
        host = host.lower().strip("[]")
        return self.allow_private or host in self.allowed_hosts or f"{host}:{port}" in self.allowed_hosts


def _host_key(entry: str) -> str:
    """`Host`, `host:port`, `[::1]:8080` or `::1` → the lowercase form `trusts` compares."""
    entry = entry.strip().lower()
    if entry.startswith("["):
        host, _, port = entry[1:].partition("]")
        return f"{host}{port}" if port.startswith(":") else host
    return entry


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Globally reachable unicast, and for IPv6 forms that carry an IPv4 address, that one too."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL:
            return False
        embedded = address.ipv4_mapped or address.sixtofour
        if address in _NAT64 or int(address) >> 32 == 0:  # NAT64, or the old IPv4-compatible ::a.b.c.d
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not address.is_multicast


def resolve(host: str, port: int, policy: UrlPolicy, timeout: float) -> list[str]:
    """The addresses `host` resolves to, all checked against the policy (IngestError when one fails)."""
    infos = _getaddrinfo(host, port, timeout)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not policy.trusts(host, port):
        for text in addresses:
            address = ipaddress.ip_address(text.split("%")[0])
            if not is_public(address):
                raise IngestError(f"refused: {host} resolves to non-public address {address}")
    return addresses


def _getaddrinfo(host: str, port: int, timeout: float) -> list[Any]:
    """socket.getaddrinfo, given up on after `timeout` (the lookup itself has no timeout)."""
    outcome: dict[str, Any] = {}

    def lookup() -> None:
        try:
            outcome["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=lookup, name="newsbot-resolve", daemon=True)
    thread.start()
    thread.join(max(timeout, 0.0))
    if "infos" in outcome:
        return outcome["infos"]
    if "error" in outcome:
        reason = getattr(outcome["error"], "strerror", None) or outcome["error"]
        raise IngestError(f"unreachable: cannot resolve {host} ({reason})")
    raise IngestError(f"unreachable: resolving {host} timed out")


class _GuardedBackend(httpcore.NetworkBackend):
    """Connects only to addresses the policy allows, and only before the deadline."""

    def __init__(self, policy: UrlPolicy, deadline: float) -> None:
        self.policy = policy
        self.deadline = deadline
        self.inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        addresses = resolve(host, port, self.policy, _left(self.deadline, httpcore.ConnectTimeout))
        error: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in addresses:  # the checked address, never the name again
            try:
                stream = self.inner.connect_tcp(address, port, _bounded(timeout, self.deadline, httpcore.ConnectTimeout),
                                                local_address, socket_options)
                return _DeadlineStream(stream, self.deadline)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("fetches do not use unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    """Every read and write waits at most until the fetch's deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self.stream = stream
        self.deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, _bounded(timeout, self.deadline, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, _bounded(timeout, self.deadline, httpcore.WriteTimeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        tls = self.stream.start_tls(ssl_context, server_hostname, _bounded(timeout, self.deadline, httpcore.ConnectTimeout))
        return _DeadlineStream(tls, self.deadline)

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


def _left(deadline: float, error: type[Exception]) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the fetch deadline has passed")
    return left


def _bounded(timeout: float | None, deadline: float, error: type[Exception]) -> float:
    left = _left(deadline, error)
    return left if timeout is None else min(timeout, left)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, backend: _GuardedBackend) -> None:
        super().__init__(trust_env=False)
        # httpx offers no network_backend option; its pool is httpcore's, which does.
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), network_backend=backend)


class _Decoder:
    """One content-coding, undone without ever producing more than `limit` bytes in all."""

    def __init__(self, coding: str, limit: int) -> None:
        self.coding = coding
        self.limit = limit
        self.produced = 0
        if coding == "br" and brotli:
            self.brotli = brotli.Decompressor()
        elif coding in ("gzip", "x-gzip", "deflate"):
            self.zlib = zlib.decompressobj(16 + zlib.MAX_WBITS if coding != "deflate" else zlib.MAX_WBITS)
            self.first = True
        else:
            raise IngestError(f"unsupported content-encoding {coding!r}")

    def feed(self, data: bytes) -> bytes:
        budget = self.limit - self.produced + 1  # one byte past the limit tells that it is exceeded
        try:
            if self.coding == "br":
                out = self.brotli.process(data, output_buffer_limit=budget)
            else:
                out = self._inflate(data, budget)
        except (zlib.error, getattr(brotli, "error", zlib.error)) as exc:
            raise IngestError(f"the {self.coding} body does not decompress ({exc})") from None
        self.produced += len(out)
        if self.produced > self.limit:
            raise IngestError(f"response is over the {self.limit:,}-byte limit once decompressed")
        return out

    def _inflate(self, data: bytes, budget: int) -> bytes:
        try:
            out = self.zlib.decompress(data, budget)
        except zlib.error:
            if not (self.first and self.coding == "deflate"):
                raise
            self.zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # "deflate" sent raw, without the zlib wrapper
            out = self.zlib.decompress(data, budget)
        self.first = False
        return out


def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The body, decompressed step by step; IngestError once it passes `max_bytes`."""
    codings = [c.strip().lower() for c in response.headers.get("content-encoding", "").split(",")]
    decoders = [_Decoder(c, max_bytes) for c in reversed(codings) if c and c != "identity"]
    body = bytearray()
    raw = 0
    for part in response.iter_raw():
        raw += len(part)
        if raw > max_bytes:
            raise IngestError(f"response is over the {max_bytes:,}-byte limit")
        for decoder in decoders:
            part = decoder.feed(part)
        body += part
        if len(body) > max_bytes:
            raise IngestError(f"response is over the {max_bytes:,}-byte limit")
    return bytes(body)


def _policy(policy: UrlPolicy | bool) -> UrlPolicy:
    return policy if isinstance(policy, UrlPolicy) else UrlPolicy(allow_private=bool(policy))


def fetch(url: str, max_bytes: int, timeout: float, policy: UrlPolicy | bool = False) -> tuple[bytes, str]:
    """The body (decompressed, capped) and content type, within `timeout` seconds in all;
    every connection, redirects included, goes through the policy's address check."""
    deadline = time.monotonic() + timeout
    headers = {"User-Agent": "newsbot", "Accept-Encoding": ", ".join(_ENCODINGS)}
    transport = _GuardedTransport(_GuardedBackend(_policy(policy), deadline))
    with httpx.Client(transport=transport, trust_env=False, follow_redirects=False, headers=headers,
                      timeout=timeout) as client:
        for _ in range(_MAX_REDIRECTS + 1):
            try:
                with client.stream("GET", url) as response:
                    if response.is_redirect:
                        url = str(response.url.join(response.headers.get("location", "")))
                        continue
                    if response.status_code >= 400:
                        raise IngestError(f"HTTP {response.status_code}")
                    return _read_capped(response, max_bytes), response.headers.get("content-type", "")
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                raise IngestError(f"refused: not a fetchable http(s) URL ({exc})") from None
            except httpx.TimeoutException:
                raise IngestError(f"timed out: no complete response within {timeout:g} s") from None
            except httpx.RemoteProtocolError as exc:
                if "location header" not in str(exc).lower():
                    raise IngestError(f"unreachable (RemoteProtocolError: {exc})") from None
                raise IngestError(f"refused: a redirect to a URL that is not fetchable ({exc})") from None
            except httpx.HTTPError as exc:
                raise IngestError(f"unreachable ({type(exc).__name__}: {exc})") from None
    raise IngestError("too many redirects")


def check_url(url: str, policy: UrlPolicy | bool = False, timeout: float = 5.0) -> None:
    """Refuse at once a URL whose host resolves to an address the policy forbids (the fetch
    checks again, on the address it connects to)."""
    try:
        parsed = httpx.URL(url)  # parsed as the fetch will parse it
    except httpx.InvalidURL as exc:
        raise IngestError(f"refused: not a fetchable http(s) URL ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise IngestError("refused: not a fetchable http(s) URL")
    resolve(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80), _policy(policy), timeout)


def load_url(url: str, max_bytes: int, timeout: float, policy: UrlPolicy | bool = False) -> Iterator[Loaded]:
    try:
        data, content_type = fetch(url, max_bytes, timeout, policy)
        if any(t in content_type for t in _FEED_TYPES) or data.lstrip()[:200].find(b"<rss") >= 0:
            from ingest.feeds import parse_feed

            yield from parse_feed(data, url)  # entries become documents; their links are not fetched
            return
        charset = content_type.split("charset=")[-1].strip() if "charset=" in content_type else None
        text = decode(data, charset)
        yield RawDoc(url, text, is_html="html" in content_type or "<html" in text[:1000].lower(), hints={"url": url})
    except IngestError as exc:
        yield Failure(url, str(exc))
