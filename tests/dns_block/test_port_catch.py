"""The port catcher: who is recorded, how often, what the event holds, and how a datagram's port is read
from its mark (real sockets on loopback; the mark set by the sender, as the gateway's ruleset sets it)."""

from __future__ import annotations

import asyncio
import os
import socket
import struct

import pytest

from dns_block.catcher import SO_RCVMARK, PortCatcher, port_from_mark
from rules.monitoring.signals import SignalKind
from rules.policy.decision import DeviceInfo
from rules.policy.snapshot import PolicySnapshot
from rules.store.event_writer import EventRecord
from tests.factories import tdevice, tsnapshot

IPAD = tdevice(id=7, name="Class 3 iPad 07", mac="02:00:00:00:00:07")


class Store:
    def __init__(self, devices: dict[str, DeviceInfo], bindings: dict[str, str] | None = None) -> None:
        self.snapshot = tsnapshot(devices=devices.items())
        if bindings is not None:
            object.__setattr__(self.snapshot, "bindings", bindings)

    def current(self) -> PolicySnapshot:
        return self.snapshot


def test_one_event_per_client_protocol_and_port_per_interval() -> None:
    now = [1000.0]
    events: list[EventRecord] = []
    catcher = PortCatcher(Store({"10.0.0.7": IPAD}, {"10.0.0.7": "02:00:00:00:00:07"}),  # type: ignore[arg-type]
                          lambda ip: ip.startswith("10."), events.append, interval=10, clock=lambda: now[0])
    assert catcher.attempt("10.0.0.7", "tcp", "198.19.0.2", 22)
    assert not catcher.attempt("10.0.0.7", "tcp", "198.19.0.2", 22)  # a retry: not again
    assert not catcher.attempt("10.0.0.7", "tcp", "198.19.0.9", 22)  # another address, same port: not again
    assert catcher.attempt("10.0.0.7", "tcp", "198.19.0.2", 8443)  # another port is its own attempt
    assert catcher.attempt("10.0.0.7", "udp", "", 22)  # so is the other protocol
    assert catcher.attempt("10.0.0.8", "udp", "", 51820)  # another client is not held back
    assert not catcher.attempt("192.0.2.1", "tcp", "198.19.0.2", 22)  # a stranger: never recorded
    now[0] += 10
    assert catcher.attempt("10.0.0.7", "tcp", "198.19.0.2", 22)
    assert (catcher.recorded, catcher.suppressed) == (5, 2)
    assert events[0] == EventRecord(
        ts=1000.0, client_ip="10.0.0.7", device_id=7, device="Class 3 iPad 07", mac="02:00:00:00:00:07",
        source="gateway", qtype="TCP", host="198.19.0.2", url=None, action="block", category=None,
        rule="TCP to port 22 not in allowed_egress", reason=None, search_term=None, signal=SignalKind.BLOCKED_PORT,
        transport="tcp", port=22)
    assert (events[2].client_ip, events[2].device_id, events[2].device, events[2].mac) == (
        "10.0.0.7", 7, "Class 3 iPad 07", "02:00:00:00:00:07")
    assert (events[3].client_ip, events[3].device_id, events[3].device, events[3].mac) == (
        "10.0.0.8", None, None, None)
    assert [(e.qtype, e.host, e.signal, e.transport, e.port) for e in events] == [
        ("TCP", "198.19.0.2", SignalKind.BLOCKED_PORT, "tcp", 22),
        ("TCP", "198.19.0.2", SignalKind.BLOCKED_PORT, "tcp", 8443),
        ("UDP", "", SignalKind.BLOCKED_PORT, "udp", 22), ("UDP", "", SignalKind.BLOCKED_PORT, "udp", 51820),
        ("TCP", "198.19.0.2", SignalKind.BLOCKED_PORT, "tcp", 22)]


def test_an_event_names_the_device_and_its_mac_whether_or_not_the_address_is_bound() -> None:
    """The event says which device holds the address; whether a UDP datagram from it is that device's own
    (the address bound to its MAC) is the circumvention watcher's question, answered from the policy."""
    events: list[EventRecord] = []
    catcher = PortCatcher(Store({"10.0.0.7": IPAD}, {}), lambda ip: True, events.append)  # type: ignore[arg-type]
    assert catcher.attempt("10.0.0.7", "udp", "", 1194)
    assert (events[0].client_ip, events[0].device_id, events[0].device, events[0].mac) == (
        "10.0.0.7", 7, "Class 3 iPad 07", "02:00:00:00:00:07")
    assert catcher.store.current().is_bound("10.0.0.7", "02:00:00:00:00:07") is False


def mark_of(sport: int, dport: int) -> int:
    """What `meta mark set @th,0,32` leaves in the mark: the two ports' bytes, in network order."""
    return int(struct.unpack("=I", struct.pack("!HH", sport, dport))[0])


def test_the_port_is_read_from_the_mark_only_when_the_source_port_matches() -> None:
    assert port_from_mark(mark_of(40000, 51820), 40000) == 51820
    assert port_from_mark(mark_of(40000, 51820), 40001) is None  # someone else's mark
    assert port_from_mark(0, 40000) is None
    assert port_from_mark(mark_of(40000, 0), 40000) is None


