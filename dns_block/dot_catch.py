"""The DoT catcher: where the gateway's nftables rules send DNS over TLS (TCP 853) and DNS over QUIC (UDP 853).

Nothing is answered. A TCP connection is accepted, recorded and closed at once with a reset (SO_LINGER 0);
a UDP datagram is recorded and dropped. Each attempt becomes one access event (source "gateway", action
"block", signal "dot", which rules/detector.py weighs), with the device identified as DNS identifies it and,
for TCP, the address the device meant to reach (SO_ORIGINAL_DST, IPv4). Only the client networks are
recorded, and at most one event per client and protocol (DoT, DoQ) every `interval` seconds: a phone
retrying its private resolver in a loop must not flood the log (nor the detector, which caps the signal).
With several `schoolgate dns` workers each keeps its own count.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from collections.abc import Callable

from rules.policy_store import SnapshotStore

log = logging.getLogger(__name__)

SIGNAL = "dot"  # rules/detector.py weighs it
SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h
INTERVAL = 10.0  # seconds between two recorded attempts of one client
RULES = {"DoT": "DNS over TLS refused", "DoQ": "DNS over QUIC refused"}
Recorder = Callable[[tuple[object, ...]], None]


def original_destination(sock: socket.socket) -> str:
    """The IPv4 address a redirected connection was addressed to, or "" (not redirected, or not IPv4)."""
    if sock.family != socket.AF_INET:
        return ""
    try:
        raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)  # struct sockaddr_in
    except OSError:
        return ""
    return socket.inet_ntoa(raw[4:8])


class DotCatcher:
    """Records attempts; `listen()` opens its TCP and UDP sockets on the running loop."""

    def __init__(self, store: SnapshotStore, allowed: Callable[[str], bool], record: Recorder,
                 interval: float = INTERVAL, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.allowed = allowed
        self.record = record
        self.interval = interval
        self.clock = clock
        self.last: dict[tuple[str, str], float] = {}  # (client address, qtype) -> its last recorded attempt
        self.recorded = 0
        self.suppressed = 0
        self._sockets: list[socket.socket] = []

    def attempt(self, ip: str, qtype: str, host: str) -> bool:
        """Record one attempt unless the client is a stranger or was recorded within `interval`."""
        if not self.allowed(ip):
            return False
        now = self.clock()
        key = (ip, qtype)
        last = self.last.get(key)
        if last is not None and now - last < self.interval:
            self.suppressed += 1
            return False
        if len(self.last) >= 65536:  # forget the quiet ones rather than grow without end
            self.last = {k: t for k, t in self.last.items() if now - t < self.interval}
        self.last[key] = now
        device = self.store.current().identify(ip).device
        head = (ip, None, None, None) if device is None else (ip, device.id, device.name, device.mac)
        self.record((now, *head, "gateway", qtype, host, None, "block", None, RULES[qtype], None, None,
                     SIGNAL))
        self.recorded += 1
        return True

    def listen(self, host: str, port: int, reuse_port: bool = False) -> None:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        for kind, handler in ((socket.SOCK_STREAM, self._accept), (socket.SOCK_DGRAM, self._datagrams)):
            sock = socket.socket(family, kind)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if reuse_port:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                sock.bind((host, port))
                if kind == socket.SOCK_STREAM:
                    sock.listen(128)
                sock.setblocking(False)
            except OSError:
                sock.close()
                raise
            self._sockets.append(sock)
            loop.add_reader(sock.fileno(), handler, sock)

    def close(self) -> None:
        loop = asyncio.get_running_loop()
        for sock in self._sockets:
            loop.remove_reader(sock.fileno())
            sock.close()
        self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        for _ in range(64):  # a burst at most per wake-up; the loop comes back for the rest
            try:
                conn, peer = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of descriptors: log, and keep serving
                log.warning("DoT catcher: accept failed: %s", exc)
                return
            try:
                self.attempt(_ip(peer), "DoT", original_destination(conn))
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = reset
            except OSError:
                pass
            finally:
                conn.close()

    def _datagrams(self, sock: socket.socket) -> None:
        for _ in range(64):
            try:
                _, peer = sock.recvfrom(1)  # the rest of the datagram is discarded: it is never read
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # e.g. an ICMP error reported on the socket: nothing to record
            self.attempt(_ip(peer), "DoQ", "")


def _ip(peer: tuple[object, ...]) -> str:
    ip = str(peer[0])
    return ip[7:] if ip.startswith("::ffff:") else ip
