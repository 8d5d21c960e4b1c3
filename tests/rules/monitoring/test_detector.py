"""The circumvention detector: real attempts pass the threshold, automatic behaviour never does."""

from __future__ import annotations

import pytest

from rules.automatic import is_resolver_probe
from rules.monitoring.detector import DEFAULT_THRESHOLD, Detector, Signal
from rules.monitoring.signals import SignalKind
from tests.fixtures.school_day import school_day


def sig(kind: str, host: str | None = None, ts: float = 1000.0, device: str = "device:1",
        source: str = "dns") -> Signal:
    return Signal(ts=ts, device_key=device, kind=kind, host=host, client_ip="10.0.0.7", source=source)


def test_one_doh_request_is_enough() -> None:
    verdict = Detector().observe(sig(SignalKind.DOH, "cloudflare-dns.com"))
    assert verdict is not None and verdict.score >= DEFAULT_THRESHOLD
    assert [s.kind for s in verdict.evidence] == [SignalKind.DOH]
    assert verdict.summary() == "1 x DNS over HTTPS request (10 points; the limit is 10)"


def test_distinct_vpn_sites_add_up_repeats_do_not() -> None:
    detector = Detector()
    for i in range(20):
        assert detector.observe(sig(SignalKind.CIRCUMVENTION_SITE, "nordvpn.com", ts=1000 + i)) is None
    assert detector.observe(sig(SignalKind.CIRCUMVENTION_SITE, "expressvpn.com", ts=1030)) is None
    assert detector.observe(sig(SignalKind.CIRCUMVENTION_SITE, "proxysite.com", ts=1040)) is None
    verdict = detector.observe(sig(SignalKind.CIRCUMVENTION_SITE, "hidemyass.com", ts=1050))
    assert verdict is not None and verdict.score == 12 and len(verdict.evidence) == 4


def test_signals_older_than_the_window_drop_out() -> None:
    detector = Detector(window_seconds=60)
    detector.observe(sig(SignalKind.CIRCUMVENTION_SITE, "a-vpn.example", ts=0))
    detector.observe(sig(SignalKind.CIRCUMVENTION_SITE, "b-vpn.example", ts=10))
    detector.observe(sig(SignalKind.CIRCUMVENTION_SITE, "c-vpn.example", ts=20))
    assert detector.observe(sig(SignalKind.CIRCUMVENTION_SITE, "d-vpn.example", ts=200)) is None
    assert detector.score("device:1", 200) == 3


def test_devices_are_scored_apart() -> None:
    detector = Detector()
    for n, host in enumerate(["a.example", "b.example", "c.example"]):
        assert detector.observe(sig(SignalKind.CIRCUMVENTION_SITE, host, device=f"device:{n}")) is None


def test_quic_attempts_never_score() -> None:
    detector = Detector()
    assert all(detector.observe(sig(SignalKind.QUIC, f"h{i}.example", ts=1000 + i)) is None for i in range(500))


def test_ech_scores_because_dns_withholds_the_keys() -> None:
    detector = Detector()
    assert detector.observe(sig(SignalKind.ECH, "cloudflare-ech.com", ts=1)) is None
    assert detector.score("device:1", 2) == 3


@pytest.mark.parametrize("host", ["use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com",
                                  "mozilla.cloudflare-dns.com", "dns.google", "x.resolver.arpa"])
def test_automatic_names_never_score(host: str) -> None:
    assert is_resolver_probe(host)
    detector = Detector()
    for kind in (SignalKind.CIRCUMVENTION_SITE, SignalKind.DNS_OTHER_RESOLVER):
        assert all(detector.observe(sig(kind, host, ts=1000 + i)) is None for i in range(100))
    assert detector.score("device:1", 1100) == 0


def test_connecting_through_the_proxy_to_a_doh_endpoint_scores() -> None:
    """The lookup is automatic; a TLS connection to it through the proxy is not (school DNS never enables it)."""
    detector = Detector()
    detector.observe(sig(SignalKind.CIRCUMVENTION_SITE, "dns.google", source="proxy"))
    assert detector.score("device:1", 1001) == 3


def test_domain_fronting_corroborated() -> None:
    detector = Detector()
    assert detector.observe(sig(SignalKind.SNI_MISMATCH, "allowed.example", ts=1)) is None
    for n in range(1, 6):  # bare-address connections add at most 3
        assert detector.observe(sig(SignalKind.BARE_IP, f"203.0.113.{n}", ts=1 + n)) is None
    assert detector.score("device:1", 10) == 9
    verdict = detector.observe(sig(SignalKind.CIRCUMVENTION_SITE, "psiphon.ca", ts=11))
    assert verdict is not None and verdict.score == 12
    assert {s.kind for s in verdict.evidence} == {SignalKind.SNI_MISMATCH, SignalKind.BARE_IP,
                                                  SignalKind.CIRCUMVENTION_SITE}


