"""Forwarding allowed queries to the upstream resolvers (`[dns] upstreams`, or /etc/resolv.conf's).

Each upstream is tried in turn, starting with the last one that answered: UDP with a timeout, then
TCP when the UDP answer is truncated; a timeout, a network error, SERVFAIL or REFUSED moves on to the
next. When every upstream fails the caller answers SERVFAIL (never a made-up NXDOMAIN: the name may
well exist). The query goes out as the client asked it (EDNS included), and the client gets the reply
with its own ID and its own question, exactly as it asked it.

Hard to poison: an off-path attacker who wants to slip a forged answer in must guess
everything a reply is checked against, so each query makes that as much as we can:
- a fresh random ID (16 bits);
- a fresh UDP socket per query, so a fresh source port chosen by the kernel from its ephemeral range
  (about 15 more bits): one long-lived socket gave every query the same port, and 65,536 forged
  replies were enough to poison a name. The socket is connected to the upstream, so the kernel hands
  us only datagrams from that address and port;
- 0x20 encoding: the letters of the name go out in random case, and a reply must echo the question
  byte for byte (one more bit per letter).
A reply whose ID, question or case differ is dropped and counted (`mismatched`), and the query keeps
waiting for the real answer until its timeout: a forgery can neither poison nor cut short a query.
Upstreams that do not echo the case they were asked are rare; they are treated as failing, because
accepting a reply in another case would give up the bits of protection the case gives.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import struct
from pathlib import Path

from dns_block import wire

log = logging.getLogger(__name__)

UDP_TIMEOUT = 1.0
TCP_TIMEOUT = 3.0
RESOLV_CONF = Path("/etc/resolv.conf")
MAX_REPLY = 65535


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


def randomize_case(query: bytes, qend: int) -> bytes:
    """`query` with each letter of its question name in random case (0x20 encoding).

    Done with integers rather than a loop per byte: `lower ^ upper` has 0x20 exactly where a letter is
    (label lengths are below 64, so never letters), and random bits masked by it flip some of them."""
    name = query[wire.HEADER_SIZE:qend - 4]
    size = len(name)
    lower = int.from_bytes(name.lower())
    letters = lower ^ int.from_bytes(name.upper())
    mixed = lower ^ (letters & secrets.randbits(8 * size))
    return query[:wire.HEADER_SIZE] + mixed.to_bytes(size) + query[qend - 4:]


def _matches(reply: bytes, sent: bytes, qend: int) -> bool:
    """Is `reply` the answer to `sent`: a response with the same ID and the same question, byte for byte
    (the case of every letter included)?"""
    return (len(reply) >= qend and reply[:2] == sent[:2] and reply[2] & 0x80 != 0
            and reply[4:6] == b"\x00\x01" and reply[wire.HEADER_SIZE:qend] == sent[wire.HEADER_SIZE:qend])


class Upstream:
    """`await query(raw_query)` -> the upstream's reply (with the query's own ID), or None if all failed."""

    def __init__(self, servers: list[tuple[str, int]], udp_timeout: float = UDP_TIMEOUT,
                 tcp_timeout: float = TCP_TIMEOUT) -> None:
        self.servers = servers
        self.udp_timeout = udp_timeout
        self.tcp_timeout = tcp_timeout
        self._families = [socket.AF_INET6 if ":" in host else socket.AF_INET for host, _ in servers]
        self._preferred = 0
        self.mismatched = 0  # replies dropped: wrong ID, question or case (forged, or very late)

    async def start(self) -> None:
        """Nothing to open: every query has a socket of its own (kept for the service's start order)."""

    def close(self) -> None:
        """Nothing to close: each query's socket is closed when the query ends."""

    async def query(self, query: bytes) -> bytes | None:
        qend = wire.question_end(query)
        if qend < 0:
            return None
        count = len(self.servers)
        for step in range(count):
            index = (self._preferred + step) % count
            reply = await self._ask_one(index, query, qend)
            if reply is not None:
                self._preferred = index
                # the client's ID and question (its own case), the upstream's header and records
                return query[:2] + reply[2:wire.HEADER_SIZE] + query[wire.HEADER_SIZE:qend] + reply[qend:]
        return None

    async def _ask_one(self, index: int, query: bytes, qend: int) -> bytes | None:
        host, port = self.servers[index]
        sent = randomize_case(struct.pack("!H", secrets.randbits(16)) + query[2:], qend)
        try:
            reply = await self._ask_udp(self._families[index], (host, port), sent, qend)
            if wire.is_truncated(reply):
                reply = await asyncio.wait_for(self._ask_tcp(host, port, sent, qend), self.tcp_timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            log.debug("upstream %s:%d failed: %r", host, port, exc)
            return None
        if wire.rcode(reply) in (wire.SERVFAIL, wire.REFUSED):
            log.debug("upstream %s:%d answered rcode %d", host, port, wire.rcode(reply))
            return None
        return reply

    async def _ask_udp(self, family: int, address: tuple[str, int], sent: bytes, qend: int) -> bytes:
        """Send `sent` from a new socket (a new kernel-chosen source port) connected to the upstream, and
        wait for the reply that matches it, dropping (and counting) any other.

        Plain non-blocking socket calls with one reader callback: an asyncio datagram endpoint per query
        would build a transport and a protocol each time, which costs more than the query itself."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.connect(address)  # binds an ephemeral port; the kernel drops datagrams from anyone else
            sock.send(sent)
            future: asyncio.Future[bytes] = loop.create_future()

            def readable() -> None:
                while not future.done():
                    try:
                        data = sock.recv(MAX_REPLY)
                    except (BlockingIOError, InterruptedError):
                        return
                    except OSError as exc:  # ICMP port unreachable: nothing listens there, fail at once
                        future.set_exception(exc)
                        return
                    if _matches(data, sent, qend):
                        future.set_result(data)
                    else:
                        self.mismatched += 1

            def expired() -> None:
                if not future.done():
                    future.set_exception(TimeoutError())

            fd = sock.fileno()
            loop.add_reader(fd, readable)
            timer = loop.call_later(self.udp_timeout, expired)
            try:
                return await future
            finally:
                timer.cancel()
                loop.remove_reader(fd)
        finally:
            sock.close()

    async def _ask_tcp(self, host: str, port: int, sent: bytes, qend: int) -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(struct.pack("!H", len(sent)) + sent)
            await writer.drain()
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = await reader.readexactly(length)
                if _matches(reply, sent, qend):
                    return reply
                self.mismatched += 1
        finally:
            writer.close()
