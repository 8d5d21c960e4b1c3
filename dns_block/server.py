"""The transport: UDP and TCP listeners on one address, handing each query to the resolver.

UDP: a non-blocking socket on the event loop's selector (see `UdpServer`); a cache hit is answered
at once without a task, a miss becomes a task. TCP: asyncio streams with the two-byte length prefix
(RFC 1035 4.2.2, RFC 7766),
queries on one connection answered in order, an idle timeout, and caps on concurrent connections so
idle clients cannot exhaust us: a stranger (outside `[network] client_networks`) is closed the moment it
connects and never takes a slot, and one client address holds at most `TCP_MAX_PER_CLIENT` of the
`TCP_MAX_CLIENTS` slots, so a single device cannot lock every other out of TCP. Nothing a client sends
may crash or stall the server: every failure is contained to that one packet or connection.

An IPv6 listen address listens for IPv4 too (IPV6_V6ONLY off: `[::]:53` is one dual-stack listener), and
an IPv4 client seen through it as `::ffff:a.b.c.d` is known by its plain IPv4 address everywhere
(`rules.policy.networks.plain_ip`): client check, identity, rate limit and access log.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from functools import lru_cache

from dns_block.resolver import Resolver
from rules.policy.networks import plain_ip as _plain_ip

log = logging.getLogger(__name__)

TCP_IDLE_TIMEOUT = 10.0
TCP_MAX_CLIENTS = 256
TCP_MAX_PER_CLIENT = 16  # a resolver keeps a few connections open; 16 is ample, and 16 devices share 256
MAX_PENDING = 10_000
RECEIVE_BUFFER = 4 * 1024 * 1024  # slow-path UDP queries in flight; beyond this new misses are dropped

# per packet on an IPv6 (dual-stack) socket: one dict look-up once an address has been seen, not a parse
plain_ip = lru_cache(maxsize=65536)(_plain_ip)


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
        # IPv4 clients of a dual-stack listener arrive as ::ffff:a.b.c.d; an IPv4 socket needs nothing
        self._plain = plain_ip if family == socket.AF_INET6 else None
        try:
            if family == socket.AF_INET6:
                self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
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
        plain = self._plain
        for _ in range(self.BATCH):
            try:
                data, addr = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. an ICMP error queued on the socket
                log.debug("UDP receive error: %s", exc)
                continue
            ip = addr[0] if plain is None else plain(addr[0])
            try:
                reply = cached(data, ip, True)
            except Exception:
                log.exception("fast path failed for a packet from %s", ip)
                continue
            if reply is None:
                if len(self.tasks) < MAX_PENDING:
                    task = self._loop.create_task(self._slow(data, ip, addr))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
            elif reply:
                self._send(reply, addr)

    def _send(self, reply: bytes, addr: tuple[str, int]) -> None:
        try:
            self.sock.sendto(reply, addr)
        except OSError as exc:  # BlockingIOError (buffer full) included: dropped, the client retries
            log.debug("UDP send to %s failed: %s", addr[0], exc)

    async def _slow(self, data: bytes, ip: str, addr: tuple[str, int]) -> None:
        try:
            reply = await self.resolver.resolve(data, ip, True)
        except Exception:
            log.exception("cannot answer a query from %s", ip)
            return
        if reply and self.sock.fileno() >= 0:
            self._send(reply, addr)


class TcpServer:
    """The TCP side of one listen address (`handle` is the asyncio.start_server callback)."""

    def __init__(self, resolver: Resolver, idle_timeout: float = TCP_IDLE_TIMEOUT,
                 max_clients: int = TCP_MAX_CLIENTS, max_per_client: int = TCP_MAX_PER_CLIENT) -> None:
        self.resolver = resolver
        self.idle_timeout = idle_timeout
        self.max_clients = max_clients
        self.max_per_client = max_per_client
        self.clients = 0
        self.per_client: dict[str, int] = {}  # open connections by client address

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        ip = plain_ip(peer[0]) if peer else ""
        if not self.resolver.client_check.allowed(ip):
            # before any slot is taken: strangers never count against the caps, and get no answer at all
            writer.transport.abort()
            return
        held = self.per_client.get(ip, 0)
        if self.clients >= self.max_clients or held >= self.max_per_client:
            writer.transport.abort()
            return
        self.clients += 1
        self.per_client[ip] = held + 1
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
            left = self.per_client[ip] - 1
            if left:
                self.per_client[ip] = left
            else:
                del self.per_client[ip]
            writer.close()


def tcp_listener(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A bound TCP socket for asyncio.start_server(sock=...): asyncio's own would set IPV6_V6ONLY on an
    IPv6 address, so `[::]:53` would never see an IPv4 client."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
