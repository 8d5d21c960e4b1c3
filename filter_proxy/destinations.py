"""Where the proxy may connect: the internet, never the school's or the gateway's own internal addresses.

A proxy that connects wherever it is asked turns every pupil's device into one standing inside the
gateway: the admin web on loopback (past `[gateway] staff_networks`), printers and switches on the
LAN, cloud metadata on link-local. So, before any upstream connection, the destination is checked:

- a host given as an address (any form `rules.policy.names.ip_literal` reads: `2130706433` is 127.0.0.1) is
  checked as that address;
- a name is resolved here, every address it resolves to is checked, and the connection is then made
  to the checked address (`server.address` is replaced), so a name that answers differently a moment
  later (DNS rebinding) cannot slip between the check and the connect;
- in transparent mode the device chose the address and the decision was on a name (the TLS server name,
  or the Host header): the connection goes where that name leads, never to the device's address, which
  could be a blocked site's or a tunnel server's behind an allowed name;
- refused: loopback, private (RFC 1918, fc00::/7), link-local, multicast, unspecified, reserved,
  shared/CGNAT (100.64.0.0/10), and the gateway's own addresses (its interfaces, the configured listen
  and block page addresses), also when carried inside IPv6 (::ffff:a.b.c.d, 6to4, NAT64);
- allowed anyway: `[proxy] internal_destinations`, the networks a school serves on purpose (an
  intranet); but never the proxy's or the admin web's own listening socket, whatever is listed.

The CONNECT and request hooks ask early so that the client gets a refused CONNECT or a block page;
`server_connect` asks again for every connection mitmproxy opens (transparent mode, a Host inside an
intercepted tunnel, anything unexpected) and is the check that pins the address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
import subprocess
from collections.abc import Awaitable, Callable, Iterable, Set
from dataclasses import dataclass

from mitmproxy.proxy import server_hooks

from filter_proxy.enforcer import Enforcer
from filter_proxy.notes import Notes
from filter_proxy.settings import INTERNAL_DESTINATIONS, OWN_ADDRESSES, Settings
from rules.policy.decision import Action, Decision, Reason
from rules.policy.names import ip_literal

log = logging.getLogger("schoolgate.proxy")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

_PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
_SHARED = tuple(ipaddress.ip_network(n) for n in ("100.64.0.0/10", "0.0.0.0/8"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class Vetted:
    """The outcome of checking a destination: the address to connect to, or why not (or neither: the name
    did not resolve, and mitmproxy's own connect will fail and say so)."""

    address: str | None = None
    refused: str | None = None


def internal_decision(why: str) -> Decision:
    return Decision(Action.BLOCK, Reason.INTERNAL_ADDRESS, rule=why)


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`, in its order of preference."""
    # AI_ADDRCONFIG: no IPv6 answers on a gateway without IPv6, since only the first address is tried
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_ADDRCONFIG)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def interface_addresses() -> list[str]:
    """This machine's own addresses (`ip -j addr`), read once at start; empty (with a warning) if unknown."""
    try:
        out = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, timeout=5, check=True).stdout
        return [info["local"] for link in json.loads(out) for info in link.get("addr_info", []) if "local" in info]
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError) as exc:
        log.warning("cannot list this machine's addresses with `ip -j addr` (%s); loopback and private ranges are "
                    "still refused", exc)
        return []


def _address(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def category(address: IPAddress) -> str | None:
    """Which kind of internal address this is, in words for the log and the block page, or None."""
    inner = _embedded_ipv4(address)
    if inner is not None:
        found = category(inner)
        return f"{found} (inside an IPv6 address)" if found else None
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if any(address in network for network in _PRIVATE):
        return "a private address"
    if any(address in network for network in _SHARED):
        return "a shared (carrier-grade NAT) address"
    if address.is_reserved or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local):
        return "a reserved address"
    return None


class Destinations:
    """Checks destinations (for the CONNECT and request hooks) and pins them (the `server_connect` hook)."""

    def __init__(self, enforcer: Enforcer, settings: Settings, interfaces: Iterable[str] | None = None,
                 resolve: Resolver | None = None, notes: Notes | None = None) -> None:
        self.enforcer = enforcer
        self.settings = settings
        self.notes = notes if notes is not None else Notes()  # (an empty Notes is falsy)
        self.interfaces = frozenset(_address(a) for a in (interface_addresses() if interfaces is None else interfaces))
        self.resolve = resolve or system_resolve

    def configure(self, updated: Set[str]) -> None:
        """Say at start-up when a listed network opens one of this gateway's own addresses: it is allowed
        (the school asked for it), but it is seldom what was meant (10.0.0.0/8 for one intranet server)."""
        if not updated & {INTERNAL_DESTINATIONS, OWN_ADDRESSES}:
            return
        for address in sorted(self.interfaces | self.settings.own_addresses, key=str):
            if address.is_loopback:
                continue
            listed = [str(n) for n in self.settings.internal_destinations if address in n]
            if listed:
                log.warning("[proxy] internal_destinations %s covers %s, an address of this gateway: devices "
                            "can reach its services through the proxy (the admin web's port stays refused)",
                            ", ".join(listed), address)

    # -- the check -------------------------------------------------------------------------------------

    def refusal(self, ip: str, port: int) -> str | None:
        """Why the proxy may not connect to `ip`:`port`, or None when it may."""
        address = _address(ip)
        settings = self.settings
        own = self.interfaces | settings.own_addresses
        for host, service_port in settings.own_services:
            if port == service_port and (address == host or (host.is_unspecified and (address in own
                                                                                       or address.is_loopback))):
                return f"{ip} port {port} is schoolgate's own service (the proxy or the admin web)"
        if any(address in network for network in settings.internal_destinations):
            return None
        if address in own:
            return f"{ip} is an address of this gateway"
        found = category(address)
        return f"{ip} is {found}" if found else None

    async def vet(self, host: str, port: int) -> Vetted:
        """Check `host` (a name or any address form) on `port`; resolve a name and check every address."""
        literal = ip_literal(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                addresses = await self.resolve(host, port)
            except OSError as exc:
                log.info("cannot resolve %r: %s", host, exc)
                return Vetted()
            if not addresses:
                return Vetted()
        for address in addresses:
            why = self.refusal(address, port)
            if why is not None:
                return Vetted(refused=why if literal is not None else f"{host} resolves to {why}")
        return Vetted(address=addresses[0])

    # -- the hooks -------------------------------------------------------------------------------------

    async def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        """Every upstream connection: check the destination again, then connect to the checked address.

        Any error refuses the connection: an exception escaping a hook would let mitmproxy connect anyway.
        """
        server = data.server
        if server.error is not None or server.address is None:
            return  # the gate refused it already
        try:
            await self._pin(data)
        except Exception:
            log.exception("ALERT: destination check failed for %r; refusing the server connection", server.address)
            server.error = "blocked by schoolgate: error in the destination check"

    async def _pin(self, data: server_hooks.ServerConnectionHookData) -> None:
        server = data.server
        assert server.address is not None
        host, port = server.address
        note = self.notes.peek(data.client.id)
        if note is not None and note.name is not None:
            host = note.name  # transparent mode: where the decided name leads, not the device's chosen address
        vetted = await self.vet(host, port)
        if vetted.refused is not None:
            log.info("refused upstream %s:%s for %s: %s", host, port, data.client.peername, vetted.refused)
            self.enforcer.refuse(data.client.peername[0], host, internal_decision(vetted.refused), kind="CONNECT")
            server.error = f"blocked by schoolgate: {vetted.refused}"
            return
        if vetted.address is None:
            server.error = f"cannot resolve {host}"
            return
        if ip_literal(host) is None and server.sni is None:
            server.sni = data.client.sni or host  # as mitmproxy would set it: the name, never the address
        server.address = (vetted.address, port)
