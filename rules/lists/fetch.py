"""Download a block list from a URL without letting the URL point the gateway at the school's own network.

A list URL is data an administrator typed, and the server behind it may redirect anywhere. Every hop
is checked: http or https only, the name resolved here and every address it gives must be public
(never private, loopback, link-local, multicast or reserved), and the connection goes to the address
that was checked (so a second DNS answer cannot swap in a private one). The body is capped in size,
and an HTML page or an empty download is refused: that is an error page, not a list.

The whole download (every redirect, the headers and the body) has a deadline, not only each read: a
server that sends a byte every few seconds never trips a per-read timeout, and would hold the
scheduler's job for days. At the deadline the connection is shut down under the reader's feet.

IPv6 addresses that stand for an IPv4 address are judged as not public even though Python's
`is_global` accepts them: NAT64 (64:ff9b::/96 and the local-use 64:ff9b:1::/48), 6to4 (2002::/16) and
the old IPv4-compatible form (::a.b.c.d). Each can be routed, by a gateway that translates, to an
IPv4 address that was never checked, private ones included.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

MAX_BYTES = 64 * 1024 * 1024
MAX_REDIRECTS = 5
TIMEOUT = 30.0  # each connect and read
DEADLINE = 300.0  # the whole download, redirects included
USER_AGENT = "schoolgate-list-refresh/1"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(Exception):
    """The download was refused or failed; the message says why."""


EMBEDS_IPV4 = tuple(ipaddress.IPv6Network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "::/96"))


def is_public_address(address: IPAddress) -> bool:
    """True for an address on the public internet only."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif any(address in network for network in EMBEDS_IPV4):
            return False  # see the module docstring: an IPv4 address in disguise
    return address.is_global and not address.is_multicast


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror}") from None
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


def fetch(url: str, max_bytes: int = MAX_BYTES,
          address_allowed: Callable[[IPAddress], bool] = is_public_address,
          resolver: Callable[[str, int], list[IPAddress]] = resolve, deadline: float = DEADLINE) -> bytes:
    """The body at `url`, following redirects, each hop checked, all within `deadline` seconds; raise
    FetchError."""
    ends = time.monotonic() + deadline
    first = url
    for _hop in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"refused {url!r}: only http:// and https:// URLs are fetched")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = resolver(parts.hostname, port)
        refused = [str(a) for a in addresses if not address_allowed(a)]
        if refused or not addresses:
            raise FetchError(f"refused {url}: {parts.hostname} is a private, loopback or reserved address "
                             f"({', '.join(refused) or 'none'})")
        remaining = ends - time.monotonic()
        if remaining <= 0:
            raise _too_slow(first, deadline)
        conn = _connection(parts.scheme, parts.hostname, str(addresses[0]), port, min(TIMEOUT, remaining))
        try:
            conn.connect()  # bounded by its timeout, itself within the deadline
        except OSError as exc:
            conn.close()
            raise FetchError(f"cannot fetch from {parts.hostname} ({addresses[0]}): {exc}") from None
        expired = threading.Event()
        # the socket itself, not conn: conn lets go of it once the response owns it (Connection: close)
        watchdog = threading.Timer(max(0.0, ends - time.monotonic()), _cut, (conn.sock, expired))
        watchdog.daemon = True
        watchdog.start()
        try:
            try:
                response = _request(conn, parts.hostname, str(addresses[0]), port,
                                    (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
                if expired.is_set():  # headers cut short by the watchdog: nothing in them can be trusted
                    raise _too_slow(first, deadline)
                if response.status in (301, 302, 303, 307, 308):
                    location = response.getheader("Location")
                    if not location:
                        raise FetchError(f"{url} redirected without a Location")
                    url = urljoin(url, location)
                    continue
                if response.status != 200:
                    raise FetchError(f"{url} answered {response.status} {response.reason}")
                body = _body(url, response, max_bytes)
            except (OSError, http.client.HTTPException, FetchError) as exc:
                if expired.is_set():  # whatever went wrong, it went wrong because the deadline cut it
                    raise _too_slow(first, deadline) from None
                if isinstance(exc, FetchError):
                    raise
                raise FetchError(f"cannot fetch from {parts.hostname} ({addresses[0]}): {exc}") from None
            if expired.is_set():  # the connection was cut: what was read is not the whole list
                raise _too_slow(first, deadline)
            return body
        finally:
            watchdog.cancel()
            conn.close()
    raise FetchError(f"more than {MAX_REDIRECTS} redirects from {url}")


def _too_slow(url: str, deadline: float) -> FetchError:
    return FetchError(f"{url} took longer than {deadline:g} s to download; gave up")


def _cut(sock: socket.socket, expired: threading.Event) -> None:
    """The deadline passed: shut the socket down, which wakes the reader blocked in another thread.
    The plain socket's shutdown even for TLS: SSLSocket.shutdown would pull its state from under the
    reader."""
    expired.set()
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def _connection(scheme: str, host: str, address: str, port: int, timeout: float) -> http.client.HTTPConnection:
    if scheme == "https":
        return _PinnedHTTPSConnection(host, address, port, timeout)
    return http.client.HTTPConnection(address, port, timeout=timeout)


def _request(conn: http.client.HTTPConnection, host: str, address: str, port: int,
             target: str) -> http.client.HTTPResponse:
    conn.request("GET", target, headers={"Host": host if port in (80, 443) else f"{host}:{port}",
                                         "User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    return conn.getresponse()


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address already checked, with the certificate checked against the host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float = TIMEOUT) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _body(url: str, response: http.client.HTTPResponse, max_bytes: int) -> bytes:
    length = response.getheader("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise FetchError(f"{url} is {int(length)} bytes, over the {max_bytes}-byte limit")
    if "html" in (response.getheader("Content-Type") or "").lower():
        raise FetchError(f"{url} is an HTML page, not a list")
    # read1, not read: read(n) keeps reading until it has n bytes, however slowly they come
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read1(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"{url} is over the {max_bytes}-byte limit")
        chunks.append(chunk)
    body = b"".join(chunks)
    head = body[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        raise FetchError(f"{url} is an HTML page, not a list")
    if not body.strip():
        raise FetchError(f"{url} is empty")
    return body
