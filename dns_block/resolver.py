"""The resolver chain: every query goes through these links, in this order: the cheapest
refusals first, so that a stranger or a flood costs as little work as possible.

Fast path, for every packet (synchronous, no parse):
 1. client check  - strangers get REFUSED before anything else runs (never an open resolver);
 2. rate limit    - a flooding device is cut off before it costs us any more work;
 3. identity      - address -> device, group and cache scope (memoised per snapshot);
 4. answer cache  - a repeat of a query already answered for this scope: patch the ID in, log, send.
Slow path, on a cache miss (dnslib parses the query once):
 5. hardening     - DoH canary, Private Relay and resolver.arpa: the same answer for everyone;
 6. policy        - `rules.policy.decide()` on the current snapshot; blocked -> the configured blocked answer.
                    Any error in 5-6 answers as blocked (fail closed) and never forwards;
 7. safesearch    - allowed search engines answer with their SafeSearch names (per group);
 8. upstream      - everything else is forwarded; SERVFAIL when every upstream fails.
Then the reply is cached under the scope (unless the policy changed meanwhile), and every query,
fast or slow, becomes one access event (a deque append: the hot path never waits for the database).

A resolver made by `with_signal()` is the same chain (same cache, identity memo, rate limit, upstreams)
whose every event carries a signal: the gateway's second port, where the firewall sends DNS a device
addressed to another resolver, answers exactly as the first and records "dns_other_resolver".
"""

from __future__ import annotations

import copy
import logging
import struct
import time
from collections.abc import Callable
from datetime import UTC, datetime

from dnslib import CLASS, QTYPE, RCODE, RR, DNSHeader, DNSQuestion, DNSRecord
from dnslib import CNAME as CNAMEData
from dnslib.buffer import BufferError as DNSBufferError
from dnslib.dns import DNSError
from dnslib.label import DNSLabelError

from dns_block import wire
from dns_block.answer import Answer, add_edns, qtype_name, skeleton
from dns_block.blocked_answer import BlockedAnswer
from dns_block.cache import AnswerCache
from dns_block.client_check import ClientCheck
from dns_block.hardening import Hardening
from dns_block.identity import Identity, Known
from dns_block.ratelimit import RateLimit
from dns_block.safesearch import SafeSearch
from dns_block.upstream import Upstream
from rules.monitoring.signals import SignalKind
from rules.policy.current import SnapshotStore
from rules.policy.decide import decide
from rules.policy.decision import FAIL_CLOSED, Decision
from rules.policy.names import normalize_host
from rules.policy.snapshot import PolicySnapshot
from rules.store.event_writer import EventRecord, EventRow

log = logging.getLogger(__name__)

DROP = b""  # the fast path's "send nothing" (rate limited, or not a query at all)
SERVFAIL_LIFETIME = 0  # never cache a failure: the next query tries the upstreams again
NEGATIVE_LIFETIME = 300  # an upstream NXDOMAIN/NODATA without SOA is kept this long at most
Recorder = Callable[[EventRow], None]
# what building a reply raises when the query itself cannot be answered (e.g. a label dnslib cannot write)
UNANSWERABLE = (DNSError, DNSLabelError, DNSBufferError, UnicodeError, struct.error)


