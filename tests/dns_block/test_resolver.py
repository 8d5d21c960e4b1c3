"""The resolver chain with real dnslib packets, a fixed snapshot and a fake upstream."""

from __future__ import annotations

import asyncio
import logging
import struct
import time

import pytest
from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from dns_block import wire
from dns_block.cache import AnswerCache
from rules.policy.snapshot import GroupInfo
from rules.store.event_writer import EventRecord
from tests.dns_block.helpers import ask, ede, make_resolver, query
from tests.factories import tdevice, tsnapshot


def decided(e: EventRecord) -> tuple[object, ...]:
    """What the resolver decided for an event's query: the fields from `host` to `search_term`."""
    return (e.host, e.url, e.action, e.category, e.rule, e.reason, e.search_term)


def run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize(("mode", "qtype", "rcode", "answer"), [
    ("block_page", "A", RCODE.NOERROR, "198.18.0.1"),
    ("block_page", "AAAA", RCODE.NOERROR, "2001:db8::1"),
    ("null", "A", RCODE.NOERROR, "0.0.0.0"),
    ("null", "AAAA", RCODE.NOERROR, "::"),
    ("nxdomain", "A", RCODE.NXDOMAIN, None),
    ("nxdomain", "AAAA", RCODE.NXDOMAIN, None),
    ("block_page", "HTTPS", RCODE.NOERROR, None),
    ("block_page", "SVCB", RCODE.NOERROR, None),
    ("block_page", "MX", RCODE.NOERROR, None),
    ("block_page", "TXT", RCODE.NOERROR, None),
    ("null", "HTTPS", RCODE.NOERROR, None),
])
def test_blocked_answers(mode: str, qtype: str, rcode: int, answer: str | None) -> None:
    resolver, _, upstream, events = make_resolver(tsnapshot(blocked=["badsite.test"]), mode)
    reply = DNSRecord.parse(run(ask(resolver, query("Www.BadSite.TEST", qtype, ident=99))))
    assert reply.header.id == 99 and reply.header.rcode == rcode
    assert str(reply.q.qname) == "Www.BadSite.TEST." and QTYPE[reply.q.qtype] == qtype
    assert [str(rr.rdata) for rr in reply.rr] == ([answer] if answer else [])
    assert ede(reply) == (15, "blocked by schoolgate: category (blocked)")
    assert upstream.asked == []  # never sent upstream
    last = events[-1]
    assert (last.source, last.qtype, last.host, last.url, last.action, last.category, last.rule, last.reason) == (
        "dns", qtype, "www.badsite.test", None, "block", "blocked", "blocked: badsite.test", "category")


def test_blocked_without_edns_has_no_opt() -> None:
    resolver, *_ = make_resolver(tsnapshot(blocked=["badsite.test"]))
    reply = DNSRecord.parse(run(ask(resolver, query("badsite.test", edns=False))))
    assert reply.ar == [] and str(reply.rr[0].rdata) == "198.18.0.1"


def test_allowed_is_forwarded_and_then_answered_from_the_cache() -> None:
    resolver, _, upstream, events = make_resolver(tsnapshot(blocked=["badsite.test"]))
    first = DNSRecord.parse(run(ask(resolver, query("Good.test", ident=1))))
    assert resolver.cached(query("Good.test", ident=2), "10.0.0.7", True) is not None
    second = DNSRecord.parse(run(ask(resolver, query("Good.test", ident=2))))
    assert (first.header.id, second.header.id) == (1, 2)
    assert str(second.rr[0].rdata) == "198.18.0.10" and str(second.q.qname) == "Good.test."
    assert upstream.asked == ["Good.test"]
    assert len(events) == 3 and all(e.action == "allow" and e.host == "good.test" for e in events)


