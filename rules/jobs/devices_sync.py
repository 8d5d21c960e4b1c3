"""The device sync job: the registry from DHCP leases and the neighbour table (`rules.devices.sync` does the work)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from rules.devices.leases import LeaseReport
from rules.devices.sync import SyncResult, read_sightings, sync_devices
from rules.sites import DEFAULT_SITE_ID
from rules.store.db import Database

log = logging.getLogger(__name__)


def sync_devices_job(db: Database, lease_files: Sequence[str], interfaces: Sequence[str],
                     after: Callable[[LeaseReport], object] | None = None,
                     site_id: int = DEFAULT_SITE_ID) -> SyncResult:
    """Read leases and the neighbour table, then update the registry of the gateway's school `site_id` in one
    transaction; then `after` with what was read (the gateway refreshes its address-to-MAC sets there)."""
    report = read_sightings(lease_files, interfaces)
    with db.session() as session:
        result = sync_devices(session, report.sightings, site_id=site_id)
    if after is not None:
        after(report)
    for line in result.discovered:
        log.info("new device: %s", line)
    for line in result.moved:
        log.info("device moved: %s", line)
    return result
