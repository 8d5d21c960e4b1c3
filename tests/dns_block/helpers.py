"""Test helpers for dns_block: a fixed snapshot store, a fake upstream, and packets built with dnslib."""

from __future__ import annotations

from dnslib import EDNS0, QTYPE, RR, A, DNSRecord

from dns_block.blocked_answer import BlockedAnswer
from dns_block.cache import AnswerCache
from dns_block.client_check import ClientCheck
from dns_block.ratelimit import RateLimit
from dns_block.resolver import Resolver
from rules.policy.networks import ClientNetworks
from rules.policy.snapshot import PolicySnapshot
from rules.store.event_writer import EventRecord


class FixedStore:
    """A SnapshotStore stand-in: `current()` and `swap()`."""

    def __init__(self, snapshot: PolicySnapshot) -> None:
        self.snapshot = snapshot
        self.listeners: list = []

    def current(self) -> PolicySnapshot:
        return self.snapshot

    def on_swap(self, listener) -> None:
        self.listeners.append(listener)

    def swap(self, snapshot: PolicySnapshot) -> None:
        self.snapshot = snapshot
        for listener in self.listeners:
            listener(snapshot)


class FakeUpstream:
    """Answers A 198.18.0.10 (TTL 300) for anything, and remembers what it was asked; `dead` fails all."""

    def __init__(self, dead: bool = False) -> None:
        self.dead = dead
        self.asked: list[str] = []

    async def query(self, data: bytes) -> bytes | None:
        query = DNSRecord.parse(data)
        self.asked.append(str(query.q.qname).rstrip("."))
        if self.dead:
            return None
        reply = query.reply()
        if query.q.qtype == QTYPE.A:
            reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A("198.18.0.10"), ttl=300))
        return bytes(reply.pack())


def make_resolver(snapshot: PolicySnapshot, mode: str = "block_page", qps: int = 0, dead: bool = False,
                  networks: tuple[str, ...] = ("127.0.0.0/8", "10.0.0.0/8"), cache: AnswerCache | None = None):
    events: list[EventRecord] = []
    store = FixedStore(snapshot)
    upstream = FakeUpstream(dead)
    resolver = Resolver(store, ClientCheck(ClientNetworks(networks)), RateLimit(qps) if qps else None,
                        BlockedAnswer(mode, "198.18.0.1", "2001:db8::1"), upstream,
                        lambda event: events.append(EventRecord._make(event)), cache=cache)  # read by name
    store.on_swap(resolver.policy_changed)
    return resolver, store, upstream, events


def query(name: str, qtype: str = "A", edns: bool = True, ident: int = 4242) -> bytes:
    record = DNSRecord.question(name, qtype)
    record.header.id = ident
    if edns:
        record.add_ar(EDNS0(udp_len=1232))
    return bytes(record.pack())


async def ask(resolver: Resolver, data: bytes, ip: str = "10.0.0.7", udp: bool = True) -> bytes:
    """The resolver's reply as the server would send it: fast path first, else the slow path."""
    reply = resolver.cached(data, ip, udp)
    if reply is None:
        reply = await resolver.resolve(data, ip, udp)
    return reply


def ede(reply: DNSRecord) -> tuple[int, str] | None:
    for rr in reply.ar:
        if rr.rtype == QTYPE.OPT:
            for option in rr.rdata:
                if option.code == 15:
                    return int.from_bytes(option.data[:2], "big"), option.data[2:].decode()
    return None
