"""The gateway's catchers: where its nftables rules send what a device may not send to the internet.

Nothing is answered. A TCP connection is accepted, recorded and closed at once with a reset (SO_LINGER 0),
so the device's application fails fast instead of hanging; a UDP datagram is recorded and dropped. Each
attempt becomes one access event (source "gateway", action "block") for the device as DNS identifies it.
Only the client networks are recorded, and at most one event per client and key every `interval` seconds:
a VPN client retrying in a loop must not flood the log (nor the detector, which caps its signals). With
several `schoolgate dns` workers each keeps its own count.

A device that walks ports (or the two protocols) makes a new key with every attempt, and a device may send
from any address of its own network (the reverse-path check accepts those), so the log also has budgets per
minute: `per_address` recorded attempts for one client address, and `overall` for all addresses together.
Beyond them an attempt is counted, not recorded; when the minute ends one summary event is recorded per
address that went over its own budget ("N more attempts not recorded"), and one for what the overall budget
refused, under the address that tried most. Summaries carry no signal: the recorded attempts already told
the detector. Memory is bounded too: at most `overall` addresses are counted by name in each of the
minute's tallies; attempts from further addresses are counted together.

Where the device meant to go survives the redirect in two ways. TCP: the connection tracker still knows the
original destination, which the accepted socket reads with SO_ORIGINAL_DST (IPv4) or IP6T_SO_ORIGINAL_DST
(IPv6); neither needs a capability. UDP: no such option exists for an unconnected socket, so the ruleset
copies the first four bytes of the transport header (source and destination port, network order) into the
packet mark (and the connection's mark, for a flow's later datagrams), and the socket reads the mark of each
datagram with SO_RCVMARK. The address is not carried; the port is trusted only when the source port in the
mark is the datagram's own, so a mark set by something else is never read as a port.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from collections.abc import Callable, Hashable

from rules.monitoring.signals import SignalKind
from rules.policy.current import SnapshotStore
from rules.store.event_writer import EventRecord, EventRow

log = logging.getLogger(__name__)

SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h, at SOL_IP
IP6T_SO_ORIGINAL_DST = 80  # linux/netfilter_ipv6/ip6_tables.h, at SOL_IPV6
SO_MARK = 36  # the control message SO_RCVMARK adds (asm-generic/socket.h)
SO_RCVMARK = 75  # Linux 5.19 or newer
INTERVAL = 10.0  # seconds between two recorded attempts of one client and key
BUDGET_WINDOW = 60.0  # seconds: the budgets below are per minute
PER_ADDRESS_BUDGET = 30  # recorded attempts per client address and minute
OVERALL_BUDGET = 2000  # recorded attempts per minute, all addresses together
Recorder = Callable[[EventRow], None]


def original_destination(sock: socket.socket) -> tuple[str, int | None]:
    """The address and port a redirected TCP connection was addressed to, or ("", None) (not redirected)."""
    peer = ""
    if sock.family == socket.AF_INET6:
        try:
            peer = str(sock.getpeername()[0])
        except OSError:
            return "", None
    if sock.family == socket.AF_INET or peer.startswith("::ffff:"):  # IPv4, or IPv4 on a dual-stack socket
        try:
            raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)  # struct sockaddr_in
        except OSError:
            return "", None
        return socket.inet_ntoa(raw[4:8]), struct.unpack("!H", raw[2:4])[0]
    if sock.family != socket.AF_INET6:
        return "", None
    try:
        raw = sock.getsockopt(socket.IPPROTO_IPV6, IP6T_SO_ORIGINAL_DST, 28)  # struct sockaddr_in6
    except OSError:
        return "", None
    return socket.inet_ntop(socket.AF_INET6, raw[8:24]), struct.unpack("!H", raw[2:4])[0]


def port_from_mark(mark: int, source_port: int) -> int | None:
    """The destination port the ruleset copied into a datagram's mark, or None when the mark is not ours."""
    sport, dport = struct.unpack("!HH", struct.pack("=I", mark & 0xFFFFFFFF))
    return dport if mark and sport == source_port and dport else None


