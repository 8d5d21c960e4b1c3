"""Download a block list from a URL without letting the URL point the gateway at the school's own network.

A list URL is data an administrator typed, and the server behind it may redirect anywhere. Every hop
is checked: http or https only, the name resolved here and every address it gives must be public
(never private, loopback, link-local, multicast or reserved), and the connection goes to the address
that was checked (so a second DNS answer cannot swap in a private one). The body is capped in size,
and an HTML page or an empty download is refused: that is an error page, not a list.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

MAX_BYTES = 64 * 1024 * 1024
MAX_REDIRECTS = 5
TIMEOUT = 30.0
USER_AGENT = "schoolgate-list-refresh/1"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(Exception):
    """The download was refused or failed; the message says why."""


def is_public_address(address: IPAddress) -> bool:
    """True for an address on the public internet only."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror}") from None
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


def fetch(url: str, max_bytes: int = MAX_BYTES,
          address_allowed: Callable[[IPAddress], bool] = is_public_address,
          resolver: Callable[[str, int], list[IPAddress]] = resolve) -> bytes:
    """The body at `url`, following redirects, each hop checked; raise FetchError."""
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
        response, conn = _request(parts.scheme, parts.hostname, str(addresses[0]), port,
                                  (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        try:
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise FetchError(f"{url} redirected without a Location")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise FetchError(f"{url} answered {response.status} {response.reason}")
            return _body(url, response, max_bytes)
        finally:
            conn.close()
    raise FetchError(f"more than {MAX_REDIRECTS} redirects from {url}")


def _request(scheme: str, host: str, address: str, port: int,
             target: str) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = _PinnedHTTPSConnection(host, address, port)
    else:
        conn = http.client.HTTPConnection(address, port, timeout=TIMEOUT)
    try:
        conn.request("GET", target, headers={"Host": host if port in (80, 443) else f"{host}:{port}",
                                             "User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
        return conn.getresponse(), conn
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        raise FetchError(f"cannot fetch from {host} ({address}): {exc}") from None


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address already checked, with the certificate checked against the host name."""

    def __init__(self, host: str, address: str, port: int) -> None:
        super().__init__(host, port, timeout=TIMEOUT, context=ssl.create_default_context())
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
    body = response.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise FetchError(f"{url} is over the {max_bytes}-byte limit")
    head = body[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        raise FetchError(f"{url} is an HTML page, not a list")
    if not body.strip():
        raise FetchError(f"{url} is empty")
    return body
