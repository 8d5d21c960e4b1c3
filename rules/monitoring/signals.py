"""The kinds of circumvention signal, and what each one is worth and means: the one table of them.

DNS, the proxy and the gateway's catchers write a kind on an access event (`signal`); the detector weighs
it; the ban evidence table and the web describe it to the headteacher. Keeping the weight, the cap, the
description and the short name of a kind in one row means a new kind cannot be recorded and then silently
score nothing, or score and then show up in a ban's evidence as a bare word.

`SignalKind` is a StrEnum: the stored `signal` column keeps the same strings, and a member compares equal
to the string read back from the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class SignalKind(StrEnum):
    """What a device did that may be an attempt to get round the filter."""

    CIRCUMVENTION_SITE = "circumvention_site"
    DOH = "doh"
    SNI_MISMATCH = "sni_mismatch"
    HOST_MISMATCH = "host_mismatch"
    BARE_IP = "bare_ip"
    NO_SNI = "no_sni"
    DNS_OTHER_RESOLVER = "dns_other_resolver"
    DOT = "dot"
    ECH = "ech"
    QUIC = "quic"
    VPN_PORT = "vpn_port"
    BLOCKED_PORT = "blocked_port"


@dataclass(frozen=True, slots=True)
class SignalInfo:
    """One kind's row: `weight` (0: recorded, never scored), `cap` (for a weak kind, the most all its signals
    in a window add up to), `description` (a ban's evidence, for the headteacher) and `short_name` (a verdict's
    one-line summary)."""

    weight: int
    description: str
    short_name: str
    cap: int | None = None


# Weights are chosen so that one deliberate act (DNS-over-HTTPS through the proxy, domain fronting) or several
# distinct attempts (three VPN or proxy sites) pass the default threshold, and no single automatic event can.
# Weak kinds also come from ordinary software (a video-call app reaching media servers by address, a phone
# probing DNS over TLS, a smart TV with a built-in resolver), so each has a cap, and the caps add up to less
# than the threshold: weak signals corroborate, they never ban on their own.
SIGNALS: Mapping[SignalKind, SignalInfo] = MappingProxyType({
    # a name in the circumvention category (VPN, web proxy, DoH resolver, Tor)
    SignalKind.CIRCUMVENTION_SITE: SignalInfo(
        3, "Looked up a VPN, web proxy or private DNS service (a way round the filter)",
        "VPN, web proxy or private DNS site"),
    # a DNS-over-HTTPS request seen by the proxy (application/dns-message, /dns-query)
    SignalKind.DOH: SignalInfo(
        10, "Sent its own DNS look-ups through the web (DNS over HTTPS), hiding which sites it visits",
        "DNS over HTTPS request"),
    # an HTTPS request whose Host differs from its SNI: domain fronting
    SignalKind.SNI_MISMATCH: SignalInfo(
        6, "Asked for one site while connecting to another (domain fronting)", "domain fronting"),
    # a proxy request for one host with a Host header naming another: fronting too
    SignalKind.HOST_MISMATCH: SignalInfo(
        6, "Sent the filter one site's name while asking for another (domain fronting)",
        "domain fronting (Host header)"),
    # HTTPS (CONNECT or TLS) straight to an IP address, no name
    SignalKind.BARE_IP: SignalInfo(
        1, "Connected to a number (IP address) instead of a site's name", "connection to a bare IP address", cap=3),
    # a ClientHello without a server name (some apps do this; weighs little)
    SignalKind.NO_SNI: SignalInfo(
        1, "Made a secure connection without saying which site it was for",
        "secure connection without a site name", cap=2),
    # DNS sent to a resolver other than the gateway (redirected and answered)
    SignalKind.DNS_OTHER_RESOLVER: SignalInfo(
        1, "Asked a DNS server other than the school's", "DNS to another server", cap=2),
    # DNS over TLS / QUIC (port 853) attempts, recorded by the gateway's DoT catcher
    SignalKind.DOT: SignalInfo(
        1, "Tried encrypted DNS (DNS over TLS) past the school's DNS", "DNS over TLS attempt", cap=2),
    # Encrypted Client Hello: DNS withholds ECH keys, so the device got them elsewhere
    SignalKind.ECH: SignalInfo(
        3, "Hid the name of the site it connected to (Encrypted Client Hello)", "hidden site name (ECH)"),
    # QUIC attempts: every browser tries it first; recorded only
    SignalKind.QUIC: SignalInfo(
        0, "Tried a QUIC connection (browsers do this on their own; never counted)", "QUIC attempt"),
    # the gateway caught a connection to a known VPN, SSH, SOCKS, Tor or proxy port
    SignalKind.VPN_PORT: SignalInfo(
        3, "Tried to connect to a VPN, SSH, Tor or proxy service directly, past the filter",
        "connection to a VPN or proxy port"),
    # the gateway caught a connection to some other port the school does not allow
    SignalKind.BLOCKED_PORT: SignalInfo(
        1, "Tried to connect on a port the school's network does not allow", "connection to a blocked port", cap=2),
})

# The same rows by plain string, for kinds read back from the database (which may hold a kind this version
# does not know: such a kind weighs nothing and is shown as it is).
_BY_NAME: Mapping[str, SignalInfo] = {str(kind): info for kind, info in SIGNALS.items()}


def signal_info(kind: str | None) -> SignalInfo | None:
    """The row for a kind given as a stored string, or None for a kind this version does not know."""
    return None if kind is None else _BY_NAME.get(kind)


def weight(kind: str) -> int:
    info = _BY_NAME.get(kind)
    return 0 if info is None else info.weight


def describe(kind: str) -> str:
    """The headteacher's description of a kind (the kind itself when unknown)."""
    info = _BY_NAME.get(kind)
    return kind if info is None else info.description


def short_name(kind: str) -> str:
    info = _BY_NAME.get(kind)
    return kind.replace("_", " ") if info is None else info.short_name