def test_max_cache_ttl_caps_the_ttl_served_and_how_long_the_cache_keeps_it() -> None:
    """`[dns] max_cache_ttl`: the upstream says 300 s, the cap is 100 s."""
    resolver, _, upstream, _ = make_resolver(tsnapshot(), cache=AnswerCache(max_ttl=100))
    first = DNSRecord.parse(run(ask(resolver, query("Capped.test", ident=1))))
    assert [rr.ttl for rr in first.rr] == [100]
    key = (resolver.identity.get("10.0.0.7").scope, query("Capped.test")[2:])
    now = time.time()
    entry = resolver.cache.get(key, now + 50)
    assert entry is not None and DNSRecord.parse(b"\0\0" + entry.reply_body(now + 50)).rr[0].ttl <= 100
    assert resolver.cache.get(key, now + 101) is None  # expired at the cap, not at the upstream's 300 s
    run(ask(resolver, query("Capped.test", ident=2)))
    assert upstream.asked == ["Capped.test", "Capped.test"]
    google = DNSRecord.parse(run(ask(resolver, query("www.google.com"))))  # SafeSearch answers too
    assert google.rr and all(rr.ttl <= 100 for rr in google.rr)


def test_the_default_cache_keeps_an_answer_an_hour_at_most() -> None:
    resolver, *_ = make_resolver(tsnapshot())
    assert resolver.cache.max_ttl == 3600


def test_every_event_is_whole_and_carries_no_signal_from_the_main_listener() -> None:
    resolver, _, _, events = make_resolver(tsnapshot(blocked=["badsite.test"]))
    for name in ("good.test", "good.test", "badsite.test", "badsite.test"):  # slow path, then the cache
        run(ask(resolver, query(name)))
    assert resolver.cache.hits == 2
    assert [len(e) for e in events] == [len(EventRecord._fields)] * 4
    assert [e.signal for e in events] == [None] * 4
    assert [e.transport for e in events] == ["udp"] * 4  # `ask` sends as UDP


def test_the_bypass_listener_answers_alike_and_every_event_carries_its_signal() -> None:
    resolver, store, upstream, events = make_resolver(tsnapshot(blocked=["badsite.test"]))
    bypass = resolver.with_signal("dns_other_resolver")
    assert resolver.signal is None and bypass.cache is resolver.cache and bypass.identity is resolver.identity
    answers = {}
    for name in ("good.test", "badsite.test"):
        # asked first on the bypass port (slow path), then again there (its cache hit), then on the main port
        answers[name] = [run(ask(who, query(name))) for who in (bypass, bypass, resolver)]
        assert answers[name][0] == answers[name][1] == answers[name][2]
    assert upstream.asked == ["good.test"]  # one cache for both ports
    assert resolver.cache.hits == 4
    assert [(e.host, e.action, e.signal) for e in events] == [
        ("good.test", "allow", "dns_other_resolver"), ("good.test", "allow", "dns_other_resolver"),
        ("good.test", "allow", None),
        ("badsite.test", "block", "dns_other_resolver"), ("badsite.test", "block", "dns_other_resolver"),
        ("badsite.test", "block", None)]
    assert all(len(e) == len(EventRecord._fields) for e in events)
    # a main-port answer cached first is served on the bypass port with the signal too
    run(ask(resolver, query("other.test")))
    run(ask(bypass, query("other.test")))
    assert upstream.asked == ["good.test", "other.test"] and decided(events[-1]) == decided(events[-2])
    assert (events[-2].signal, events[-1].signal) == (None, "dns_other_resolver")
    # a policy swap empties the one cache and the one identity memo, whichever resolver it reaches
    store.swap(tsnapshot(blocked=["good.test"]))
    reply = DNSRecord.parse(run(ask(bypass, query("good.test"))))
    assert str(reply.rr[0].rdata) == "198.18.0.1" and events[-1].action == "block"


def test_all_upstreams_failing_is_servfail_never_nxdomain_and_not_cached() -> None:
    resolver, _, upstream, events = make_resolver(tsnapshot(), dead=True)
    for _ in range(2):
        reply = DNSRecord.parse(run(ask(resolver, query("good.test"))))
        assert reply.header.rcode == RCODE.SERVFAIL
    assert len(upstream.asked) == 2
    assert events[-1].rule == "upstream failed"


def test_strangers_are_refused() -> None:
    resolver, _, upstream, events = make_resolver(tsnapshot())
    reply = DNSRecord.parse(run(ask(resolver, query("good.test"), ip="203.0.113.9")))
    assert reply.header.rcode == RCODE.REFUSED and not upstream.asked and not events


