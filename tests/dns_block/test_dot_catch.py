"""The DoT catcher's bookkeeping: who is recorded, how often, and what the event holds."""

from __future__ import annotations

from dns_block.dot_catch import DotCatcher
from rules.monitoring.signals import SignalKind
from rules.policy.decision import DeviceInfo
from rules.policy.snapshot import PolicySnapshot
from rules.store.event_writer import EventRecord
from tests.factories import tdevice, tsnapshot


class Store:
    def __init__(self, devices: dict[str, DeviceInfo]) -> None:
        self.snapshot = tsnapshot(devices=devices.items())

    def current(self) -> PolicySnapshot:
        return self.snapshot


def test_one_event_per_client_and_protocol_per_interval() -> None:
    now = [1000.0]
    events: list[EventRecord] = []
    ipad = tdevice(id=7, name="Class 3 iPad 07", mac="02:00:00:00:00:07")
    catcher = DotCatcher(Store({"10.0.0.7": ipad}), lambda ip: ip.startswith("10."),  # type: ignore[arg-type]
                         events.append, interval=10, clock=lambda: now[0])
    assert catcher.attempt("10.0.0.7", "DoT", "1.1.1.1")
    assert not catcher.attempt("10.0.0.7", "DoT", "1.1.1.1")  # a retry: not again
    assert catcher.attempt("10.0.0.7", "DoQ", "")  # the other protocol is its own attempt
    assert catcher.attempt("10.0.0.8", "DoT", "8.8.8.8")  # another client is not held back
    assert not catcher.attempt("192.0.2.1", "DoT", "8.8.8.8")  # a stranger: never recorded
    now[0] += 9.9
    assert not catcher.attempt("10.0.0.7", "DoT", "1.1.1.1")
    now[0] += 0.1
    assert catcher.attempt("10.0.0.7", "DoT", "9.9.9.9")
    assert (catcher.recorded, catcher.suppressed) == (4, 2)
    assert events[0] == EventRecord(
        ts=1000.0, client_ip="10.0.0.7", device_id=7, device="Class 3 iPad 07", mac="02:00:00:00:00:07",
        source="gateway", qtype="DoT", host="1.1.1.1", url=None, action="block", category=None,
        rule="DNS over TLS refused", reason=None, search_term=None, signal=SignalKind.DOT, transport="tcp", port=853)
    assert (events[2].client_ip, events[2].device_id, events[2].device, events[2].mac) == (
        "10.0.0.8", None, None, None)
    assert [(e.qtype, e.host, e.rule, e.signal) for e in events] == [
        ("DoT", "1.1.1.1", "DNS over TLS refused", SignalKind.DOT),
        ("DoQ", "", "DNS over QUIC refused", SignalKind.DOT),
        ("DoT", "8.8.8.8", "DNS over TLS refused", SignalKind.DOT),
        ("DoT", "9.9.9.9", "DNS over TLS refused", SignalKind.DOT)]