def client_ip(peer: tuple[object, ...]) -> str:
    ip = str(peer[0])
    return ip[7:] if ip.startswith("::ffff:") else ip


class Catcher:
    """Records attempts; `listen()` opens its TCP and UDP sockets on the running loop. Subclasses say what an
    attempt is (`caught_tcp`, `caught_udp`) and call `record_attempt`."""

    name = "catcher"

    def __init__(self, store: SnapshotStore, allowed: Callable[[str], bool], record: Recorder,
                 interval: float = INTERVAL, clock: Callable[[], float] = time.time,
                 per_address: int = PER_ADDRESS_BUDGET, overall: int = OVERALL_BUDGET) -> None:
        self.store = store
        self.allowed = allowed
        self.record = record
        self.interval = interval
        self.clock = clock
        self.per_address = per_address
        self.overall = overall
        self.last: dict[Hashable, float] = {}  # (client address, ...) -> its last recorded attempt
        self.recorded = 0
        self.suppressed = 0  # retries of a key within `interval`
        self.unrecorded = 0  # attempts over a budget: counted, summarised, not recorded one by one
        self._window: int | None = None  # the minute the budgets below count
        self._used: dict[str, int] = {}  # address -> attempts recorded this minute (at most `overall` keys)
        self._over: dict[str, int] = {}  # address (one of _used's) -> attempts over its own budget
        self._total = 0  # attempts recorded this minute, all addresses
        self._refused: dict[str, int] = {}  # address -> attempts the overall budget refused (at most `overall` keys)
        self._refused_others = 0  # ... from addresses beyond those
        self._timer: asyncio.TimerHandle | None = None
        self.marks = False  # whether SO_RCVMARK is on (the UDP port can be read)
        self._sockets: list[socket.socket] = []

    def record_attempt(self, key: tuple[str, *tuple[Hashable, ...]], qtype: str, host: str, rule: str,
                       signal: SignalKind, transport: str, port: int | None) -> bool:
        """Record one attempt unless the client (key[0]) is a stranger or `key` was recorded within `interval`."""
        ip = key[0]
        if not self.allowed(ip):
            return False
        now = self.clock()
        self.roll(now)
        last = self.last.get(key)
        if last is not None and now - last < self.interval:
            self.suppressed += 1
            return False
        used = self._used.get(ip, 0)
        if used >= self.per_address:
            self._over[ip] = self._over.get(ip, 0) + 1
            self.unrecorded += 1
            return False
        if self._total >= self.overall:
            if ip in self._refused or len(self._refused) < self.overall:
                self._refused[ip] = self._refused.get(ip, 0) + 1
            else:
                self._refused_others += 1
            self.unrecorded += 1
            return False
        if len(self.last) >= 65536:  # forget the quiet ones rather than grow without end
            self.last = {k: t for k, t in self.last.items() if now - t < self.interval}
        self.last[key] = now
        self._used[ip] = used + 1
        self._total += 1
        self._emit(now, ip, qtype, host, rule, signal, transport, port)
        self.recorded += 1
        return True

    def _emit(self, now: float, ip: str, qtype: str | None, host: str, rule: str, signal: SignalKind | None,
              transport: str | None, port: int | None) -> None:
        snapshot = self.store.current()
        ip, device_id, device, mac = snapshot.event_head(snapshot.identify(ip))
        self.record(EventRecord(ts=now, client_ip=ip, device_id=device_id, device=device, mac=mac, source="gateway",
                                qtype=qtype, host=host, url=None, action="block", category=None, rule=rule,
                                reason=None, search_term=None, signal=signal, transport=transport, port=port))

    def roll(self, now: float | None = None) -> None:
        """When the budgets' minute has ended, record its summaries and start counting afresh."""
        moment = self.clock() if now is None else now
        window = int(moment // BUDGET_WINDOW)
        if window == self._window:
            return
        for ip, count in self._over.items():
            self._emit(moment, ip, None, "", f"{count} more attempts not recorded (over {self.per_address} a "
                       "minute from this address)", None, None, None)
        refused = sum(self._refused.values()) + self._refused_others
        if refused:
            busiest = max(self._refused, key=self._refused.__getitem__) if self._refused else ""
            addresses = f"more than {len(self._refused)}" if self._refused_others else str(len(self._refused))
            self._emit(moment, busiest, None, "", f"{refused} more attempts from {addresses} addresses not recorded "
                       f"(over {self.overall} a minute from all addresses; this one tried most)", None, None, None)
        if self._over or refused:
            log.warning("%s: %d attempts over the log's budgets in the last minute were counted, not recorded",
                        self.name, sum(self._over.values()) + refused)
        self._window = window
        self._used, self._over, self._refused, self._refused_others, self._total = {}, {}, {}, 0, 0

    def caught_tcp(self, ip: str, host: str, port: int | None) -> None:
        raise NotImplementedError

    def caught_udp(self, ip: str, port: int | None) -> None:
        raise NotImplementedError

    def listen(self, host: str, port: int, reuse_port: bool = False) -> None:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        for kind, handler in ((socket.SOCK_STREAM, self._accept), (socket.SOCK_DGRAM, self._datagrams)):
            sock = socket.socket(family, kind)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if reuse_port:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if family == socket.AF_INET6 and host == "::":
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # [::] takes IPv4 too
                if kind == socket.SOCK_DGRAM:
                    self._receive_marks(sock)
                sock.bind((host, port))
                if kind == socket.SOCK_STREAM:
                    sock.listen(128)
                sock.setblocking(False)
            except OSError:
                sock.close()
                raise
            self._sockets.append(sock)
            loop.add_reader(sock.fileno(), handler, sock)
        if self._timer is None:
            self._tick()

    def _tick(self) -> None:
        """Write a minute's summaries even when no attempt follows it."""
        self.roll()
        self._timer = asyncio.get_running_loop().call_later(BUDGET_WINDOW / 6, self._tick)

    def _receive_marks(self, sock: socket.socket) -> None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVMARK, 1)
            self.marks = True
        except OSError as exc:  # a kernel before 5.19: the attempt is still recorded, without its port
            log.warning("%s: SO_RCVMARK is not available (%s): UDP attempts are recorded without their port",
                        self.name, exc)

    def close(self) -> None:
        loop = asyncio.get_running_loop()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
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
                log.warning("%s: accept failed: %s", self.name, exc)
                return
            try:
                self.caught_tcp(client_ip(peer), *original_destination(conn))
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = reset
            except OSError:
                pass
            finally:
                conn.close()

    def _datagrams(self, sock: socket.socket) -> None:
        space = socket.CMSG_SPACE(4)
        for _ in range(64):
            try:
                # one byte: the rest of the datagram is discarded, it is never read
                _, ancillary, _, peer = sock.recvmsg(1, space)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # e.g. an ICMP error reported on the socket: nothing to record
            port = None
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_MARK and len(data) >= 4:
                    port = port_from_mark(struct.unpack("=I", data[:4])[0], int(peer[1]))
            self.caught_udp(client_ip(peer), port)


class PortCatcher(Catcher):
    """Every new TCP or UDP attempt from the LAN to a port `[gateway] allowed_egress` does not allow (signal
    "blocked_port", with the port the device tried); at most one event per client, protocol and port."""

    name = "port catcher"
    SIGNAL = SignalKind.BLOCKED_PORT

    def attempt(self, ip: str, transport: str, host: str, port: int | None) -> bool:
        qtype = transport.upper()
        where = f"port {port}" if port is not None else "a port"
        return self.record_attempt((ip, transport, port), qtype, host,
                                   f"{qtype} to {where} not in allowed_egress", self.SIGNAL, transport, port)

    def caught_tcp(self, ip: str, host: str, port: int | None) -> None:
        self.attempt(ip, "tcp", host, port)

    def caught_udp(self, ip: str, port: int | None) -> None:
        self.attempt(ip, "udp", "", port)
