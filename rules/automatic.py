"""What devices look up on their own: the one list of "automatic lookups", for everything that weighs people.

A quiet class of iPads asks for iCloud Private Relay and the captive-portal check hundreds of times a day
without anyone touching them. Those lookups are answered as any other, but they say nothing about what a
person did: the circumvention detector must never score them, the dashboard must not show them as
"blocked attempts", and safeguarding monitoring must never match them. This module owns the names, so the
three can never disagree about what counts as a device talking to itself.

Two families, because they mean different things to the detector:

- `RESOLVER_PROBES`: how a device chooses its resolver or relay (Firefox's DoH canary, Private Relay,
  browsers' built-in secure-DNS endpoints, RFC 9462 discovery). Some are circumvention sites too, so the
  detector ignores only the DNS *lookup* of these (`is_resolver_probe`); a connection to one still counts.
- `CONNECTIVITY_CHECKS`: "am I online, is there a captive portal?" fetches by operating systems and
  browsers. They are not circumvention in any sense; they are listed here so that they are shown apart and
  never matched (`is_automatic_lookup` covers both families).
"""

from __future__ import annotations

from rules.policy.names import parent_domains

# A name here also covers every name under it (x.resolver.arpa), as a block rule does.
RESOLVER_PROBES = frozenset({
    "use-application-dns.net",          # Firefox's canary: asks whether the network allows its DoH
    "mask.icloud.com", "mask-h2.icloud.com", "mask-api.icloud.com", "mask-canary.icloud.com",  # iCloud Private Relay
    "mozilla.cloudflare-dns.com",       # Firefox's built-in DoH endpoint, probed by the browser itself
    "chrome.cloudflare-dns.com",        # Chrome's secure-DNS auto-upgrade endpoints
    "dns.google", "dns.google.com",
    "doh.dns.apple.com",                # Apple's own encrypted DNS used by system services
    "resolver.arpa",                    # RFC 9462 discovery of designated resolvers
    "firefox.dns.nextdns.io",
})

CONNECTIVITY_CHECKS = frozenset({
    "connectivitycheck.gstatic.com", "connectivitycheck.android.com",  # Android and ChromeOS
    "clients3.google.com",              # Chrome and older Android: /generate_204
    "captive.apple.com",                # iOS and macOS captive-portal check (/hotspot-detect.html)
    "msftconnecttest.com", "msftncsi.com",  # Windows NCSI (www., ipv6. and dns. under them)
    "detectportal.firefox.com",         # Firefox's captive-portal check
    "nmcheck.gnome.org",                # GNOME NetworkManager
    "connectivity-check.ubuntu.com",    # Ubuntu
    "network-test.debian.org",          # Debian
    "connectivitycheck.platform.hicloud.com",  # Huawei phones
    "connect.rom.miui.com",             # Xiaomi phones
})

AUTOMATIC_NAMES = RESOLVER_PROBES | CONNECTIVITY_CHECKS

# Paths that operating systems fetch, without a query string, on general hosts too (www.gstatic.com,
# www.apple.com), to test the connection. Such a request is automatic whatever the host; one with a query
# string is not, so that a page cannot hide behind the name of a check.
CONNECTIVITY_PATHS = frozenset({
    "/generate_204",                                # Google (Android, ChromeOS, Chrome)
    "/hotspot-detect.html", "/library/test/success.html",  # Apple
    "/connecttest.txt", "/ncsi.txt",                # Windows NCSI
    "/check_network_status.txt",                    # NetworkManager (GNOME, Ubuntu)
    "/kindle-wifi/wifistub.html",                   # Kindle
})


def _under(host: str | None, names: frozenset[str]) -> bool:
    return host is not None and any(name in names for name in parent_domains(host))


def is_resolver_probe(host: str | None) -> bool:
    """Say whether a name (normal form) is one a device looks up to choose its resolver or relay."""
    return _under(host, RESOLVER_PROBES)


def is_automatic_lookup(host: str | None, path: str | None = None) -> bool:
    """Say whether a lookup or request is a device's own: a probe or connectivity check, by name or by path.

    `path` is the URL path with its query string, if any; a connectivity-check path without a query counts
    on any host, because the checks also run on general hosts (www.gstatic.com/generate_204).
    """
    return _under(host, AUTOMATIC_NAMES) or (path is not None and path.lower() in CONNECTIVITY_PATHS)
