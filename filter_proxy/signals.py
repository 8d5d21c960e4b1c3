"""Signs of getting round the filter, noted on access events (`signal`) for the circumvention detector.

Only detection lives here, so the proxy stays fast and has no say over bans: what to do about a
signal is the circumvention detector's (`rules.monitoring`), and the decision for the connection
itself is still `rules.policy.decide()`'s.
"""

from __future__ import annotations

from mitmproxy import http
from mitmproxy.tls import ClientHello

from rules.monitoring.signals import SignalKind
from rules.policy.names import ip_literal

# The kinds the proxy raises; what each is worth and means is in `rules.monitoring.signals.SIGNALS`.
NO_SNI = SignalKind.NO_SNI  # a TLS ClientHello without a server name: the filter cannot see the site
ECH = SignalKind.ECH  # Encrypted Client Hello: the real server name is hidden inside
SNI_MISMATCH = SignalKind.SNI_MISMATCH  # TLS to one name, HTTP (or CONNECT) to another: domain fronting
HOST_MISMATCH = SignalKind.HOST_MISMATCH  # a proxy request for one host whose Host header names another
BARE_IP = SignalKind.BARE_IP  # CONNECT or a request to an address, not a name: past DNS filtering
DOH = SignalKind.DOH  # DNS over HTTPS: a resolver other than the school's

ECH_EXTENSION = 0xFE0D
DNS_MESSAGE = "application/dns-message"


def clienthello_signal(hello: ClientHello) -> SignalKind | None:
    """ECH if the hello carries the ECH extension, else no_sni if it names no server."""
    if any(ext_type == ECH_EXTENSION for ext_type, _ in hello.extensions):
        return ECH
    if not hello.sni:
        return NO_SNI
    return None


def host_signal(raw_host: str) -> SignalKind | None:
    """bare_ip when the client asked for an IP address instead of a name (`2130706433` and `0x7f.1` too)."""
    return BARE_IP if ip_literal(raw_host) is not None else None


def request_signal(flow: http.HTTPFlow, host: str | None = None) -> SignalKind | None:
    """doh for DNS-over-HTTPS requests, sni_mismatch when the request's host (`host`, by default the Host
    header) differs from the TLS SNI, bare_ip for IP hosts."""
    request = flow.request
    if (request.path.split("?", 1)[0] == "/dns-query"
            or DNS_MESSAGE in request.headers.get("content-type", "")
            or DNS_MESSAGE in request.headers.get("accept", "")):
        return DOH
    sni = flow.client_conn.sni
    host = request.pretty_host if host is None else host
    if sni and host.rstrip(".").lower() != sni.rstrip(".").lower():
        return SNI_MISMATCH
    return host_signal(host)
