"""The evidence a headteacher reads on a ban's page: the detector's signals in words, anything else as it is."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rules.monitoring.bans import EVIDENCE_COLUMNS, evidence_table
from rules.monitoring.detector import Signal
from rules.monitoring.signals import SIGNALS, SignalKind
from rules.store.models import Ban


def test_every_kind_has_its_row_with_words() -> None:
    assert set(SIGNALS) == set(SignalKind)
    assert all(info.description and info.short_name for info in SIGNALS.values())


def test_signals_read_as_words_in_london_time() -> None:
    ts = datetime(2026, 7, 1, 9, 30, 5, tzinfo=UTC).timestamp()  # 10:30:05 in London (BST)
    signals = [Signal(ts, "device:1", SignalKind.CIRCUMVENTION_SITE, "nordvpn.com", "10.0.0.5", "dns", 7),
               Signal(ts + 1, "device:1", SignalKind.ECH, "<b>x</b>.example", "10.0.0.5", "proxy", 8,
                      proof="connection"),
               Signal(ts + 2, "device:1", SignalKind.VPN_PORT, "198.18.1.1 UDP port 51820 (WireGuard)", "10.0.0.5",
                      "gateway", 9, proof="mac")]
    columns, rows = evidence_table(Ban(evidence=json.dumps([s.as_evidence() for s in signals])))
    assert columns == EVIDENCE_COLUMNS
    assert rows[0] == ["01 Jul 2026 10:30:05", SIGNALS[SignalKind.CIRCUMVENTION_SITE].description, "nordvpn.com",
                       "DNS (name look-up)", "3", "Not proven: a single packet, whose sender address could be borrowed"]
    assert rows[1] == ["01 Jul 2026 10:30:06", SIGNALS[SignalKind.ECH].description, "<b>x</b>.example",
                       "Web filter", "3", "Yes: a completed connection"]
    assert rows[2] == ["01 Jul 2026 10:30:07", SIGNALS[SignalKind.VPN_PORT].description,
                       "198.18.1.1 UDP port 51820 (WireGuard)", "Gateway firewall", "3",
                       "Yes: from its own MAC address"]


def test_evidence_from_before_proof_was_recorded_says_so() -> None:
    rows = evidence_table(Ban(evidence='[{"kind": "doh", "ts": 0, "host": "dns.example", "weight": 10}]'))[1]
    assert rows[0][-1] == "Not recorded"


def test_other_evidence_is_shown_as_it_is() -> None:
    assert evidence_table(Ban(evidence='[{"host": "vpn.example"}]')) == (["host"], [["vpn.example"]])
    assert evidence_table(Ban(evidence="not json")) == (["evidence"], [["not json"]])
    assert evidence_table(Ban(evidence='[{"kind": "doh", "ts": "yesterday"}]'))[1][0][0] == "yesterday"
