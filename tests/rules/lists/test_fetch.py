"""List downloads never reach the school's own network: every hop resolved and checked, on loopback only."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from rules.jobs.lists_refresh import refresh_lists
from rules.lists.fetch import FetchError, IPAddress, fetch, is_public_address
from rules.lists.importer import import_list
from rules.store.db import Database
from rules.store.models import ListEntry, ListSource

LOOPBACK = ipaddress.ip_address("127.0.0.1")
PAGES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/list.txt": (200, {"Content-Type": "text/plain"}, b"casino.example\npoker.example\n"),
    "/page": (200, {"Content-Type": "text/html; charset=utf-8"}, b"<p>a page</p>"),
    "/sneaky": (200, {"Content-Type": "text/plain"}, b"\n  <html><body>login</body></html>"),
    "/empty": (200, {"Content-Type": "text/plain"}, b""),
    "/big": (200, {"Content-Type": "text/plain"}, b"x.example\n" * 200),
    "/missing": (404, {}, b"no"),
}


class Server:
    def __init__(self) -> None:
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
                owner.requests.append(self.path)
                if self.path.startswith("/redirect/"):
                    self.send_response(302)
                    self.send_header("Location", self.path.removeprefix("/redirect/").replace("|", "/"))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, headers, body = PAGES[self.path]
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def loopback_is_public(address: IPAddress) -> bool:
    """For these tests only: pretend 127.0.0.1 (only) is a server on the internet."""
    return address == LOOPBACK or is_public_address(address)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.5.5", "169.254.169.254",
                                     "::1", "fc00::1", "fe80::1", "::ffff:10.0.0.1", "0.0.0.0", "224.0.0.1",
                                     "198.18.0.1", "100.64.0.1",
                                     # IPv4 in IPv6 clothing: is_global says yes to each
                                     "64:ff9b::a00:1", "64:ff9b::808:808", "64:ff9b:1::a00:1", "2002:a00:1::1",
                                     "2002:808:808::1", "::10.0.0.1", "::8.8.8.8"])
def test_private_and_special_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8", "2a00:1450::1"])
def test_public_addresses_are_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


def test_a_loopback_url_is_refused_before_any_request(server: Server) -> None:
    with pytest.raises(FetchError, match="refused .*private, loopback or reserved address \\(127.0.0.1\\)"):
        fetch(server.url("/list.txt"))
    assert server.requests == []


def test_a_name_that_resolves_to_a_private_address_is_refused(server: Server) -> None:
    with pytest.raises(FetchError, match="refused http://lists.school.internal/x: .*10.0.0.5"):
        fetch("http://lists.school.internal/x", resolver=lambda host, port: [ipaddress.ip_address("10.0.0.5")])
    assert server.requests == []


def test_every_redirect_hop_is_checked(server: Server) -> None:
    # The first hop is (for this test) allowed; its redirect to another loopback address is not.
    target = f"http://127.0.0.2:{server.port}/list.txt".replace("/", "|")
    with pytest.raises(FetchError, match="refused http://127.0.0.2:.*127.0.0.2"):
        fetch(server.url(f"/redirect/{target}"), address_allowed=loopback_is_public)
    assert len(server.requests) == 1
    # A redirect to a private name is refused too, after resolving it.
    target = "http://intranet.school.internal/list.txt".replace("/", "|")

    def resolver(host: str, port: int) -> list[IPAddress]:
        return [LOOPBACK] if host == "127.0.0.1" else [ipaddress.ip_address("192.168.1.1")]

    with pytest.raises(FetchError, match="intranet.school.internal is a private"):
        fetch(server.url(f"/redirect/{target}"), address_allowed=loopback_is_public, resolver=resolver)


def test_a_good_download_and_the_refusals(server: Server) -> None:
    assert fetch(server.url("/list.txt"), address_allowed=loopback_is_public) == b"casino.example\npoker.example\n"
    assert fetch(server.url("/redirect/|list.txt"), address_allowed=loopback_is_public).startswith(b"casino")
    for path, why in [("/page", "HTML page"), ("/sneaky", "HTML page"), ("/empty", "empty"),
                      ("/missing", "answered 404"), ("/big", "over the 1000-byte limit")]:
        with pytest.raises(FetchError, match=why):
            fetch(server.url(path), max_bytes=1000, address_allowed=loopback_is_public)
    for url in ("ftp://lists.example/x", "file:///etc/passwd", "gopher://127.0.0.1/"):
        with pytest.raises(FetchError, match="only http:// and https://"):
            fetch(url)


def test_refresh_refuses_a_loopback_source_and_keeps_the_list(sqlite_db: Database, tmp_path: Path,
                                                              server: Server) -> None:
    path = tmp_path / "gambling.txt"
    path.write_text("casino.example\n")
    import_list(sqlite_db, path, "gambling", actor="tests")
    with sqlite_db.session() as session:
        source = session.scalars(select(ListSource).where(ListSource.name == "gambling.txt")).one()
        source.location = server.url("/list.txt")
    result = refresh_lists(sqlite_db)
    assert "private, loopback or reserved" in result.failed[f"gambling.txt ({server.url('/list.txt')})"]
    assert server.requests == []
    with sqlite_db.session(read_only=True) as session:
        assert list(session.scalars(select(ListEntry.domain).where(ListEntry.source_id == source.id))) == \
            ["casino.example"]


class Dripper:
    """An HTTP server that sends a byte every `interval` seconds, for ever: in its headers (`headers`)
    or, after good headers, in its body. Every read gets something well within any per-read timeout."""

    def __init__(self, where: str, interval: float = 0.05) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.where, self.interval = where, interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(65536)
            if self.where == "body":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            try:
                while not self.stop.wait(self.interval):
                    conn.sendall(b"x" if self.where == "headers" else b"a.example\n")
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.listener.close()


@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_slow_drip_server_is_cut_off_at_the_deadline(where: str) -> None:
    dripper = Dripper(where)
    try:
        started = time.monotonic()
        with pytest.raises(FetchError, match="took"):
            fetch(f"http://127.0.0.1:{dripper.port}/list.txt", address_allowed=loopback_is_public, deadline=1.0)
        elapsed = time.monotonic() - started
    finally:
        dripper.close()
    assert 1.0 <= elapsed < 3.0, elapsed


def test_a_download_within_the_deadline_is_whole(server: Server) -> None:
    assert fetch(server.url("/big"), max_bytes=5000, address_allowed=loopback_is_public,
                 deadline=5.0) == b"x.example\n" * 200