class Resolver:
    """The chain above; `cached()` is the fast path, `await resolve()` the slow one."""

    def __init__(self, store: SnapshotStore, client_check: ClientCheck, rate_limit: RateLimit | None,
                 blocked: BlockedAnswer, upstream: Upstream, record: Recorder,
                 safesearch: SafeSearch | None = None, cache: AnswerCache | None = None) -> None:
        self.store = store
        self.client_check = client_check
        self.rate_limit = rate_limit
        self.identity = Identity(store)
        self.cache = cache if cache is not None else AnswerCache()  # an empty cache is falsy (len 0)
        self.hardening = Hardening()
        self.blocked = blocked
        self.safesearch = safesearch or SafeSearch()
        self.upstream = upstream
        self.record = record
        self.signal: SignalKind | None = None  # the last field of every event this resolver records
        self.malformed = 0
        self.policy_changed(store.current())

    def with_signal(self, signal: SignalKind) -> Resolver:
        """This chain for another listener: everything shared (a cached answer is the same whichever port
        asked, and a snapshot swap clears it for both), only the events differ: they carry `signal`."""
        other = copy.copy(self)
        other.signal = signal
        return other

    def policy_changed(self, snapshot: PolicySnapshot) -> None:
        """A new snapshot is in force: forget every client and every answer decided under the old one."""
        self.identity.clear()
        upcoming = snapshot.next_change(datetime.now(UTC))
        self.cache.clear(upcoming.timestamp() if upcoming is not None else float("inf"))

    # -- fast path ---------------------------------------------------------------------------------

    def cached(self, data: bytes, ip: str, udp: bool) -> bytes | None:
        """The reply from the cache, DROP, or None when the slow path must run (links 1-4).

        Written for speed: one memo look-up stands for links 1 and 3 once a client has been seen (only
        clients that passed the check are memoised), and nothing is parsed."""
        if len(data) < wire.HEADER_SIZE:
            return DROP
        known = self.identity.known.get(ip)
        if known is None:
            if not self.client_check.allowed(ip):
                return self.client_check.refusal(data)
            known = self.identity.get(ip)
        now = time.time()
        if self.rate_limit is not None and not self.rate_limit.allow(ip, now):
            return DROP
        cache = self.cache
        if now >= cache.valid_until:  # a timed rule, ban or session starts or ends now
            self.policy_changed(self.store.current())
            return None
        entry = cache.get((known.scope, data[2:]), now)
        if entry is None:
            return None
        # a plain tuple in `EventRecord`'s field order (the client's head, the entry's tail): this runs for
        # every query answered from the cache, and a NamedTuple would cost more than the rest of this path
        self.record((now, *known.head, *entry.tail, self.signal, "udp" if udp else "tcp", None))
        if udp and not entry.udp_ok:
            return wire.truncated(data[:2] + entry.body)
        return data[:2] + entry.reply_body(now)

    # -- slow path ---------------------------------------------------------------------------------

    async def resolve(self, data: bytes, ip: str, udp: bool) -> bytes:
        """Parse, decide and answer a query the cache could not (links 5-8), then cache and log it."""
        try:
            query = DNSRecord.parse(data)
        except Exception:
            self.malformed += 1
            return wire.error_reply(data, wire.FORMERR)
        header = query.header
        if header.qr:
            return DROP
        if header.opcode != 0:
            return wire.error_reply(data, wire.NOTIMP, question=False)  # other opcodes' sections differ
        qend = wire.question_end(data)
        if len(query.questions) != 1 or query.q.qclass != CLASS.IN or qend < 0:
            self.malformed += 1
            return wire.error_reply(data, wire.FORMERR)
        generation = self.cache.generation
        if not self.client_check.allowed(ip):
            return self.client_check.refusal(data)
        if qend - 4 - wire.HEADER_SIZE > wire.MAX_NAME:
            # dnslib reads such a name but cannot write it back: no answer could ever be built for it
            return self._formerr(data, ip, f"a name of {qend - 4 - wire.HEADER_SIZE} bytes, over 255")
        known = self.identity.get(ip)
        snapshot = self.store.current()
        qtype = qtype_name(query.q.qtype)
        raw_name = str(query.q.qname)
        try:
            host: str | None = normalize_host(raw_name)
        except Exception:
            host = None  # not a usable host name: the decision fails closed below
        try:
            answer, decision = self._local(query, host, known, snapshot)
            if answer is None:
                answer = await self._forward(data, query, host or "", known, snapshot, decision)
        except UNANSWERABLE as exc:  # dnslib cannot write a reply to it: the query is at fault
            return self._formerr(data, ip, repr(exc))
        if host is None:
            host = raw_name.rstrip(".").lower()
        if answer.lifetime > 0:
            tail = ("dns", qtype, host, None, answer.action, answer.category, answer.rule, answer.reason, None)
            self.cache.put((known.scope, data[2:]), answer.reply, answer.lifetime, time.time(), tail,
                           wire.max_udp_size(data), generation, answer.count_down)
        self.record(EventRecord(time.time(), *known.head, "dns", qtype, host, None, answer.action, answer.category,
                                answer.rule, answer.reason, None, self.signal, "udp" if udp else "tcp", None))
        reply = answer.reply
        if udp and len(reply) > wire.max_udp_size(data):
            return wire.truncated(reply)
        return reply

    def _formerr(self, data: bytes, ip: str, why: str) -> bytes:
        """FORMERR, without the question (it is what could not be used). Logged at debug only: any
        client can send such packets, as fast as it likes, and must not be able to fill the log."""
        self.malformed += 1
        log.debug("FORMERR to %s: cannot answer its query (%s)", ip, why[:200])
        return wire.error_reply(data, wire.FORMERR, question=False)

    def _local(self, query: DNSRecord, host: str | None, known: Known,
               snapshot: PolicySnapshot) -> tuple[Answer | None, Decision]:
        """Links 5 and 6: a hardening or blocked answer, or (None, the allowing decision). Fails closed."""
        try:
            if host is None:
                raise ValueError(f"not a host name: {str(query.q.qname)!r}")
            fixed = self.hardening.answer(query, host)
            if fixed is not None:
                return fixed, FAIL_CLOSED
            decision = decide(snapshot, known.client, host)
        except Exception as exc:
            # debug only: a hostile client must not be able to fill the log; the access event says it
            log.debug("cannot decide for %r (%s); answering as blocked (fail closed)", str(query.q.qname), exc)
            decision = FAIL_CLOSED
        if decision.blocked:
            return self.blocked.answer(query, decision), decision
        return self.hardening.withhold(query, decision), decision

    async def _forward(self, data: bytes, query: DNSRecord, host: str, known: Known, snapshot: PolicySnapshot,
                       decision: Decision) -> Answer:
        """Links 7 and 8: SafeSearch, else the upstreams."""
        target = self.safesearch.target(snapshot, known.client.group, host)
        if target is not None:
            return await self._safesearch(query, target, decision)
        reply = await self.upstream.query(data)
        if reply is None:
            return self._servfail(query, decision)
        # the client is told no longer a TTL than the cache keeps the answer (`[dns] max_cache_ttl`)
        reply = wire.cap_ttls(reply, self.cache.max_ttl)
        lifetime = NEGATIVE_LIFETIME if wire.rcode(reply) != wire.NOERROR else self.cache.max_ttl
        return Answer(reply, lifetime, decision.action.value, decision.category, decision.rule,
                      decision.reason.value)

    async def _safesearch(self, query: DNSRecord, target: str, decision: Decision) -> Answer:
        """CNAME to the provider's SafeSearch name, plus that name's records resolved upstream."""
        question = DNSRecord(DNSHeader(rd=1), q=DNSQuestion(target, query.q.qtype))
        raw = await self.upstream.query(question.pack())
        if raw is None:
            return self._servfail(query, decision)
        try:
            resolved = DNSRecord.parse(raw)
        except Exception:
            return self._servfail(query, decision)
        for rr in resolved.rr:
            rr.ttl = min(rr.ttl, self.cache.max_ttl)
        ttls = [rr.ttl for rr in resolved.rr] or [300]
        reply = skeleton(query, resolved.header.rcode)
        reply.add_answer(RR(query.q.qname, QTYPE.CNAME, rdata=CNAMEData(target), ttl=min(300, *ttls)))
        for rr in resolved.rr:
            reply.add_answer(rr)
        add_edns(reply, query)
        return Answer(bytes(reply.pack()), self.cache.max_ttl, decision.action.value, decision.category,
                      f"safesearch: {target}", decision.reason.value)

    def _servfail(self, query: DNSRecord, decision: Decision) -> Answer:
        reply = skeleton(query, RCODE.SERVFAIL)
        add_edns(reply, query)
        return Answer(bytes(reply.pack()), SERVFAIL_LIFETIME, decision.action.value, decision.category,
                      "upstream failed", decision.reason.value)
