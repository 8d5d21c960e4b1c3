"""The gateway's nftables ruleset, written from the configuration (`schoolgate gateway nftables`).

One `table inet schoolgate` covers IPv4 and IPv6. Only packets that arrive on a LAN interface are
touched: the gateway's own traffic (the sinkhole's upstream queries, the proxy's upstream connections)
never passes the prerouting or forward hooks, so it is exempt by construction.

- DNS to the gateway goes to the sinkhole; DNS to any other resolver goes to the sinkhole's second port,
  which answers it too and records "DNS to another resolver".
- TCP 80 and 443 go to the transparent proxy (spread over workers with `numgen`), including those to the
  block page's address (`[network] block_page_ipv4/ipv6`, often the gateway itself), where DNS sends a
  blocked name: the proxy serves the block page there (so nothing else may serve 80/443 on that address).
- UDP 80 and 443 (QUIC) are dropped, so browsers fall back to TCP and meet the proxy.
- TCP and UDP 853 (DNS over TLS, DNS over QUIC) go to the DoT catcher (`[gateway] dot_catch_listen`, which
  `schoolgate dns` opens): it records each attempt with the signal "dot" and closes it at once (TCP: a reset;
  UDP: no reply). They are counted and logged ("schoolgate-dot") too; nothing on 853 is forwarded.
- Everything else a LAN device starts towards the internet, TCP or UDP on any port, goes to the port
  catcher (`[gateway] port_catch_listen`, which `schoolgate dns` opens too) unless `[gateway]
  allowed_egress` lists its protocol and port: the catcher records it (signal "blocked_port", with the port)
  and closes it (TCP: a reset; UDP: no reply); counted as "blocked_port"; nothing of it leaves. UDP loses
  its port in the redirect, so the rule copies the source and destination ports into the packet's mark (and
  the connection's, restored for a flow's later datagrams in the input chain), which the catcher reads.
- The forward chain then lets through from the LAN only replies and related ICMP errors of flows already
  allowed, allowed_egress, LAN to LAN (between `lan_interfaces`), and ordinary ping; the rest is dropped
  and counted as "egress_dropped" (flows the connection tracker knew before the ruleset was loaded; other
  protocols such as GRE or ESP).
- Ping to the internet (ICMP echo request, IPv4 and IPv6) is the technician's first check, and also a
  tunnel: a ping tunnel carries anything in echo payloads. So, before the connection tracker's
  "established" (an echo with a known identifier is established), an echo request passes only when it is
  small (IPv4 total length up to {PING_MAX_V4} bytes, IPv6 payload up to {PING_MAX_V6}: an ordinary ping is 84 / 64) and
  within {PING_RATE} (burst {PING_BURST}) per source address; the rest is dropped and counted as "ping_dropped".
- Before any of that (prerouting at priority raw, before NAT), on the LAN interfaces: a packet whose source
  address is bound to a MAC (sets bound_v4/v6, binding_v4/v6, written into the ruleset from registrations
  with a MAC and DHCP leases, so a reload never empties them, and kept current by the device sync) but
  comes from another MAC is dropped ("spoof_dropped"); a
  packet whose source address has no route back through the interface it came in on is dropped
  ("rpf_dropped"), except DHCP from 0.0.0.0 and IPv6 from :: or link-local (address autoconfiguration).
- The admin web answers only the staff networks (which a gateway must name: pupils share the LAN).

`redirect` sends a packet to the address of the interface it came in on, so the services must listen
on that address or on every address (0.0.0.0 / ::), never on loopback only.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from deploy.config import Config, ConfigError, check_listeners, parse_egress, parse_hostport

TABLE = "schoolgate"
DOT_LOG_PREFIX = "schoolgate-dot"
# Named counters: `nft list counters table inet schoolgate` shows them; the tests read them too.
COUNTERS = {
    "dns_gateway": "DNS to the gateway, sent to the sinkhole",
    "dns_bypass": "DNS to another resolver, sent to the sinkhole's second port",
    "web_proxied": "TCP 80/443 sent to the transparent proxy",
    "quic_dropped": "UDP 80/443 (QUIC) dropped",
    "dot_rejected": "TCP 853 (DNS over TLS) sent to the DoT catcher, which records and refuses it",
    "doq_rejected": "UDP 853 (DNS over QUIC) sent to the DoT catcher, which records it and never answers",
    "web_refused": "admin web refused to a client outside the staff networks",
    "blocked_port": "new TCP/UDP from the LAN not in allowed_egress, sent to the port catcher, which records it",
    "egress_dropped": "forwarding from the LAN refused: not a reply, not allowed_egress, not LAN to LAN, not ping",
    "rpf_dropped": "packets from the LAN whose source address does not belong on the interface they came in on",
    "spoof_dropped": "packets from a device using an address bound to another device's MAC",
    "ping_dropped": "ping to the internet refused: a large echo request, or more than the per-address rate",
}
# The sets the device sync refills (deploy/bindings.py): bound addresses, and address . MAC pairs.
# Ping to the internet: small echo requests only, at a per-source rate (a ping tunnel needs size or speed).
PING_MAX_V4, PING_MAX_V6 = 128, 108  # IPv4 total length; IPv6 payload length (the same 108 bytes of ICMP)
PING_RATE, PING_BURST = "5/second", 10
PING_SETS = {"ping_v4": "ipv4_addr", "ping_v6": "ipv6_addr"}
BINDING_SETS = {"bound_v4": "ipv4_addr", "bound_v6": "ipv6_addr",
                "binding_v4": "ipv4_addr . ether_addr", "binding_v6": "ipv6_addr . ether_addr"}
_IFNAME = re.compile(r"^[A-Za-z0-9_.:@+-]{1,15}$")


class RulesetError(ValueError):
    """The configuration cannot make a safe ruleset; the message names the key."""


@dataclass(frozen=True)
class GatewayPorts:
    """The ports the redirects point at, checked once."""

    dns: int
    dns_bypass: int
    dot_catch: int
    port_catch: int
    proxy: tuple[int, ...]
    web: int


def gateway_ports(config: Config, workers: int = 1) -> GatewayPorts:
    """Read and check the listen ports; loopback-only listeners cannot receive redirected traffic."""
    if workers < 1:
        raise RulesetError("--workers must be at least 1")
    checks = [("dns.listen", config.dns.listen[0] if config.dns.listen else ""),
              ("gateway.dns_bypass_listen", config.gateway.dns_bypass_listen),
              ("gateway.dot_catch_listen", config.gateway.dot_catch_listen),
              ("gateway.port_catch_listen", config.gateway.port_catch_listen),
              ("proxy.listen", config.proxy.listen), ("web.listen", config.web.listen)]
    ports = []
    for key, text in checks:
        if not text:
            raise RulesetError(f"'{key}' is empty: the gateway needs somewhere to send this traffic")
        host, port = parse_hostport(text)
        if key != "web.listen" and ipaddress.ip_address(host).is_loopback:
            raise RulesetError(f"'{key}' is {text}, on loopback only: traffic redirected from the LAN cannot "
                               "reach it; listen on the gateway's LAN address or on 0.0.0.0 (or [::])")
        ports.append(port)
    dns, bypass, dot_catch, port_catch, proxy, web = ports
    if proxy + workers - 1 > 65535:
        raise RulesetError(f"--workers {workers} from port {proxy} runs past port 65535")
    try:
        check_listeners(config, workers)
    except ConfigError as exc:
        raise RulesetError(str(exc)) from None
    return GatewayPorts(dns, bypass, dot_catch, port_catch, tuple(range(proxy, proxy + workers)), web)


def egress_ports(config: Config) -> dict[str, list[str]]:
    """`[gateway] allowed_egress` as nft set elements per protocol ("993", "5000-5010")."""
    ports: dict[str, list[str]] = {"tcp": [], "udp": []}
    for item in config.gateway.allowed_egress:
        try:
            proto, low, high = parse_egress(item)
        except ValueError as exc:
            raise RulesetError(f"'gateway.allowed_egress' holds {item!r}: {exc}") from None
        element = str(low) if low == high else f"{low}-{high}"
        if element not in ports[proto]:
            ports[proto].append(element)
    return ports


def render_ruleset(config: Config, workers: int = 1, bindings: Mapping[str, Iterable[str]] | None = None,
                   bindings_missing: str = "") -> str:
    """The ruleset as `nft -f` reads it; raise RulesetError for a configuration that cannot work.

    `bindings`: the address-to-MAC sets' elements (set name -> elements, as deploy/bindings.py's
    `wanted_sets` writes them), so that loading the ruleset (a reload, or at boot) never leaves the sets
    empty until the next device sync; None when they could not be read (`bindings_missing` says why, in a
    comment of the ruleset)."""
    lans = config.gateway.lan_interfaces
    if not lans:
        raise RulesetError("'gateway.lan_interfaces' is empty: name the interfaces school devices are on, "
                           'e.g. lan_interfaces = ["eth1"]')
    for name in lans:
        if not _IFNAME.match(name):
            raise RulesetError(f"'gateway.lan_interfaces' holds {name!r}, which is not an interface name")
    ports = gateway_ports(config, workers)
    if not config.gateway.staff_networks:  # load_config refuses this too; never open the web to every device
        raise RulesetError("'gateway.staff_networks' is empty: name the staff's networks, "
                           'e.g. staff_networks = ["10.0.50.0/24"]')
    nets = [ipaddress.ip_network(n, strict=False) for n in config.gateway.staff_networks]
    v4 = [str(n) for n in nets if n.version == 4]
    v6 = [str(n) for n in nets if n.version == 6]
    lan_set = "{ " + ", ".join(f'"{name}"' for name in lans) + " }"
    if len(ports.proxy) == 1:
        proxy_target = f":{ports.proxy[0]}"
    else:
        pairs = ", ".join(f"{i} : {port}" for i, port in enumerate(ports.proxy))
        proxy_target = f": numgen inc mod {len(ports.proxy)} map {{ {pairs} }}"
    page_v4, page_v6 = config.network.block_page_ipv4, config.network.block_page_ipv6  # checked addresses
    egress = egress_ports(config)
    mark_ports = "meta mark set @th,0,32 ct mark set meta mark"  # dns_block/catcher.py reads it back
    if bindings is None:
        why = " ".join((bindings_missing or "not given").split())
        binding_sets = (f"    # The bindings could not be read ({why}): these sets stay empty until the device sync "
                        "fills them.\n")
    else:
        binding_sets = "    # Filled with the registry's bindings and the DHCP leases as this ruleset was written.\n"
    for name, kind in BINDING_SETS.items():
        elements = sorted((bindings or {}).get(name, ()))
        if elements:
            binding_sets += (f"    set {name} {{\n        type {kind};\n"
                             f"        elements = {{ {', '.join(elements)} }}\n    }}\n")
        else:
            binding_sets += f"    set {name} {{ type {kind}; }}\n"
    ping_sets = "\n".join(f"    set {name} {{ type {kind}; size 4096; flags dynamic,timeout; timeout 1m; }}"
                          for name, kind in PING_SETS.items())
    counters = "\n".join(f'    counter {name} {{ comment "{text}" }}' for name, text in COUNTERS.items())
    source = f" from {config.path}" if config.path else ""
    return f"""\
