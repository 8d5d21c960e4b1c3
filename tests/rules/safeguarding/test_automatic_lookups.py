"""The one list of what devices look up on their own (`rules.automatic`): what it covers, what it does not,
and that the circumvention detector still ignores exactly the names it ignored before."""

from __future__ import annotations

import pytest

from rules.automatic import AUTOMATIC_NAMES, RESOLVER_PROBES, is_automatic_lookup, is_resolver_probe
from rules.monitoring.detector import Detector, Signal
from rules.monitoring.signals import SignalKind


@pytest.mark.parametrize(("host", "path"), [
    ("use-application-dns.net", None),            # Firefox's DoH canary
    ("mask.icloud.com", None), ("mask-h2.icloud.com", None),  # iCloud Private Relay
    ("resolver.arpa", None), ("_dns.resolver.arpa", None),    # RFC 9462
    ("connectivitycheck.gstatic.com", "/generate_204"),
    ("connectivitycheck.android.com", None),
    ("clients3.google.com", "/generate_204"),
    ("captive.apple.com", "/hotspot-detect.html"),
    ("www.msftconnecttest.com", "/connecttest.txt"), ("ipv6.msftconnecttest.com", None),
    ("www.msftncsi.com", "/ncsi.txt"),
    ("detectportal.firefox.com", "/success.txt"),
    ("nmcheck.gnome.org", "/check_network_status.txt"),
    ("www.gstatic.com", "/generate_204"),         # by path, on a general host
    ("www.apple.com", "/library/test/success.html"),
])
def test_automatic(host: str, path: str | None) -> None:
    assert is_automatic_lookup(host, path)


@pytest.mark.parametrize(("host", "path"), [
    ("www.google.com", "/search?q=captive.apple.com"),
    ("www.gstatic.com", None),                   # a general CDN: only its check path is automatic
    ("www.gstatic.com", "/generate_204?q=kill+myself"),  # a query string: not a check
    ("www.apple.com", "/uk/iphone/"),
    ("notcaptive.apple.com.example", None),
    ("captive.apple.com.example", None),
    ("icloud.com", None),
    ("", None),
    (None, None),
])
def test_not_automatic(host: str | None, path: str | None) -> None:
    assert not is_automatic_lookup(host, path)


def test_the_detector_ignores_exactly_the_names_it_ignored_before() -> None:
    """The names moved here from the detector unchanged; connectivity checks are not resolver probes."""
    assert RESOLVER_PROBES == {
        "use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com", "mask-api.icloud.com",
        "mask-canary.icloud.com", "mozilla.cloudflare-dns.com", "chrome.cloudflare-dns.com", "dns.google",
        "dns.google.com", "doh.dns.apple.com", "resolver.arpa", "firefox.dns.nextdns.io"}
    assert RESOLVER_PROBES < AUTOMATIC_NAMES
    assert is_resolver_probe("dns.google") and not is_resolver_probe("captive.apple.com")
    detector = Detector()  # DNS sent to another resolver for a connectivity check still counts, as before
    detector.observe(Signal(ts=1000.0, device_key="device:1", kind=SignalKind.DNS_OTHER_RESOLVER,
                            host="captive.apple.com", source="dns"))
    assert detector.score("device:1", 1001.0) > 0
    detector.observe(Signal(ts=1000.0, device_key="device:2", kind=SignalKind.DNS_OTHER_RESOLVER,
                            host="mask.icloud.com", source="dns"))
    assert detector.score("device:2", 1001.0) == 0
