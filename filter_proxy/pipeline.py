"""The proxy's addons in their run order, assembled in one place (after mitmproxy's own defaults)."""

from __future__ import annotations

from collections.abc import Callable

from filter_proxy.admission import Admission
from filter_proxy.clienthello import ClientHello
from filter_proxy.connect import Connect
from filter_proxy.enforcer import Enforcer
from filter_proxy.gate import Gate
from filter_proxy.notes import Notes
from filter_proxy.request import Request
from filter_proxy.settings import Settings
from rules.events import Event
from rules.networks import ClientNetworks
from rules.policy_store import SnapshotStore


def addons(store: SnapshotStore, record: Callable[[Event], None], clients: ClientNetworks) -> list[object]:
    """Build the addons; they share one `Enforcer` (identify, decide, record) and one `Notes`."""
    enforcer = Enforcer(store, record)
    notes = Notes()
    settings = Settings()
    return [
        # Options first: every decision hook reads the parsed values, and bad ones stop start-up.
        settings,
        # Who may connect at all: a client outside client_networks is closed before it sends anything.
        Admission(clients),
        # Regular mode: the CONNECT target is the first host we learn; refuse the tunnel if blocked.
        Connect(enforcer, notes, settings),
        # TLS: the SNI (transparent mode, or a tunnel to another name); pass through, close or intercept.
        ClientHello(enforcer, notes, settings),
        # HTTP, plain or intercepted: Host and URL; block page; search terms and signals.
        Request(enforcer, notes, settings),
        # Last line: no server connection unless a decision above approved this client connection.
        Gate(notes),
    ]
