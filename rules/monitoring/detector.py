"""The circumvention detector: signals in, a verdict out when a device's score passes its group's threshold.

The policy says that attempts to get round the firewall lead to a ban. A ban on a child must rest on
evidence a headteacher can read, and what a browser or phone does by itself must never ban anyone, so:

- each kind of signal has a weight (`WEIGHTS`); a weight of 0 means "recorded, never scored";
- a signal counts once per (kind, host) within the window, so a browser retrying one name fifty times
  is one signal, not fifty;
- names that devices look up on their own (`AUTOMATIC_NAMES`: Firefox's DoH canary, iCloud Private
  Relay, browsers' built-in secure-DNS endpoints) never score as DNS lookups (a browser only connects
  to them after the school's DNS has allowed its own DoH, which the sinkhole never does);
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

from rules.policy.names import parent_domains

# What each signal kind is worth. Chosen so that one deliberate act (DNS-over-HTTPS through the proxy,
# domain fronting) or several distinct attempts (three VPN or proxy sites) pass the default threshold,
# and no single automatic event can.
WEIGHTS: Mapping[str, int] = {
    "circumvention_site": 3,   # a name in the circumvention category (VPN, web proxy, DoH resolver, Tor)
    "doh": 10,                 # a DNS-over-HTTPS request seen by the proxy (application/dns-message, /dns-query)
    "sni_mismatch": 6,         # an HTTPS request whose Host differs from its SNI: domain fronting
    "host_mismatch": 6,        # a proxy request for one host with a Host header naming another: fronting too
    "bare_ip": 1,              # HTTPS (CONNECT or TLS) straight to an IP address, no name
    "no_sni": 1,               # a ClientHello without a server name (some apps do this; weighs little)
    "dns_other_resolver": 1,   # DNS sent to a resolver other than the gateway (redirected and answered)
    "dot": 1,                  # DNS over TLS / QUIC (port 853) attempts, recorded by the gateway's DoT catcher
    "ech": 3,                  # Encrypted Client Hello: DNS withholds ECH keys, so the device got them elsewhere
    "quic": 0,                 # QUIC attempts: every browser tries it first; recorded only
    "vpn_port": 3,             # the gateway caught a connection to a known VPN, SSH, SOCKS, Tor or proxy port
    "blocked_port": 1,         # the gateway caught a connection to some other port the school does not allow
}
# What each kind means, in words for the headteacher who reads a ban's evidence.
DESCRIPTIONS: Mapping[str, str] = {
    "circumvention_site": "Looked up a VPN, web proxy or private DNS service (a way round the filter)",
    "doh": "Sent its own DNS look-ups through the web (DNS over HTTPS), hiding which sites it visits",
    "sni_mismatch": "Asked for one site while connecting to another (domain fronting)",
    "host_mismatch": "Sent the filter one site's name while asking for another (domain fronting)",
    "bare_ip": "Connected to a number (IP address) instead of a site's name",
    "no_sni": "Made a secure connection without saying which site it was for",
    "dns_other_resolver": "Asked a DNS server other than the school's",
    "dot": "Tried encrypted DNS (DNS over TLS) past the school's DNS",
    "ech": "Hid the name of the site it connected to (Encrypted Client Hello)",
    "quic": "Tried a QUIC connection (browsers do this on their own; never counted)",
    "vpn_port": "Tried to connect to a VPN, SSH, Tor or proxy service directly, past the filter",
    "blocked_port": "Tried to connect on a port the school's network does not allow",
}
SHORT_NAMES: Mapping[str, str] = {
    "circumvention_site": "VPN, web proxy or private DNS site",
    "doh": "DNS over HTTPS request",
    "sni_mismatch": "domain fronting",
    "host_mismatch": "domain fronting (Host header)",
    "bare_ip": "connection to a bare IP address",
    "no_sni": "secure connection without a site name",
    "dns_other_resolver": "DNS to another server",
    "dot": "DNS over TLS attempt",
    "ech": "hidden site name (ECH)",
    "vpn_port": "connection to a VPN or proxy port",
    "blocked_port": "connection to a blocked port",
}
# Ports that only a VPN, remote shell, SOCKS/web proxy or Tor uses: the gateway's port catcher reports an
# attempt on one as "vpn_port" (weighed like a VPN site), any other blocked port as "blocked_port" (weak:
# a games console or a smart TV tries odd ports on its own).
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
# Weak signals also come from ordinary software (a video-call app reaching media servers by address, a
# phone probing DNS over TLS, a smart TV with a built-in resolver). Each weak kind adds at most its cap,
# and the caps add up to less than the threshold: weak signals corroborate, they never ban on their own.
CAPS: Mapping[str, int] = {"bare_ip": 3, "no_sni": 2, "dns_other_resolver": 2, "dot": 2, "blocked_port": 2}
DEFAULT_THRESHOLD = 10
DEFAULT_WINDOW_SECONDS = 15 * 60

# Names that devices and browsers ask for on their own. A query for one is never evidence.
AUTOMATIC_NAMES = frozenset({
    "use-application-dns.net",          # Firefox's canary: asks whether the network allows its DoH
    "mask.icloud.com", "mask-h2.icloud.com", "mask-api.icloud.com", "mask-canary.icloud.com",  # iCloud Private Relay
    "mozilla.cloudflare-dns.com",       # Firefox's built-in DoH endpoint, probed by the browser itself
    "chrome.cloudflare-dns.com",        # Chrome's secure-DNS auto-upgrade endpoints
    "dns.google", "dns.google.com",
    "doh.dns.apple.com",                # Apple's own encrypted DNS used by system services
    "resolver.arpa",                    # RFC 9462 discovery of designated resolvers
    "firefox.dns.nextdns.io",
})


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
                "source": self.source, "event_id": self.event_id, "weight": WEIGHTS.get(self.kind, 0),
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
        parts = "; ".join(f"{count} x {SHORT_NAMES.get(kind, kind.replace('_', ' '))}"
                          for kind, count in sorted(kinds.items()))
        return f"{parts} ({self.score} points; the limit is {self.threshold})"


def is_automatic(host: str | None) -> bool:
    """Say whether a name is one that devices ask for on their own (or a name under one)."""
    return host is not None and any(name in AUTOMATIC_NAMES for name in parent_domains(host))


@dataclass
class Detector:
    """Sliding windows of scored signals per device.

    The scheduler keeps one detector for months, and every device (and every address without a device)
    that ever sends a signal gets a window; so once per window length `observe` drops the windows whose
    newest signal has left the window. Memory then follows the devices active in the last two windows,
    not every device ever seen.
    """

    window_seconds: float = DEFAULT_WINDOW_SECONDS
    weights: Mapping[str, int] = field(default_factory=lambda: dict(WEIGHTS))
    _windows: dict[str, deque[Signal]] = field(default_factory=dict)
    _next_prune: float = float("-inf")

    def __len__(self) -> int:
        """How many devices have a window in memory."""
        return len(self._windows)

    def observe(self, signal: Signal, threshold: int = DEFAULT_THRESHOLD) -> Verdict | None:
        """Add a signal; return a verdict the first time the device's score reaches `threshold`."""
        if signal.ts >= self._next_prune:
            self.prune(signal.ts)
        weight = self.weights.get(signal.kind, 0)
        if weight <= 0 or (signal.source == "dns" and signal.kind in ("circumvention_site", "dns_other_resolver")
                           and is_automatic(signal.host)):
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
        return sum(min(points, CAPS.get(kind, points)) for kind, points in by_kind.items())

    def prune(self, now: float) -> None:
        """Drop the windows that can no longer score at `now`: empty, or newest signal older than the window.

        A sweep looks at every window, so `observe` calls it at most once per window length."""
        horizon = now - self.window_seconds
        for key in [key for key, window in self._windows.items() if not window or window[-1].ts < horizon]:
            del self._windows[key]
        self._next_prune = now + self.window_seconds
