"""The transport: UDP and TCP listeners on one address, handing each query to the resolver.

UDP: a non-blocking socket on the event loop's selector (see `UdpServer`); a cache hit is answered
at once without a task, a miss becomes a task. TCP: asyncio streams with the two-byte length prefix
(RFC 1035 4.2.2, RFC 7766),
queries on one connection answered in order, an idle timeout, and a cap on concurrent connections so
idle clients cannot exhaust us. Nothing a client sends may crash or stall the server: every failure is
contained to that one packet or connection.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct

from dns_block.resolver import Resolver

log = logging.getLogger(__name__)

TCP_IDLE_TIMEOUT = 10.0
TCP_MAX_CLIENTS = 256
MAX_PENDING = 10_000
RECEIVE_BUFFER = 4 * 1024 * 1024  # slow-path UDP queries in flight; beyond this new misses are dropped


class UdpServer:
    """One UDP socket, read straight from the event loop's selector.

    Not an asyncio `DatagramProtocol`: under load many datagrams wait in the socket, and draining up to
    `BATCH` of them per wake-up (and replying with a plain `sendto`) saves a selector round per packet,
    which is most of what a cache hit costs. A reply the kernel cannot take at once is dropped, as a
    busy resolver drops; the client asks again.
    """

    BATCH = 256

    def __init__(self, resolver: Resolver, host: str, port: int, reuse_port: bool = False) -> None:
        self.resolver = resolver
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if reuse_port:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, RECEIVE_BUFFER)
            self.sock.setblocking(False)
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.tasks: set[asyncio.Task[None]] = set()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.sock.fileno(), self._readable)

    def close(self) -> None:
        self._loop.remove_reader(self.sock.fileno())
        self.sock.close()

    def _readable(self) -> None:
        sock = self.sock
        cached = self.resolver.cached
        for _ in range(self.BATCH):
            try:
                data, addr = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. an ICMP error queued on the socket
                log.debug("UDP receive error: %s", exc)
                continue
            try:
                reply = cached(data, addr[0], True)
            except Exception:
                log.exception("fast path failed for a packet from %s", addr[0])
                continue
            if reply is None:
                if len(self.tasks) < MAX_PENDING:
                    task = self._loop.create_task(self._slow(data, addr))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
            elif reply:
                self._send(reply, addr)

    def _send(self, reply: bytes, addr: tuple[str, int]) -> None:
        try:
            self.sock.sendto(reply, addr)
        except OSError as exc:  # BlockingIOError (buffer full) included: dropped, the client retries
            log.debug("UDP send to %s failed: %s", addr[0], exc)

    async def _slow(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = await self.resolver.resolve(data, addr[0], True)
        except Exception:
            log.exception("cannot answer a query from %s", addr[0])
            return
        if reply and self.sock.fileno() >= 0:
            self._send(reply, addr)


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
