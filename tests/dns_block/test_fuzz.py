"""Hostile packets, generated: whatever arrives, the resolver answers with a well-formed error or nothing,
never raises, and the next good query is answered as usual."""

from __future__ import annotations

import asyncio

import dns.flags
import dns.message
from dnslib import RCODE, DNSRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dns_block import wire
from tests.dns_block.helpers import ask, make_resolver, query
from tests.factories import tsnapshot

GOOD = query("good.test")


def mutations() -> st.SearchStrategy[bytes]:
    """Random bytes, and good queries with bytes flipped, cut short or extended."""
    flipped = st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)).map(
        lambda t: GOOD[:t[0]] + bytes([t[1]]) + GOOD[t[0] + 1:])
    cut = st.integers(0, len(GOOD)).map(lambda n: GOOD[:n])
    header = st.binary(min_size=12, max_size=12)
    return st.one_of(st.binary(max_size=600), flipped, cut, st.tuples(header, st.binary(max_size=80)).map(
        lambda t: t[0] + t[1]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutations())
def test_no_packet_breaks_the_resolver(data: bytes) -> None:
    resolver, *_ = make_resolver(tsnapshot(blocked=["bad.test"]))

    async def scenario() -> None:
        for udp in (True, False):
            reply = await ask(resolver, data, udp=udp)
            if reply:
                # whatever we send is a well-formed message (dnspython reads binary labels dnslib refuses)
                parsed = dns.message.from_wire(reply)
                assert parsed.flags & dns.flags.QR
                assert parsed.id == int.from_bytes(data[:2], "big")
        good = await ask(resolver, GOOD)
        assert wire.rcode(good) == RCODE.NOERROR and DNSRecord.parse(good).rr

    asyncio.run(asyncio.wait_for(scenario(), 5))
