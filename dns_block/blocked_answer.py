"""How to answer a blocked name: a strategy chosen once at configuration (`[dns] blocked_answer`).

- `block_page`: A -> `block_page_ipv4`, AAAA -> `block_page_ipv6`, so browsers land on the block page;
- `null`: A -> 0.0.0.0, AAAA -> ::, the connection fails at once on the device;
- `nxdomain`: the name does not exist.
With the first two, every other type is NODATA: above all HTTPS/SVCB, which would carry ECH keys and
other addresses for the blocked name. Every blocked reply carries an Extended DNS Error "Blocked"
saying why (when the client speaks EDNS). A blocked name is never sent upstream.
"""

from __future__ import annotations

from dnslib import AAAA, QTYPE, RCODE, RR, A, DNSRecord

from dns_block.answer import BLOCKED_TTL, EDE_BLOCKED, Answer, add_ede, skeleton
from rules.policy.decision import Decision

MODES = ("block_page", "nxdomain", "null")
CACHE_LIFETIME = 3600  # server side: the cache is emptied whenever the policy changes anyway


class BlockedAnswer:
    """`answer(query, decision)` -> the blocked reply, per the configured mode."""

    def __init__(self, mode: str, ipv4: str, ipv6: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown blocked_answer {mode!r}; use one of {', '.join(MODES)}")
        self.mode = mode
        if mode == "null":
            ipv4, ipv6 = "0.0.0.0", "::"
        self.addresses = {QTYPE.A: A(ipv4), QTYPE.AAAA: AAAA(ipv6)}

    def answer(self, query: DNSRecord, decision: Decision) -> Answer:
        q = query.q
        if self.mode == "nxdomain":
            reply = skeleton(query, RCODE.NXDOMAIN)
        else:
            reply = skeleton(query)
            rdata = self.addresses.get(q.qtype)
            if rdata is not None:
                reply.add_answer(RR(q.qname, q.qtype, rdata=rdata, ttl=BLOCKED_TTL))
        why = f"blocked by schoolgate: {decision.reason.value}"
        if decision.category:
            why += f" ({decision.category})"
        add_ede(reply, query, EDE_BLOCKED, why)
        return Answer(bytes(reply.pack()), CACHE_LIFETIME, decision.action.value, decision.category, decision.rule,
                      decision.reason.value, count_down=False)
