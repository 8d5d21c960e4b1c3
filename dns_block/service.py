"""The DNS service: its settings and the shared policy pieces in, running listeners out."""

from __future__ import annotations

import asyncio
import logging
import signal

from dns_block.blocked_answer import BlockedAnswer
from dns_block.cache import AnswerCache
from dns_block.catcher import PortCatcher
from dns_block.client_check import ClientCheck
from dns_block.dot_catch import DotCatcher
from dns_block.ratelimit import RateLimit
from dns_block.resolver import Recorder, Resolver
from dns_block.server import TcpServer, UdpServer, tcp_listener
from dns_block.settings import DnsSettings
from dns_block.upstream import Upstream, system_upstreams
from rules.monitoring.signals import SignalKind
from rules.policy.current import SnapshotStore
from rules.policy.networks import ClientNetworks
from rules.policy.snapshot import PolicySnapshot

log = logging.getLogger("schoolgate.dns")


BYPASS_SIGNAL = SignalKind.DNS_OTHER_RESOLVER


class DnsService:
    """Every listener of `[dns] listen`, and `[gateway] dns_bypass_listen`, over one resolver chain; and the
    DoT catcher on `[gateway] dot_catch_listen` (dns_block/dot_catch.py) and the port catcher on
    `[gateway] port_catch_listen` (dns_block/catcher.py), which answer nothing.

    The bypass address is where the gateway's nftables rules send DNS a device addressed to some other
    resolver (`redirect to :PORT`: the address of the interface it came in on). It answers exactly as the
    main listeners (the same chain and cache); only its access events carry the signal "dns_other_resolver".
    """

    def __init__(self, settings: DnsSettings, store: SnapshotStore, clients: ClientNetworks,
                 record: Recorder, reuse_port: bool = False) -> None:
        self.reuse_port = reuse_port  # several worker processes share the addresses
        self.listen = list(settings.listen)
        self.bypass = settings.bypass
        self.dot_catch = settings.dot_catch
        self.port_catch = settings.port_catch
        servers = list(settings.upstreams) or system_upstreams()
        if not servers:
            log.warning("no upstream resolvers (none configured, none in /etc/resolv.conf): "
                        "every allowed name will get SERVFAIL")
        self.upstream = Upstream(servers)
        self.store = store
        self.resolver = Resolver(
            store, ClientCheck(clients),
            RateLimit(settings.rate_limit_qps) if settings.rate_limit_qps else None,
            BlockedAnswer(settings.blocked_answer, settings.block_page_ipv4, settings.block_page_ipv6),
            self.upstream, record, cache=AnswerCache(max_ttl=settings.max_cache_ttl),
        )
        self.bypass_resolver = self.resolver.with_signal(BYPASS_SIGNAL)
        self.catcher = DotCatcher(store, clients.contains, record)
        self.port_catcher = PortCatcher(store, clients.contains, record)
        self._closers: list[UdpServer | asyncio.Server] = []

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        # The store's poll thread swaps snapshots; the cache belongs to the event loop's thread.
        def swapped(snapshot: PolicySnapshot) -> None:
            loop.call_soon_threadsafe(self.resolver.policy_changed, snapshot)

        self.store.on_swap(swapped)
        self.resolver.policy_changed(self.store.current())
        await self.upstream.start()
        # first: once the sinkhole answers, the catchers are surely listening
        self.catcher.listen(*self.dot_catch, reuse_port=self.reuse_port)
        self.port_catcher.listen(*self.port_catch, reuse_port=self.reuse_port)
        for resolver, (host, port) in [*((self.resolver, a) for a in self.listen),
                                       (self.bypass_resolver, self.bypass)]:
            self._closers.append(UdpServer(resolver, host, port, reuse_port=self.reuse_port))
            tcp = TcpServer(resolver)
            self._closers.append(await asyncio.start_server(
                tcp.handle, sock=tcp_listener(host, port, self.reuse_port)))
        log.info("DNS sinkhole listening on %s (UDP and TCP), DNS sent to other resolvers on %s, DNS over "
                 "TLS/QUIC caught on %s, blocked ports caught on %s; upstreams %s; policy version %s from %s",
                 ", ".join(_address(h, p) for h, p in self.listen), _address(*self.bypass),
                 _address(*self.dot_catch), _address(*self.port_catch),
                 ", ".join(f"{h}:{p}" for h, p in self.upstream.servers) or "none",
                 self.store.current().version, self.store.current().source)

    async def stop(self) -> None:
        for closer in self._closers:
            closer.close()
        for catcher in (self.catcher, self.port_catcher):
            catcher.close()
            if catcher.recorded or catcher.suppressed:
                log.info("%s: %d attempts recorded, %d more within %g s of the last not recorded",
                         catcher.name, catcher.recorded, catcher.suppressed, catcher.interval)
        self.upstream.close()
        if self.upstream.mismatched:  # many of these mean someone tried to forge answers
            log.info("upstreams: %d replies dropped for a wrong ID, question or letter case (forged, or late)",
                     self.upstream.mismatched)


def _address(host: str, port: int) -> str:
    return f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"


async def _serve(service: DnsService) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await service.start()
    await stop.wait()
    log.info("stopping")
    await service.stop()


def serve(service: DnsService) -> None:
    """Serve until SIGTERM/SIGINT, then close every listener (the caller flushes the shared pieces)."""
    asyncio.run(_serve(service))