def test_rate_limit_drops_a_flood_but_serves_others() -> None:
    resolver, *_ = make_resolver(tsnapshot(), qps=5)
    answers = [run(ask(resolver, query("good.test"), ip="10.0.0.1")) for _ in range(20)]
    assert sum(1 for a in answers if a) == 5
    assert run(ask(resolver, query("good.test"), ip="10.0.0.2"))


@pytest.mark.parametrize(("name", "rcode"), [
    ("use-application-dns.net", RCODE.NXDOMAIN), ("MASK.icloud.com", RCODE.NXDOMAIN),
    ("mask-h2.icloud.com", RCODE.NXDOMAIN), ("resolver.arpa", RCODE.NOERROR), ("_dns.resolver.arpa", RCODE.NOERROR),
])
def test_hardening(name: str, rcode: int) -> None:
    resolver, _, upstream, events = make_resolver(tsnapshot())
    reply = DNSRecord.parse(run(ask(resolver, query(name, "SVCB" if "arpa" in name else "A"))))
    assert reply.header.rcode == rcode and not reply.rr and not upstream.asked
    assert ede(reply)[0] == 17 and events[-1].action == "block"


def test_safesearch_cname_and_resolved_target() -> None:
    resolver, _, upstream, events = make_resolver(tsnapshot())
    reply = DNSRecord.parse(run(ask(resolver, query("WWW.Google.co.uk"))))
    assert str(reply.q.qname) == "WWW.Google.co.uk."
    assert [(QTYPE[rr.rtype], str(rr.rdata)) for rr in reply.rr] == [
        ("CNAME", "forcesafesearch.google.com."), ("A", "198.18.0.10")]
    assert upstream.asked == ["forcesafesearch.google.com"]
    assert events[-1].rule == "safesearch: forcesafesearch.google.com"


@pytest.mark.parametrize(("name", "target"), [
    ("www.bing.com", "strict.bing.com."), ("duckduckgo.com", "safe.duckduckgo.com."),
    ("www.youtube.com", "restrict.youtube.com."), ("m.youtube.com", "restrict.youtube.com."),
])
def test_safesearch_targets(name: str, target: str) -> None:
    resolver, *_ = make_resolver(tsnapshot())
    reply = DNSRecord.parse(run(ask(resolver, query(name))))
    assert str(reply.rr[0].rdata) == target


def test_safesearch_off_for_a_group_and_blocked_search_stays_blocked() -> None:
    snapshot = tsnapshot(blocked=["bing.com"], devices=[("10.0.0.8", tdevice(group="staff"))])
    snapshot.groups = {**snapshot.groups, "staff": GroupInfo("staff", safesearch=False)}
    resolver, _, upstream, _ = make_resolver(snapshot)
    staff = DNSRecord.parse(run(ask(resolver, query("www.google.com"), ip="10.0.0.8")))
    assert [QTYPE[rr.rtype] for rr in staff.rr] == ["A"] and upstream.asked == ["www.google.com"]
    bing = DNSRecord.parse(run(ask(resolver, query("www.bing.com"))))
    assert str(bing.rr[0].rdata) == "198.18.0.1"


def test_cache_is_per_scope_and_cleared_when_the_policy_changes() -> None:
    device = tdevice(id=3, group="staff")
    snapshot = tsnapshot(group_only={"games": ["staff"]}, categories={"games": ["game.test"]},
                         devices=[("10.0.0.9", device)])
    resolver, store, upstream, _ = make_resolver(snapshot)
    assert DNSRecord.parse(run(ask(resolver, query("game.test")))).rr[0].rdata.__str__() == "198.18.0.10"
    staff = DNSRecord.parse(run(ask(resolver, query("game.test"), ip="10.0.0.9")))
    assert str(staff.rr[0].rdata) == "198.18.0.1"
    store.swap(tsnapshot(blocked=["game.test"], version=2))
    assert resolver.cached(query("game.test"), "10.0.0.7", True) is None
    assert str(DNSRecord.parse(run(ask(resolver, query("game.test")))).rr[0].rdata) == "198.18.0.1"


