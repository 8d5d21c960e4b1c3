"""The circumvention detector: signals in, a verdict out when a device's score passes its group's threshold.

The policy says that attempts to get round the firewall lead to a ban. A ban on a child must rest on
evidence a headteacher can read, and what a browser or phone does by itself must never ban anyone, so:

- each kind of signal has a weight (`rules.monitoring.signals.SIGNALS`); a weight of 0 means "recorded,
  never scored"; a weak kind adds at most its cap;
- a signal counts once per (kind, host) within the window, so a browser retrying one name fifty times
  is one signal, not fifty;
- names that devices look up on their own to choose a resolver (`rules.automatic.RESOLVER_PROBES`:
  Firefox's DoH canary, iCloud Private Relay, browsers' built-in secure-DNS endpoints) never score as DNS
  lookups (a browser only connects to them after the school's DNS has allowed its own DoH, which the
  sinkhole never does);
- Encrypted Client Hello scores because the sinkhole withholds ECH keys (HTTPS/SVCB records): a
  device that uses ECH fetched its keys from another resolver;
- visiting a blocked site is not circumvention and is not a signal at all.

The detector is pure: it keeps a sliding window per device in memory and returns a `Verdict`; the
watcher (`rules.monitoring.watcher`) reads events from the database, feeds them in and writes bans or alerts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rules.automatic import is_resolver_probe
from rules.monitoring.signals import SIGNALS, SignalKind, short_name, signal_info, weight

# Ports that only a VPN, remote shell, SOCKS/web proxy or Tor uses: the gateway's port catcher reports an
# attempt on one as `SignalKind.VPN_PORT` (weighed like a VPN site), any other blocked port as
# `SignalKind.BLOCKED_PORT` (weak: a games console or a smart TV tries odd ports on its own).
CIRCUMVENTION_PORTS: Mapping[tuple[str, int], str] = {
    ("udp", 51820): "WireGuard",
    ("udp", 1194): "OpenVPN", ("tcp", 1194): "OpenVPN",
    ("udp", 500): "IPsec/IKE", ("udp", 4500): "IPsec/IKE NAT traversal",
    ("udp", 1701): "L2TP",
    ("tcp", 1723): "PPTP",
    ("tcp", 22): "SSH",
    ("tcp", 1080): "SOCKS proxy",
    ("tcp", 9001): "Tor", ("tcp", 9030): "Tor", ("tcp", 9050): "Tor", ("tcp", 9150): "Tor",
    ("tcp", 3128): "web proxy", ("tcp", 8080): "web proxy", ("tcp", 8118): "web proxy",
    ("tcp", 8888): "web proxy",
}
DEFAULT_THRESHOLD = 10
# The kinds a DNS look-up alone can raise: for these a resolver probe (`rules.automatic`) is never evidence.
LOOKUP_KINDS = frozenset({SignalKind.CIRCUMVENTION_SITE, SignalKind.DNS_OTHER_RESOLVER})
DEFAULT_WINDOW_SECONDS = 15 * 60


@dataclass(frozen=True, slots=True)
class Signal:
    """One piece of evidence, as read from an access event or reported by the gateway."""

    ts: float
    device_key: str          # "device:<id>" for a registered device, else "ip:<address>"
    kind: str
    host: str | None = None
    client_ip: str | None = None
    source: str = "dns"
    event_id: int | None = None
    # How we know the sender did not borrow the address: "connection" (a completed TCP connection) or "mac"
    # (traffic from an address bound to the device's MAC: the gateway drops a bound address coming from
    # another MAC). None for a UDP datagram from an unbound address: anyone on the LAN can forge one.
    proof: str | None = None

    @property
    def proven(self) -> bool:
        return self.proof is not None

    def as_evidence(self) -> dict[str, object]:
        return {"ts": self.ts, "kind": self.kind, "host": self.host, "client_ip": self.client_ip,
                "source": self.source, "event_id": self.event_id, "weight": weight(self.kind),
                "proof": self.proof}


@dataclass(frozen=True, slots=True)
class Verdict:
    """A device's score passed its threshold: the evidence that did it, for the ban or the alert."""

    device_key: str
    score: int
    threshold: int
    evidence: tuple[Signal, ...]

    @property
    def proven(self) -> bool:
        """Whether any of the evidence is the device's own beyond doubt (see `Signal.proven`)."""
        return any(signal.proven for signal in self.evidence)

    def summary(self) -> str:
        """One line a headteacher can read: how many attempts of which kinds, and the points against the limit."""
        kinds: dict[str, int] = {}
        for signal in self.evidence:
            kinds[signal.kind] = kinds.get(signal.kind, 0) + 1
        parts = "; ".join(f"{count} x {short_name(kind)}"
                          for kind, count in sorted(kinds.items()))
        return f"{parts} ({self.score} points; the limit is {self.threshold})"


def _cap(kind: str, points: int) -> int:
    info = signal_info(kind)
    return points if info is None or info.cap is None else info.cap


@dataclass
class Detector:
    """Sliding windows of scored signals per device.

    The scheduler keeps one detector for months, and every device (and every address without a device)
    that ever sends a signal gets a window; so once per window length `observe` drops the windows whose
    newest signal has left the window. Memory then follows the devices active in the last two windows,
    not every device ever seen.
    """

    window_seconds: float = DEFAULT_WINDOW_SECONDS
    weights: Mapping[str, int] = field(default_factory=lambda: {str(k): i.weight for k, i in SIGNALS.items()})
    _windows: dict[str, deque[Signal]] = field(default_factory=dict)
    _next_prune: float = float("-inf")

    def __len__(self) -> int:
        """How many devices have a window in memory."""
        return len(self._windows)

    def observe(self, signal: Signal, threshold: int = DEFAULT_THRESHOLD) -> Verdict | None:
        """Add a signal; return a verdict the first time the device's score reaches `threshold`."""
        if signal.ts >= self._next_prune:
            self.prune(signal.ts)
        if self.weights.get(signal.kind, 0) <= 0 or (signal.source == "dns" and signal.kind in LOOKUP_KINDS
                                                     and is_resolver_probe(signal.host)):
            return None  # a device's own background lookup; connecting to such a host is another matter
        window = self._windows.setdefault(signal.device_key, deque())
        horizon = signal.ts - self.window_seconds
        while window and window[0].ts < horizon:
            window.popleft()
        if any(s.kind == signal.kind and s.host == signal.host for s in window):
            return None  # the same thing again within the window: one signal, not many
        window.append(signal)
        score = self._score(window)
        if score >= threshold:
            verdict = Verdict(signal.device_key, score, threshold, tuple(window))
            window.clear()  # a verdict starts the count again (a ban is written once)
            return verdict
        return None

    def score(self, device_key: str, now: float) -> int:
        window = self._windows.get(device_key, deque())
        return self._score([s for s in window if s.ts >= now - self.window_seconds])

    def _score(self, window: Iterable[Signal]) -> int:
        by_kind: dict[str, int] = {}
        for signal in window:
            by_kind[signal.kind] = by_kind.get(signal.kind, 0) + self.weights.get(signal.kind, 0)
        return sum(min(points, _cap(kind, points)) for kind, points in by_kind.items())

    def prune(self, now: float) -> None:
        """Drop the windows that can no longer score at `now`: empty, or newest signal older than the window.

        A sweep looks at every window, so `observe` calls it at most once per window length."""
        horizon = now - self.window_seconds
        for key in [key for key, window in self._windows.items() if not window or window[-1].ts < horizon]:
            del self._windows[key]
        self._next_prune = now + self.window_seconds
