"""Which client addresses schoolgate serves (`[network] client_networks`): never an open resolver or proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def plain_ip(text: str) -> str:
    """The client address as the school knows it: an IPv4-mapped IPv6 address (`::ffff:10.0.0.7`, what a
    socket listening on `[::]` reports for an IPv4 client) becomes the IPv4 address it carries, so the
    client check, device identity and access log all see `10.0.0.7`. Anything else is returned unchanged."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return text


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


def normalize_ip(raw: str) -> str:
    """An address in the one form events and the registry use: compressed, and an IPv4-mapped IPv6 address
    (how a dual-stack `[::]` listener sees an IPv4 client) as the IPv4 address it is. ValueError if `raw` is
    not an address."""
    address = ipaddress.ip_address(raw.strip())
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)
