"""The pieces every enforcer process (DNS, proxy) wires the same way: database, snapshot store, event writer."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from deploy.config import Config
from rules.policy.current import SnapshotStore
from rules.policy.networks import ClientNetworks
from rules.store.db import Database
from rules.store.event_writer import EventWriter

log = logging.getLogger(__name__)


@dataclass
class EnforcerRuntime:
    """What DNS and the proxy share: started by `start()`, stopped (events flushed) by `stop()`."""

    config: Config
    db: Database
    store: SnapshotStore
    writer: EventWriter
    clients: ClientNetworks

    def start(self) -> EnforcerRuntime:
        self.store.start()
        self.writer.start()
        return self

    def stop(self) -> None:
        self.store.stop()
        self.writer.stop()


def build_runtime(config: Config, name: str, poll_seconds: float = 1.0) -> EnforcerRuntime:
    """Wire the shared pieces for the service `name` (its events spool under state_dir/spool/name)."""
    db = Database(config.database.url)
    store = SnapshotStore(db, poll_seconds=poll_seconds, ban_allowlist=config.ban_allowlist)
    writer = EventWriter(db, config.state_dir / "spool" / name)
    return EnforcerRuntime(config, db, store, writer, ClientNetworks(config.network.client_networks))
