"""The proxy's addons in their run order, assembled in one place (after mitmproxy's own defaults)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from filter_proxy.admission import Admission
from filter_proxy.clienthello import ClientHello
from filter_proxy.connect import Connect
from filter_proxy.destinations import Destinations, Resolver
from filter_proxy.enforcer import Enforcer
from filter_proxy.gate import Gate
from filter_proxy.notes import Notes
from filter_proxy.request import Request
from filter_proxy.settings import Settings
from filter_proxy.upstream import UpstreamErrors
from rules.policy.current import SnapshotStore
from rules.policy.networks import ClientNetworks
from rules.store.event_writer import EventRow


def addons(store: SnapshotStore, record: Callable[[EventRow], None], clients: ClientNetworks,
           interfaces: Iterable[str] | None = None, resolve: Resolver | None = None) -> list[object]:
    """Build the addons; they share one `Enforcer` (identify, decide, record) and one `Notes`.

    `interfaces` are this machine's addresses (default: read now, once); `resolve` turns a name into
    addresses (default: the system resolver). Tests pass both so that they do not depend on the host.
    """
    enforcer = Enforcer(store, record)
    notes = Notes()
    settings = Settings()
    destinations = Destinations(enforcer, settings, interfaces, resolve, notes)
    return [
        # Options first: every decision hook reads the parsed values, and bad ones stop start-up.
        settings,
        # Who may connect at all: a client outside client_networks is closed before it sends anything.
        Admission(clients),
        # Regular mode: the CONNECT target is the first host we learn; refuse the tunnel if blocked, to
        # a port outside connect_ports, or to an internal destination.
        Connect(enforcer, notes, settings, destinations),
        # TLS: the SNI (transparent mode, or a tunnel to another name); pass through, close or intercept.
        ClientHello(enforcer, notes, settings),
        # HTTP, plain or intercepted: the target host and URL (a different Host header is refused); block
        # page (an internal destination too); search terms and signals.
        Request(enforcer, notes, settings, destinations),
        # Last line: no server connection unless a decision above approved this client connection.
        Gate(notes),
        # The name the client asked for, noted before it is pinned, for the line logged if the server fails.
        UpstreamErrors(),
        # ... and then only to a destination that is not internal, at the address that was checked.
        destinations,
    ]
