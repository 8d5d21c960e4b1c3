"""The device sync job: the registry from DHCP leases and the neighbour table (`rules.devices.sync` does the work)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from rules.devices.leases import LeaseReport
from rules.devices.sync import SyncResult, read_sightings, sync_devices
from rules.store.db import Database

log = logging.getLogger(__name__)


def sync_devices_job(db: Database, lease_files: Sequence[str], interfaces: Sequence[str],
                     after: Callable[[LeaseReport], object] | None = None) -> SyncResult:
    """Read leases and the neighbour table, then update the registry in one transaction; then `after` with
    what was read (the gateway refreshes its address-to-MAC sets there)."""
    report = read_sightings(lease_files, interfaces)
    with db.session() as session:
        result = sync_devices(session, report.sightings)
    if after is not None:
        after(report)
    for line in result.discovered:
        log.info("new device: %s", line)
    for line in result.moved:
        log.info("device moved: %s", line)
    return result
