"""Names a school network answers the same way for everyone, before any policy, to keep devices on
the school's resolver (and so inside the filter):

- `use-application-dns.net`: Firefox's canary; NXDOMAIN tells Firefox not to switch on its own DoH;
- `mask.icloud.com`, `mask-h2.icloud.com`: NXDOMAIN turns iCloud Private Relay off (Apple's advice
  for networks that must filter);
- `resolver.arpa` (RFC 9462, Discovery of Designated Resolvers): NODATA, so devices do not discover
  and upgrade to an encrypted resolver that bypasses the filter;
- HTTPS and SVCB records, for every name: NODATA. They carry Encrypted Client Hello keys, with which a
  browser hides the site's name from the filter by itself; their other use, HTTP/3 hints, is moot on a
  gateway that drops QUIC. Withholding them keeps ECH a deliberate act, which the detector may score.
  The site itself stays reachable through its A and AAAA records.
"""

from __future__ import annotations

from dnslib import QTYPE, RCODE, DNSRecord

from dns_block.answer import EDE_FILTERED, Answer, add_ede, skeleton
from rules.policy.decision import Decision, Reason

NXDOMAIN_NAMES = frozenset({"use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com"})
NODATA_ZONE = "resolver.arpa"
CACHE_LIFETIME = 3600
WITHHELD_TYPES = frozenset({QTYPE.HTTPS, QTYPE.SVCB})


class Hardening:
    """`answer(query, host)` -> the fixed reply for a hardening name, else None."""

    def answer(self, query: DNSRecord, host: str) -> Answer | None:
        if host in NXDOMAIN_NAMES:
            reply = skeleton(query, RCODE.NXDOMAIN)
            rule = f"hardening: {host} (NXDOMAIN)"
        elif host == NODATA_ZONE or host.endswith("." + NODATA_ZONE):
            reply = skeleton(query)
            rule = f"hardening: {NODATA_ZONE} (NODATA)"
        else:
            return None
        add_ede(reply, query, EDE_FILTERED, f"schoolgate {rule}")
        return Answer(bytes(reply.pack()), CACHE_LIFETIME, "block", None, rule, Reason.HARDENING.value,
                      count_down=False)

    def withhold(self, query: DNSRecord, decision: Decision) -> Answer | None:
        """For an allowed name: NODATA instead of its HTTPS or SVCB records (see the module docstring)."""
        if query.q.qtype not in WITHHELD_TYPES:
            return None
        reply = skeleton(query)
        add_ede(reply, query, EDE_FILTERED, "schoolgate hardening: HTTPS/SVCB records withheld (ECH keys)")
        return Answer(bytes(reply.pack()), CACHE_LIFETIME, decision.action.value, decision.category,
                      decision.rule or "hardening: HTTPS/SVCB records withheld", decision.reason.value,
                      count_down=False)