def test_an_error_in_the_decision_fails_closed() -> None:
    snapshot = tsnapshot()
    snapshot.table = None  # decide() will fail on it
    resolver, _, upstream, events = make_resolver(snapshot)
    reply = DNSRecord.parse(run(ask(resolver, query("good.test"))))
    assert str(reply.rr[0].rdata) == "198.18.0.1" and not upstream.asked
    assert events[-1].reason == "error"


def test_unusable_names_fail_closed() -> None:
    resolver, _, upstream, _ = make_resolver(tsnapshot())
    reply = DNSRecord.parse(run(ask(resolver, query("bad name!.test"))))
    assert str(reply.rr[0].rdata) == "198.18.0.1" and not upstream.asked


def test_big_reply_truncated_over_udp_only() -> None:
    resolver, *_ = make_resolver(tsnapshot())
    blocked = run(ask(resolver, query("x" * 60 + ".test", "A", edns=False)))
    assert DNSRecord.parse(blocked).header.tc == 0
    resolver.cache.clear()
    data = query("good.test", edns=False)
    reply = DNSRecord.parse(data).reply()
    for i in range(60):
        reply.add_answer(RR("good.test", QTYPE.A, rdata=A(f"198.18.0.{i}"), ttl=300))
    resolver.cache.put((("pupils", None), data[2:]), bytes(reply.pack()), 300, time.time(), ("dns",) * 9,
                       wire.max_udp_size(data), resolver.cache.generation)
    over_udp = DNSRecord.parse(resolver.cached(data, "10.0.0.7", True))
    over_tcp = DNSRecord.parse(resolver.cached(data, "10.0.0.7", False))
    assert over_udp.header.tc == 1 and not over_udp.rr and len(over_tcp.rr) == 60


@pytest.mark.parametrize("data", [
    b"\x00\x01\x01\x00\x00\x02" + b"\x00" * 6 + b"\x01a\x00\x00\x01\x00\x01" * 2,  # two questions
    b"\x00\x01\x79\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01",  # opcode 15
    b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x03",  # class CH
    b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01",  # pointer loop
    b"\x00\x01\x01\x00\xff\xff\xff\xff\xff\xff\xff\xff\x01a\x00",  # absurd counts
])
def test_hostile_packets_get_an_error_or_nothing(data: bytes) -> None:
    resolver, _, upstream, events = make_resolver(tsnapshot())
    reply = run(ask(resolver, data))
    assert reply == b"" or DNSRecord.parse(reply).header.rcode in (RCODE.FORMERR, RCODE.NOTIMP)
    assert not upstream.asked and not events
    assert wire.rcode(run(ask(resolver, query("good.test")))) == RCODE.NOERROR


def long_name_query(label_sizes: list[int], ident: int = 5) -> bytes:
    """A query for a name of labels of these sizes (raw: dnslib refuses to build names over 255 bytes)."""
    name = b"".join(bytes([size]) + b"a" * size for size in label_sizes) + b"\x00"
    return struct.pack("!6H", ident, 0x0100, 1, 0, 0, 0) + name + b"\x00\x01\x00\x01"


def test_a_name_over_255_bytes_is_formerr_logged_at_debug_only(caplog: pytest.LogCaptureFixture) -> None:
    resolver, _, upstream, events = make_resolver(tsnapshot())
    data = long_name_query([63, 63, 63, 63, 10])  # 268 bytes in wire form
    with caplog.at_level(logging.DEBUG):
        for _ in range(3):
            reply = run(ask(resolver, data))
            assert reply[:2] == data[:2] and reply[3] & 0x0F == wire.FORMERR and reply[2] & 0x80
            assert DNSRecord.parse(reply).header.rcode == RCODE.FORMERR
    assert resolver.malformed == 3 and not upstream.asked and not events
    assert [r.levelno for r in caplog.records if r.name.startswith("dns_block")] == [logging.DEBUG] * 3


def test_a_name_of_exactly_255_bytes_is_answered() -> None:
    resolver, _, upstream, _ = make_resolver(tsnapshot())
    data = long_name_query([63, 63, 63, 61])  # 3 * 64 + 62 + the root's 1 = 255 bytes
    reply = DNSRecord.parse(run(ask(resolver, data)))
    assert reply.header.rcode == RCODE.NOERROR and reply.header.id == 5 and len(upstream.asked) == 1