def test_real_sockets_tcp_is_reset_and_udp_port_comes_from_the_mark() -> None:
    """Loopback, no ruleset: TCP is recorded without an original destination (nothing redirected it) and
    closed with a reset; a datagram's port comes from its mark, which the sender sets here with SO_MARK
    (root only) exactly as the gateway's ruleset would."""
    events: list[EventRecord] = []

    async def scenario() -> tuple[object, list[int | None]]:
        catcher = PortCatcher(Store({}), lambda ip: True, events.append, interval=0)  # type: ignore[arg-type]
        catcher.listen("127.0.0.1", 0)
        tcp_port = catcher._sockets[0].getsockname()[1]
        udp_port = catcher._sockets[1].getsockname()[1]
        try:
            with socket.create_connection(("127.0.0.1", tcp_port), timeout=2) as client:
                client.setblocking(False)
                outcome: object = None
                for _ in range(50):
                    await asyncio.sleep(0.02)
                    try:
                        outcome = client.recv(10)
                        break
                    except BlockingIOError:
                        continue
                    except OSError as exc:
                        outcome = type(exc)
                        break
            ports = []
            for marked in (True, False):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                    sender.bind(("127.0.0.1", 0))
                    if marked:
                        sender.setsockopt(socket.SOL_SOCKET, socket.SO_MARK,
                                          mark_of(sender.getsockname()[1], 51820))
                    before = len(events)
                    sender.sendto(b"wireguard?", ("127.0.0.1", udp_port))
                    for _ in range(50):
                        await asyncio.sleep(0.02)
                        if len(events) > before:
                            break
                    ports.append(events[-1].port if len(events) > before else -1)
            return outcome, ports
        finally:
            catcher.close()

    if os.geteuid() != 0:
        pytest.skip("setting SO_MARK on the sender needs root (CAP_NET_ADMIN)")
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, SO_RCVMARK, 1)
    except OSError:
        pytest.skip("SO_RCVMARK needs Linux 5.19 or newer")
    finally:
        probe.close()
    outcome, ports = asyncio.run(scenario())
    assert outcome is ConnectionResetError, outcome
    assert ports == [51820, None]
    assert [(e.qtype, e.host, e.transport, e.port) for e in events] == [
        ("TCP", "", "tcp", None), ("UDP", "", "udp", 51820), ("UDP", "", "udp", None)]


def test_walking_ports_is_recorded_up_to_a_budget_per_address_then_summarised() -> None:
    """A new port is a new key, so the per-key interval does not stop a device walking ports: 30 attempts a
    minute per address are recorded, the rest counted, and one summary recorded when the minute ends."""
    now = [1200.0]  # the start of a minute
    events: list[EventRecord] = []
    catcher = PortCatcher(Store({"10.0.0.7": IPAD}), lambda ip: ip.startswith("10."),  # type: ignore[arg-type]
                          events.append, interval=10, clock=lambda: now[0])
    results = [catcher.attempt("10.0.0.7", "tcp", "198.19.0.2", port) for port in range(1000, 1100)]
    assert results == [True] * 30 + [False] * 70
    assert catcher.attempt("10.0.0.8", "udp", "", 51820)  # another address has its own budget
    assert (catcher.recorded, catcher.unrecorded, len(events)) == (31, 70, 31)
    now[0] += 59
    assert not catcher.attempt("10.0.0.7", "udp", "", 5000)  # still the same minute
    assert len(events) == 31
    now[0] += 1
    catcher.roll()
    assert len(events) == 32
    summary = events[-1]
    assert summary[1:5] == ("10.0.0.7", 7, "Class 3 iPad 07", "02:00:00:00:00:07")
    assert summary[0] == 1260.0 and summary[9] == "block"
    assert summary[11] == "71 more attempts not recorded (over 30 a minute from this address)"
    assert summary[-3:] == (None, None, None)  # no signal: the recorded attempts told the detector
    catcher.roll()  # the same minute again: nothing more
    assert len(events) == 32
    assert catcher.attempt("10.0.0.7", "tcp", "198.19.0.2", 1099)  # a fresh minute, a fresh budget
    now[0] += 60
    catcher.roll()
    assert len(events) == 33  # nobody went over: no summary


def test_rotating_addresses_meets_the_overall_budget() -> None:
    """Sending from every address of its own network (which the reverse-path check accepts) gives a device a
    fresh per-address budget each time; the overall budget still bounds what a minute records, and what it
    refused is one summary, under the address that tried most. Memory stays bounded by the budget."""
    now = [1200.0]
    events: list[EventRecord] = []
    catcher = PortCatcher(Store({}), lambda ip: ip.startswith("10."), events.append,  # type: ignore[arg-type]
                          interval=10, clock=lambda: now[0], per_address=3, overall=20)
    for host in range(250):
        if host == 7:  # the overall budget is spent (6 addresses x 3, then 2 of the seventh's)
            for _ in range(7):
                catcher.attempt("10.0.9.9", "udp", "", 9)
        for port in range(1, 5):
            catcher.attempt(f"10.0.{host // 100}.{host % 100}", "tcp", "198.19.0.2", port)
    assert catcher.recorded == 20 and len(events) == 20
    assert catcher.unrecorded == 1000 + 7 - 20
    assert len(catcher._refused) == 20 and len(catcher._used) == 7  # bounded whatever the rotation
    now[0] += 60
    catcher.roll()
    summaries = events[20:]
    # six addresses went over their own budget (3 recorded, the fourth not); the overall budget refused the rest
    assert [e.client_ip for e in summaries[:-1]] == [f"10.0.0.{n}" for n in range(6)]
    assert {e.rule for e in summaries[:-1]} == {"1 more attempts not recorded (over 3 a minute from this address)"}
    assert summaries[-1][1] == "10.0.9.9"
    assert summaries[-1][11] == ("981 more attempts from more than 20 addresses not recorded (over 20 a minute "
                                 "from all addresses; this one tried most)")
