"""The DoT catcher: where the gateway's nftables rules send DNS over TLS (TCP 853) and DNS over QUIC (UDP 853).

Nothing is answered. A TCP connection is accepted, recorded and closed at once with a reset (SO_LINGER 0);
a UDP datagram is recorded and dropped. Each attempt becomes one access event (source "gateway", action
"block", signal `SignalKind.DOT`, which the detector weighs), with the device identified as DNS identifies it and,
for TCP, the address the device meant to reach (SO_ORIGINAL_DST, IPv4 and IPv6). Only the client networks are
recorded, and at most one event per client and protocol (DoT, DoQ) every `interval` seconds: a phone
retrying its private resolver in a loop must not flood the log (nor the detector, which caps the signal).
With several `schoolgate dns` workers each keeps its own count.
The sockets and the bookkeeping are dns_block/catcher.py's, shared with the port catcher.
"""

from __future__ import annotations

from dns_block.catcher import INTERVAL, Catcher, Recorder, original_destination
from rules.monitoring.signals import SignalKind

__all__ = ["INTERVAL", "PORT", "RULES", "SIGNAL", "DotCatcher", "Recorder", "original_destination"]

SIGNAL = SignalKind.DOT
PORT = 853  # DNS over TLS and over QUIC
RULES = {"DoT": "DNS over TLS refused", "DoQ": "DNS over QUIC refused"}


class DotCatcher(Catcher):
    """Records DoT and DoQ attempts; `listen()` opens its TCP and UDP sockets on the running loop."""

    name = "DoT catcher"

    def attempt(self, ip: str, qtype: str, host: str) -> bool:
        """Record one attempt unless the client is a stranger or was recorded within `interval`."""
        return self.record_attempt((ip, qtype), qtype, host, RULES[qtype], SIGNAL,
                                   "tcp" if qtype == "DoT" else "udp", PORT)

    def caught_tcp(self, ip: str, host: str, port: int | None) -> None:
        self.attempt(ip, "DoT", host)

    def caught_udp(self, ip: str, port: int | None) -> None:
        self.attempt(ip, "DoQ", "")
