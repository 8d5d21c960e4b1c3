"""Forwarding allowed queries to the upstream resolvers (`[dns] upstreams`, or /etc/resolv.conf's).

Each upstream is tried in turn, starting with the last one that answered: UDP with a timeout, then
TCP when the UDP answer is truncated; a timeout, a network error, SERVFAIL or REFUSED moves on to the
next. When every upstream fails the caller answers SERVFAIL (never a made-up NXDOMAIN: the name may
well exist). The query goes out as the client asked it (EDNS included), under a fresh random ID, and a
reply is taken only if its ID and question match what was sent.

One connected UDP socket per upstream (a random source port from the kernel) carries all queries to it,
matched by ID: creating a socket per query would cost more than the rest of the path.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import struct
from pathlib import Path

from dns_block import wire

log = logging.getLogger(__name__)

UDP_TIMEOUT = 1.0
TCP_TIMEOUT = 3.0
RESOLV_CONF = Path("/etc/resolv.conf")


def system_upstreams(path: Path = RESOLV_CONF) -> list[tuple[str, int]]:
    """The `nameserver` lines of resolv.conf, as (address, 53)."""
    servers = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            servers.append((parts[1].split("%", 1)[0], 53))
    return servers


class _Channel(asyncio.DatagramProtocol):
    """The UDP socket to one upstream, with the queries waiting on it by ID."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, tuple[asyncio.Future[bytes], bytes]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: object) -> None:
        if len(data) < wire.HEADER_SIZE:
            return
        ident = struct.unpack_from("!H", data)[0]
        waiting = self.pending.get(ident)
        if waiting is None:
            return
        future, question = waiting
        qend = wire.question_end(data)
        if qend < 0 or data[wire.HEADER_SIZE:qend].lower() != question:
            return  # not the answer to what we asked: ignore it (and keep waiting for the real one)
        del self.pending[ident]
        if not future.done():
            future.set_result(data)

    def error_received(self, exc: Exception) -> None:
        # An ICMP error (port unreachable: nothing listens there); fail everything waiting on this socket.
        for future, _ in self.pending.values():
            if not future.done():
                future.set_exception(exc)
        self.pending.clear()

    async def ask(self, query: bytes, timeout: float) -> bytes:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionError("upstream socket closed")
        qend = wire.question_end(query)
        question = query[wire.HEADER_SIZE:qend].lower()
        ident = secrets.randbits(16)
        while ident in self.pending:
            ident = secrets.randbits(16)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending[ident] = (future, question)
        try:
            self.transport.sendto(struct.pack("!H", ident) + query[2:])
            reply = await asyncio.wait_for(future, timeout)
        finally:
            if self.pending.get(ident, (None,))[0] is future:
                del self.pending[ident]
        return query[:2] + reply[2:]


class Upstream:
    """`await query(raw_query)` -> the upstream's reply (with the query's own ID), or None if all failed."""

    def __init__(self, servers: list[tuple[str, int]], udp_timeout: float = UDP_TIMEOUT,
                 tcp_timeout: float = TCP_TIMEOUT) -> None:
        self.servers = servers
        self.udp_timeout = udp_timeout
        self.tcp_timeout = tcp_timeout
        self._channels: list[_Channel] = []
        self._preferred = 0
        self.failures = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for host, port in self.servers:
            _transport, channel = await loop.create_datagram_endpoint(_Channel, remote_addr=(host, port))
            self._channels.append(channel)

    def close(self) -> None:
        for channel in self._channels:
            if channel.transport is not None:
                channel.transport.close()

    async def query(self, query: bytes) -> bytes | None:
        if wire.question_end(query) < 0:
            return None
        count = len(self.servers)
        for step in range(count):
            index = (self._preferred + step) % count
            reply = await self._ask_one(index, query)
            if reply is not None:
                self._preferred = index
                return reply
        self.failures += 1
        return None

    async def _ask_one(self, index: int, query: bytes) -> bytes | None:
        host, port = self.servers[index]
        try:
            reply = await self._channels[index].ask(query, self.udp_timeout)
            if wire.is_truncated(reply):
                reply = await asyncio.wait_for(self._ask_tcp(host, port, query), self.tcp_timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            log.debug("upstream %s:%d failed: %r", host, port, exc)
            return None
        if wire.rcode(reply) in (wire.SERVFAIL, wire.REFUSED):
            log.debug("upstream %s:%d answered rcode %d", host, port, wire.rcode(reply))
            return None
        return reply

    async def _ask_tcp(self, host: str, port: int, query: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(struct.pack("!H", len(query)) + query)
            await writer.drain()
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = await reader.readexactly(length)
                if reply[:2] == query[:2] and reply[wire.HEADER_SIZE:wire.question_end(reply)].lower() == \
                        query[wire.HEADER_SIZE:wire.question_end(query)].lower():
                    return reply
        finally:
            writer.close()
