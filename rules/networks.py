"""Which client addresses schoolgate serves (`[network] client_networks`): never an open resolver or proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def plain_ip(text: str) -> str:
    """The client address as every other part of schoolgate knows it: an IPv4-mapped IPv6 address
    (`::ffff:10.0.3.17`, how a dual-stack `[::]` listener sees an IPv4 client) becomes plain IPv4
    (`10.0.3.17`); anything else is returned as it is.

    One helper for every listener, so the client check, device identity, rate limit and access log all
    see one client as one address (a device registered at 10.0.3.17 is found however it connected)."""
    if ":" in text and "." in text:  # IPv6 with an embedded IPv4 address: mapped, or some other kind
        return _mapped(text)
    return text


@lru_cache(maxsize=65536)  # per packet on a dual-stack listener: one dict look-up once an address is seen
def _mapped(text: str) -> str:
    try:
        address = ipaddress.IPv6Address(text.split("%", 1)[0])
    except ValueError:
        return text
    return str(address.ipv4_mapped) if address.ipv4_mapped is not None else text


class ClientNetworks:
    """A set of networks with a cached membership test (a school has a few hundred addresses)."""

    def __init__(self, networks: Iterable[str]) -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(ipaddress.ip_network(n, strict=False) for n in networks)
        self.contains = lru_cache(maxsize=65536)(self._contains)

    def _contains(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks if network.version == address.version)
