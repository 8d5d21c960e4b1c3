"""Names a school network answers the same way for everyone, before any policy, to keep devices on
the school's resolver (and so inside the filter):

- `use-application-dns.net`: Firefox's canary; NXDOMAIN tells Firefox not to switch on its own DoH;
- `mask.icloud.com`, `mask-h2.icloud.com`: NXDOMAIN turns iCloud Private Relay off (Apple's advice
  for networks that must filter);
- `resolver.arpa` (RFC 9462, Discovery of Designated Resolvers): NODATA, so devices do not discover
  and upgrade to an encrypted resolver that bypasses the filter.
"""

from __future__ import annotations

from dnslib import RCODE, DNSRecord

from dns_block.answer import EDE_FILTERED, Answer, add_ede, skeleton

NXDOMAIN_NAMES = frozenset({"use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com"})
NODATA_ZONE = "resolver.arpa"
CACHE_LIFETIME = 3600


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
        return Answer(bytes(reply.pack()), CACHE_LIFETIME, "block", None, rule, "hardening", count_down=False)
