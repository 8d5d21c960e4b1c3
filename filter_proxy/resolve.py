"""Names resolved the way the school's DNS resolves them: through `[dns] upstreams`.

In transparent mode the proxy connects to where the decided name leads, never to the address the device
chose (see `filter_proxy.destinations`), so it must resolve the name itself. It asks the same upstream
resolvers as the sinkhole, so a device and the proxy see the same internet (and on a gateway whose own
resolv.conf names nothing useful, resolution still works). The queries leave from fresh source ports
with randomised case (`dns_block.upstream.Upstream`), as the sinkhole's do.
"""

from __future__ import annotations

import asyncio

from dnslib import QTYPE, DNSRecord

from dns_block.upstream import Upstream


class UpstreamResolver:
    """`await resolver(host, port)` -> the IPv4 then the IPv6 addresses of `host`; OSError when nothing
    answers (an empty list when the name exists without addresses)."""

    def __init__(self, servers: list[tuple[str, int]]) -> None:
        self.upstream = Upstream(servers)

    async def __call__(self, host: str, port: int) -> list[str]:
        replies = await asyncio.gather(self._ask(host, QTYPE.A), self._ask(host, QTYPE.AAAA))
        if all(reply is None for reply in replies):
            raise OSError(f"no upstream resolver answered for {host}")
        return [address for reply in replies if reply is not None for address in reply]

    async def _ask(self, host: str, qtype: int) -> list[str] | None:
        raw = await self.upstream.query(DNSRecord.question(host, QTYPE[qtype]).pack())
        if raw is None:
            return None
        try:
            reply = DNSRecord.parse(raw)
        except Exception:
            return None
        return [str(rr.rdata) for rr in reply.rr if rr.rtype == qtype]