def test_weak_signals_alone_never_ban() -> None:
    """A video-call app reaching fifty media servers by address, a phone probing DNS over TLS, a TV's resolver."""
    detector = Detector()
    for n in range(50):
        for kind in (SignalKind.BARE_IP, SignalKind.NO_SNI, SignalKind.DNS_OTHER_RESOLVER, SignalKind.DOT):
            assert detector.observe(sig(kind, f"198.51.100.{n}", ts=1000 + n)) is None
    assert detector.score("device:1", 1050) == 9


def test_a_normal_school_day_bans_nobody() -> None:
    events = school_day()
    assert len(events) > 100_000
    assert len({e.device_id for e in events}) >= 300
    assert any(e.host == "use-application-dns.net" for e in events)
    assert any(e.signal == SignalKind.QUIC for e in events) and any(e.category == "social_media" for e in events)
    detector = Detector()
    verdicts = []
    for e in events:
        kind = e.signal or (SignalKind.CIRCUMVENTION_SITE if e.category == "circumvention" else None)
        if kind is None:
            continue
        verdict = detector.observe(Signal(e.ts, f"device:{e.device_id}", kind, e.host, e.client_ip, e.source))
        if verdict is not None:
            verdicts.append(verdict)
    assert verdicts == []


def test_the_same_day_with_one_pupil_using_a_vpn_bans_that_pupil_only() -> None:
    events = school_day()
    detector = Detector()
    culprit = next(e for e in events if e.group == "pupils")
    attempt_at = events[len(events) // 2].ts
    extra = [Signal(attempt_at + i * 30, f"device:{culprit.device_id}", SignalKind.CIRCUMVENTION_SITE, host,
                    culprit.client_ip)
             for i, host in enumerate(["windscribe.com", "protonvpn.com", "hide.me", "psiphon.ca"])]
    stream = sorted(
        [Signal(e.ts, f"device:{e.device_id}",
                e.signal or (SignalKind.CIRCUMVENTION_SITE if e.category == "circumvention" else "none"),
                e.host, e.client_ip) for e in events]
        + extra, key=lambda s: s.ts)
    banned = {v.device_key for s in stream if (v := detector.observe(s)) is not None}
    assert banned == {f"device:{culprit.device_id}"}


def test_memory_follows_the_devices_active_lately_not_every_device_ever_seen() -> None:
    """The scheduler's detector lives for months: 10,000 devices passing through keep only recent windows,
    and a device whose signals span the sweeps still gets its verdict from all of them."""
    detector = Detector(window_seconds=60)
    largest = 0
    persistent = {500.0: "a-vpn.example", 530.0: "b-vpn.example", 550.0: "c-vpn.example", 555.0: "d-vpn.example"}
    verdicts = []
    for i in range(10_000):
        ts = i * 0.1  # ten devices a second, each seen once: 600 in any one window
        detector.observe(sig("circumvention_site", "a-vpn.example", ts=ts, device=f"device:{i + 100}"))
        if ts in persistent:
            verdicts.append(detector.observe(sig("circumvention_site", persistent[ts], ts=ts, device="device:1")))
        largest = max(largest, len(detector))
    assert largest <= 2 * 600 + 1  # at most two windows' worth between sweeps
    assert len(detector) <= 2 * 600
    assert verdicts[:3] == [None, None, None]
    verdict = verdicts[3]
    assert verdict is not None and verdict.device_key == "device:1" and verdict.score == 12
    assert [s.host for s in verdict.evidence] == list(persistent.values())


def test_prune_drops_stale_and_emptied_windows_and_keeps_live_ones() -> None:
    detector = Detector(window_seconds=60)
    detector.observe(sig("circumvention_site", "a-vpn.example", ts=0, device="device:old"))
    detector.observe(sig("doh", "cloudflare-dns.com", ts=50, device="device:banned"))  # verdict: window emptied
    detector.observe(sig("circumvention_site", "a-vpn.example", ts=55, device="device:live"))
    assert len(detector) == 3
    detector.prune(100)
    assert len(detector) == 1
    assert detector.score("device:live", 100) == 3
    assert detector.score("device:old", 100) == 0
