"""What a link of the resolver chain returns: the reply, how long it may be cached, and what to log.

Also the two helpers every answering link needs: a reply skeleton that echoes the question exactly as
asked, and the Extended DNS Error (RFC 8914) that says why a name was not resolved.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from dnslib import EDNS0, QTYPE, RCODE, DNSRecord, EDNSOption

EDE_OPTION = 15  # the EDNS option code of an Extended DNS Error
EDE_BLOCKED = 15  # "the domain is on a blocklist due to an internal security policy"
EDE_FILTERED = 17  # "the domain is on a blocklist as requested by the client('s operator)"
BLOCKED_TTL = 10  # seconds a client may keep a blocked answer: short, so an unblock reaches it soon
EDNS_PAYLOAD = 1232  # the payload size we advertise (the DNS flag day 2020 value)


@dataclass(frozen=True, slots=True)
class Answer:
    """A reply (with the query's ID) and its bookkeeping.

    `lifetime` is how long the cache may keep it (0: never); `count_down` says whether the cache counts
    its TTLs down (upstream answers) or keeps them as they are (answers we make, with a short TTL).
    `action`, `category`, `rule` and `reason` go into the access event.
    """

    reply: bytes
    lifetime: int
    action: str = "allow"
    category: str | None = None
    rule: str | None = None
    reason: str | None = None
    count_down: bool = True


def skeleton(query: DNSRecord, rcode: int = RCODE.NOERROR) -> DNSRecord:
    """A reply to `query` carrying its ID, RD bit and question as asked (case included), no records."""
    reply = query.reply(ra=1, aa=0)
    reply.header.rcode = rcode
    reply.header.ad = 0  # we vouch for nothing: these answers are ours, not DNSSEC-validated
    return reply


def has_edns(query: DNSRecord) -> bool:
    return any(rr.rtype == QTYPE.OPT for rr in query.ar)


def add_ede(reply: DNSRecord, query: DNSRecord, code: int, text: str) -> None:
    """Add an OPT record with an Extended DNS Error, when the query spoke EDNS (RFC 8914 needs EDNS)."""
    if not has_edns(query):
        return
    data = struct.pack("!H", code) + text.encode("utf-8", "replace")[:200]
    reply.add_ar(EDNS0(udp_len=EDNS_PAYLOAD, opts=[EDNSOption(EDE_OPTION, data)]))


def add_edns(reply: DNSRecord, query: DNSRecord) -> None:
    """Keep EDNS: answer an EDNS query with an OPT record of our own."""
    if has_edns(query):
        reply.add_ar(EDNS0(udp_len=EDNS_PAYLOAD))


def qtype_name(qtype: int) -> str:
    name = QTYPE.get(qtype, None)
    return str(name) if name is not None else f"TYPE{qtype}"
