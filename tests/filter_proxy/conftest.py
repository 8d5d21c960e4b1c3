"""Fixtures for the addon layer: the pipeline inside mitmproxy's `taddons` context, with a fake store."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field

import pytest
from mitmproxy import connection, tls
from mitmproxy.proxy import context, server_hooks
from mitmproxy.test import taddons, tflow

from filter_proxy import pipeline
from filter_proxy.admission import Admission
from filter_proxy.clienthello import ClientHello
from filter_proxy.connect import Connect
from filter_proxy.destinations import Destinations
from filter_proxy.gate import Gate
from filter_proxy.request import Request
from rules.policy.networks import ClientNetworks
from rules.policy.snapshot import PolicySnapshot
from rules.store.event_writer import EventRecord
from tests.factories import tsnapshot


class FakeStore:
    """Stands in for `SnapshotStore`: `current()` returns whatever the test put in `snapshot`."""

    def __init__(self, snapshot: PolicySnapshot) -> None:
        self.snapshot = snapshot

    def current(self) -> PolicySnapshot:
        return self.snapshot


GATEWAY_ADDRESS = "198.51.100.1"  # stands for this machine's LAN address (the interfaces the proxy reads)
PUBLIC = "198.18.0.10"  # what every name resolves to unless `Proxy.names` says otherwise


class Names:
    """The resolver the addons use in these tests: a table, so no test depends on the machine's DNS.
    (The end-to-end tests use the real system resolver.)"""

    def __init__(self) -> None:
        self.table: dict[str, list[str]] = {"localhost": ["127.0.0.1", "::1"]}
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        answer = self.table.get(host, [PUBLIC])
        if not answer:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answer


def run[T](coroutine: Awaitable[T]) -> T:
    """Run one async hook to its end (the hooks that resolve names are coroutines, as mitmproxy allows)."""
    async def wrapped() -> T:
        return await coroutine

    return asyncio.run(wrapped())


@dataclass
class Proxy:
    """The addons, their context, the store they read and the events they recorded."""

    ctx: taddons.context
    store: FakeStore
    events: list[EventRecord] = field(default_factory=list)
    addons: list[object] = field(default_factory=list)
    names: Names = field(default_factory=Names)

    def addon[T](self, kind: type[T]) -> T:
        return next(a for a in self.addons if isinstance(a, kind))

    @property
    def connect(self) -> Connect:
        return self.addon(Connect)

    @property
    def hello(self) -> ClientHello:
        return self.addon(ClientHello)

    @property
    def request(self) -> Request:
        return self.addon(Request)

    @property
    def gate(self) -> Gate:
        return self.addon(Gate)

    @property
    def admission(self) -> Admission:
        return self.addon(Admission)

    @property
    def destinations(self) -> Destinations:
        return self.addon(Destinations)

    def event(self, index: int = -1) -> dict[str, object]:
        return self.events[index]._asdict()

    def notes_approve(self, client: connection.Client) -> None:
        """As a decision hook does when it allows a connection (e.g. the ClientHello in transparent mode)."""
        self.gate.notes.get(client.id).approved = True

    def server_allowed(self, client: connection.Client) -> bool:
        """Run the gate for a server connection from `client`; True if it may go out."""
        server = connection.Server(address=("198.18.0.10", 443))
        self.gate.server_connect(server_hooks.ServerConnectionHookData(server, client))
        return server.error is None


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    store = FakeStore(tsnapshot(blocked=["blocked.test", "tiktok.com"]))
    events: list[EventRecord] = []
    names = Names()
    addons = pipeline.addons(store, events.append, ClientNetworks(["127.0.0.0/8", "10.0.0.0/8"]),  # type: ignore[arg-type]
                             interfaces=["127.0.0.1", "::1", GATEWAY_ADDRESS], resolve=names)
    with taddons.context(*addons) as ctx:
        # Declared by mitmproxy's Proxyserver addon in a real master; the Settings addon checks it.
        ctx.options.add_option("connection_strategy", str, "lazy", "as Proxyserver declares it")
        yield Proxy(ctx, store, events, addons, names)


def http_flow(url: str, client_ip: str = "10.0.0.7", method: str = "GET"):  # type: ignore[no-untyped-def]
    """A flow for `url` from `client_ip`, no TLS SNI (plain HTTP), no response yet."""
    flow = tflow.tflow()
    flow.request.method = method
    flow.request.url = url
    flow.client_conn.peername = (client_ip, 50000)
    flow.client_conn.sni = None
    return flow


def tls_client(ip: str = "10.0.0.7") -> connection.Client:
    return connection.Client(peername=(ip, 50001), sockname=("198.18.0.1", 8080), timestamp_start=1.0)


def clienthello_data(hello: tls.ClientHello, client: connection.Client | None = None,
                     destination: tuple[str, int] | None = ("198.18.0.10", 443)) -> tls.ClientHelloData:
    """The event data mitmproxy passes to `tls_clienthello`, for a connection to `destination`."""
    from mitmproxy.options import Options

    ctx = context.Context(client or tls_client(), Options())
    ctx.server.address = destination
    return tls.ClientHelloData(ctx, hello)


def real_clienthello(sni: str | None) -> tls.ClientHello:
    """The ClientHello Python's own TLS stack sends (OpenSSL), with or without a server name."""
    context_ = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    sock = context_.wrap_bio(incoming, outgoing, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        sock.do_handshake()
    record = outgoing.read()
    assert record[0] == 0x16 and record[5] == 0x01  # a handshake record holding a ClientHello
    return tls.ClientHello(record[9:])


def built_clienthello(sni: str | None, extra: list[tuple[int, bytes]] = ()) -> tls.ClientHello:  # type: ignore[assignment]
    """A minimal TLS 1.3-style ClientHello built byte by byte, with `extra` extensions (e.g. ECH, 0xfe0d)."""
    extensions = []
    if sni is not None:
        name = sni.encode("ascii")
        entry = b"\x00" + struct.pack("!H", len(name)) + name
        extensions.append((0x0000, struct.pack("!H", len(entry)) + entry))
    extensions.extend(extra)
    ext_bytes = b"".join(struct.pack("!HH", t, len(body)) + body for t, body in extensions)
    body = (b"\x03\x03" + bytes(32) + b"\x00" + struct.pack("!H", 2) + b"\x13\x01" + b"\x01\x00"
            + struct.pack("!H", len(ext_bytes)) + ext_bytes)
    return tls.ClientHello(body)
