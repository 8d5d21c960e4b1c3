"""What `schoolgate dns` needs to know, already parsed and checked: plain values, no configuration file.

The service is built from this alone (with the shared store, client networks and event recorder passed
in), so it can be started, and tested, without reading any configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

Address = tuple[str, int]


@dataclass(frozen=True)
class DnsSettings:
    """Listen addresses are (host, port); an empty `upstreams` means the system's resolvers."""

    listen: tuple[Address, ...] = (("127.0.0.1", 5353),)
    bypass: Address = ("127.0.0.1", 5354)  # DNS the gateway redirected from some other resolver
    dot_catch: Address = ("127.0.0.1", 5853)  # DNS over TLS / QUIC, caught and recorded
    port_catch: Address = ("127.0.0.1", 5854)  # every other blocked port, caught and recorded
    upstreams: tuple[Address, ...] = ()
    blocked_answer: str = "block_page"  # or "nxdomain", "null"
    block_page_ipv4: str = "127.0.0.1"
    block_page_ipv6: str = "::1"
    rate_limit_qps: int = 1000  # per client; 0 turns the limit off
    max_cache_ttl: int = 3600
