"""The transport: UDP and TCP listeners on one address, handing each query to the resolver.

UDP: an asyncio `DatagramProtocol`; a cache hit is answered inside `datagram_received` without a task,
a miss becomes a task. TCP: asyncio streams with the two-byte length prefix (RFC 1035 4.2.2, RFC 7766),
queries on one connection answered in order, an idle timeout, and a cap on concurrent connections so
idle clients cannot exhaust us. Nothing a client sends may crash or stall the server: every failure is
contained to that one packet or connection.
"""

from __future__ import annotations

import asyncio
import logging
import struct

from dns_block.resolver import DROP, Resolver

log = logging.getLogger(__name__)

TCP_IDLE_TIMEOUT = 10.0
TCP_MAX_CLIENTS = 256
MAX_PENDING = 10_000  # slow-path UDP queries in flight; beyond this new misses are dropped


class UdpServer(asyncio.DatagramProtocol):
    """One UDP socket."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = self.resolver.cached(data, addr[0], True)
        except Exception:
            log.exception("fast path failed for a packet from %s", addr[0])
            return
        if reply is None:
            if len(self.tasks) >= MAX_PENDING:
                return
            task = asyncio.get_running_loop().create_task(self._slow(data, addr))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif reply is not DROP and self.transport is not None:
            self.transport.sendto(reply, addr)

    async def _slow(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = await self.resolver.resolve(data, addr[0], True)
        except Exception:
            log.exception("cannot answer a query from %s", addr[0])
            return
        if reply and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error: %s", exc)


class TcpServer:
    """The TCP side of one listen address."""

    def __init__(self, resolver: Resolver, idle_timeout: float = TCP_IDLE_TIMEOUT,
                 max_clients: int = TCP_MAX_CLIENTS) -> None:
        self.resolver = resolver
        self.idle_timeout = idle_timeout
        self.max_clients = max_clients
        self.clients = 0
        self.rejected = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.clients >= self.max_clients:
            self.rejected += 1
            writer.close()
            return
        self.clients += 1
        peer = writer.get_extra_info("peername")
        ip = peer[0] if peer else ""
        try:
            while True:
                prefix = await asyncio.wait_for(reader.readexactly(2), self.idle_timeout)
                (length,) = struct.unpack("!H", prefix)
                data = await asyncio.wait_for(reader.readexactly(length), self.idle_timeout)
                reply = self.resolver.cached(data, ip, False)
                if reply is None:
                    reply = await self.resolver.resolve(data, ip, False)
                if reply:
                    writer.write(struct.pack("!H", len(reply)) + reply)
                    await asyncio.wait_for(writer.drain(), self.idle_timeout)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        except Exception:
            log.exception("TCP connection from %s failed", ip)
        finally:
            self.clients -= 1
            writer.close()
