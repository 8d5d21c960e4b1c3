"""Who is asking: client address -> device and group (`snapshot.identify`), and what a cached
answer for them depends on (`snapshot.cache_scope`). Its own step, before any decision, because the
cache needs the scope before it can answer.

Both are remembered per address until the snapshot changes, so a repeat query costs one dict look-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.policy.current import SnapshotStore
from rules.policy.decision import Client

EventHead = tuple[str, int | None, str | None, str | None]  # client_ip, device_id, device name, mac


@dataclass(frozen=True, slots=True)
class Known:
    """A client as the resolver sees it: the decision's `Client`, its cache scope and its event fields."""

    client: Client
    scope: tuple[str, int | None]
    head: EventHead


class Identity:
    """The memo of `Known` clients for the current snapshot; `clear()` on every snapshot swap."""

    def __init__(self, store: SnapshotStore) -> None:
        self.store = store
        self.known: dict[str, Known] = {}  # read directly by the resolver's fast path

    def clear(self) -> None:
        self.known = {}

    def get(self, ip: str) -> Known:
        known = self.known.get(ip)
        if known is None:
            known = self.known[ip] = self.identify(ip)
        return known

    def identify(self, ip: str) -> Known:
        snapshot = self.store.current()
        client = snapshot.identify(ip)
        head: EventHead = snapshot.event_head(client)
        return Known(client, snapshot.cache_scope(client), head)