# schoolgate gateway ruleset, written by `schoolgate gateway nftables`{source}.
# Load with: nft -f FILE (it replaces only the table inet {TABLE}).
table inet {TABLE}
delete table inet {TABLE}

table inet {TABLE} {{
{counters}

    set staff_v4 {{
        type ipv4_addr; flags interval; auto-merge;{_elements(v4)}
    }}
    set staff_v6 {{
        type ipv6_addr; flags interval; auto-merge;{_elements(v6)}
    }}
    # [gateway] allowed_egress: what the LAN may reach directly besides web and DNS.
    set egress_tcp {{
        type inet_service; flags interval; auto-merge;{_elements(egress["tcp"])}
    }}
    set egress_udp {{
        type inet_service; flags interval; auto-merge;{_elements(egress["udp"])}
    }}
    # Addresses bound to a MAC, and each with its MAC: refilled by the device sync.
{binding_sets}    # One rate limiter per address that pings the internet, forgotten a minute after its last ping; when
    # full (an address-rotating flood), further addresses' pings are dropped, never the table's memory.
{ping_sets}

    chain guard {{
        type filter hook prerouting priority raw; policy accept;
        iifname != {lan_set} return
        # An address bound to a device's MAC, sent from another MAC: a device borrowing a classmate's identity.
        ip saddr @bound_v4 ip saddr . ether saddr != @binding_v4 counter name "spoof_dropped" drop
        ip6 saddr @bound_v6 ip6 saddr . ether saddr != @binding_v6 counter name "spoof_dropped" drop
        # DHCP before the device has an address, and IPv6 address autoconfiguration (duplicate address
        # detection from ::, neighbour and router solicitations from link-local), which never leave the link.
        ip saddr 0.0.0.0 udp sport 68 udp dport 67 return
        ip6 saddr {{ ::, fe80::/10 }} return
        # Reverse path: a source address with no route back through the interface it came in on is forged.
        fib saddr . iif oif missing counter name "rpf_dropped" drop
    }}

    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
        iifname != {lan_set} return
        # DNS to the gateway itself: the sinkhole.
        fib daddr type local meta l4proto {{ tcp, udp }} th dport 53 counter name "dns_gateway" redirect to :{ports.dns}
        # DNS to any other resolver: the sinkhole's second port, which answers and records the attempt.
        meta l4proto {{ tcp, udp }} th dport 53 counter name "dns_bypass" redirect to :{ports.dns_bypass}
        # DNS over TLS and over QUIC, to any address: the DoT catcher, which records the attempt (signal "dot")
        # and closes it at once; counted and logged too.
        tcp dport 853 counter name "dot_rejected" log prefix "{DOT_LOG_PREFIX} " redirect to :{ports.dot_catch}
        udp dport 853 counter name "doq_rejected" log prefix "{DOT_LOG_PREFIX} " redirect to :{ports.dot_catch}
        # Web to the block page's address, where DNS sent a blocked name: the proxy, which serves the block page.
        ip daddr {page_v4} tcp dport {{ 80, 443 }} counter name "web_proxied" redirect to {proxy_target}
        ip6 daddr {page_v6} tcp dport {{ 80, 443 }} counter name "web_proxied" redirect to {proxy_target}
        # Anything else for the gateway itself (the admin web) is not proxied.
        fib daddr type local return
        tcp dport {{ 80, 443 }} counter name "web_proxied" redirect to {proxy_target}
        # (A nat chain sees only the first packet of each connection: established flows never come here.)
        # Default deny, with a record: broadcast and multicast stay on the link (DHCP, mDNS), QUIC is dropped
        # in the forward chain, LAN to LAN and allowed_egress pass; every other new TCP or UDP attempt goes to
        # the port catcher, which records it (signal "blocked_port") and closes it. A redirected datagram
        # loses its port, so its transport header's first four bytes (source and destination port) go in
        # the packet mark and the connection mark for the catcher to read.
        meta pkttype {{ broadcast, multicast }} return
        udp dport {{ 80, 443 }} return
        fib daddr oifname {lan_set} return
        tcp dport @egress_tcp return
        udp dport @egress_udp return
        meta l4proto tcp counter name "blocked_port" redirect to :{ports.port_catch}
        meta l4proto udp {mark_ports} counter name "blocked_port" redirect to :{ports.port_catch}
    }}

    chain forward {{
        type filter hook forward priority filter; policy accept;
        iifname != {lan_set} return
        # QUIC: dropped, so browsers fall back to TCP and meet the proxy.
        udp dport {{ 80, 443 }} counter name "quic_dropped" drop
        # DNS over TLS and over QUIC never leave: the new ones went to the catcher above; this refuses any
        # that slipped past the redirect (a flow the connection tracker knew before the ruleset was loaded).
        tcp dport 853 reject with tcp reset
        udp dport 853 reject
        # Ping to the internet, before "established" (a later echo with the same identifier is established):
        # small echo requests at a per-address rate; a ping tunnel needs large or many, which are dropped.
        oifname != {lan_set} icmp type echo-request ip length <= {PING_MAX_V4} {ping_limit('ping_v4', 'ip')}
        oifname != {lan_set} icmp type echo-request counter name "ping_dropped" drop
        oifname != {lan_set} icmpv6 type echo-request ip6 length <= {PING_MAX_V6} {ping_limit('ping_v6', 'ip6')}
        oifname != {lan_set} icmpv6 type echo-request counter name "ping_dropped" drop
        # Default deny: replies and related ICMP errors of allowed flows, LAN to LAN and allowed_egress pass;
        # the rest (flows the connection tracker knew before this ruleset, GRE, ESP, ...) is dropped.
        ct state established,related accept
        oifname {lan_set} accept
        tcp dport @egress_tcp accept
        udp dport @egress_udp accept
        counter name "egress_dropped" drop
    }}

    chain input {{
        type filter hook input priority filter; policy accept;
        iifname "lo" accept
        # A blocked datagram's later packets: the port catcher reads the port from the mark the first one set.
        iifname {lan_set} udp dport {ports.port_catch} ct mark != 0 meta mark set ct mark
        tcp dport {ports.web} ip saddr @staff_v4 accept
        tcp dport {ports.web} ip6 saddr @staff_v6 accept
        tcp dport {ports.web} counter name "web_refused" reject with tcp reset
    }}
}}
"""


def ping_limit(name: str, family: str) -> str:
    """Accept within the per-source-address rate kept in the dynamic set `name`."""
    return f"update @{name} {{ {family} saddr limit rate {PING_RATE} burst {PING_BURST} packets }} accept"


def _elements(networks: list[str]) -> str:
    if not networks:
        return ""
    return "\n        elements = { " + ", ".join(networks) + " }"
