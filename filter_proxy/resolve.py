"""Names resolved the way the school's DNS resolves them: through `[dns] upstreams`.

In transparent mode the proxy connects to where the decided name leads, never to the address the device
chose (see `filter_proxy.destinations`), so it must resolve the name itself. It asks the same upstream
resolvers as the sinkhole, so a device and the proxy see the same internet (and on a gateway whose own
resolv.conf names nothing useful, resolution still works). The queries leave from fresh source ports
with randomised case (`dns_block.upstream.Upstream`), as the sinkhole's do.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable
from pathlib import Path

from dnslib import QTYPE, DNSRecord

from dns_block.upstream import Upstream

HOSTS_FILE = Path("/etc/hosts")
MAX_TTL = 300  # seconds an answer is kept at most, whatever its TTL
MAX_NAMES = 10_000  # names kept at most; past that the table starts again


def read_hosts(path: Path = HOSTS_FILE) -> dict[str, list[str]]:
    """Name -> addresses from a hosts file (the machine's own names, `localhost` first of all), as the
    system resolver reads it before DNS; an unreadable file gives nothing."""
    names: dict[str, list[str]] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return names
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        try:
            address = str(ipaddress.ip_address(fields[0]))
        except ValueError:
            continue
        for name in fields[1:]:
            names.setdefault(name.lower().rstrip("."), []).append(address)
    return names


class UpstreamResolver:
    """`await resolver(host, port)` -> the IPv4 then the IPv6 addresses of `host`; OSError when nothing
    answers (an empty list when the name exists without addresses). The hosts file is read first, as the
    system resolver does: the gateway's own names (`localhost`) are never asked of the internet."""

    def __init__(self, servers: list[tuple[str, int]], hosts: dict[str, list[str]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.upstream = Upstream(servers)
        self.hosts = read_hosts() if hosts is None else hosts
        self.clock = clock
        # name -> (until, addresses): a connection is checked by its decision hook and again as it connects
        # (`server_connect`), and a page opens many connections to one site; each would otherwise cost two
        # upstream round trips. Kept for the answer's lowest TTL, at most MAX_TTL.
        self._answers: dict[str, tuple[float, list[str]]] = {}

    async def __call__(self, host: str, port: int) -> list[str]:
        name = host.lower().rstrip(".")
        local = self.hosts.get(name)
        if local:
            return sorted(local, key=lambda address: ":" in address)  # IPv4 first, as the upstreams' answers
        now = self.clock()
        kept = self._answers.get(name)
        if kept is not None and now < kept[0]:
            return list(kept[1])
        replies = await asyncio.gather(self._ask(host, QTYPE.A), self._ask(host, QTYPE.AAAA))
        if all(reply is None for reply in replies):
            raise OSError(f"no upstream resolver answered for {host}")
        answered = [reply for reply in replies if reply is not None]
        addresses = [address for records, _ in answered for address in records]
        ttl = min((ttl for _, ttl in answered), default=0)
        if ttl > 0:
            if len(self._answers) >= MAX_NAMES:
                self._answers.clear()
            self._answers[name] = (now + ttl, addresses)
        return addresses

    async def _ask(self, host: str, qtype: int) -> tuple[list[str], int] | None:
        """The addresses of one type and how long they may be kept (their lowest TTL, at most MAX_TTL)."""
        raw = await self.upstream.query(DNSRecord.question(host, QTYPE[qtype]).pack())
        if raw is None:
            return None
        try:
            reply = DNSRecord.parse(raw)
        except Exception:
            return None
        records = [rr for rr in reply.rr if rr.rtype == qtype]
        return [str(rr.rdata) for rr in records], min([MAX_TTL, *(rr.ttl for rr in records)])
