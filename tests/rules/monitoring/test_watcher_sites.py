"""One watcher for every school of a trust: events are read against their own school, and an address names a
device only within its school (two schools' devices may both be 10.1.0.5)."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select

from rules.monitoring.watcher import Watcher
from rules.policy.compile import Compiler
from rules.policy.decide import decide
from rules.policy.decision import Action
from rules.sites import DEFAULT_SITE_ID, ensure_site
from rules.store.db import Database
from rules.store.event_writer import EventWriter, event
from rules.store.models import Ban, Device, DeviceAddress
from rules.store.schema import seed_groups

SHARED_IP = "10.1.0.5"


def second_school(db: Database) -> int:
    with db.session() as session:
        site_id = ensure_site(session, "south")
    with db.session() as session:
        seed_groups(session, site_id)
    return site_id


def record(db: Database, spool: Path, site_id: int, names: list[str]) -> None:
    """Look-ups of circumvention names over TCP from the shared address, as the school's gateway writes them."""
    writer = EventWriter(db, spool, site_id=site_id)
    now = time.time()
    for i, host in enumerate(names):
        writer.record(event(now + i, SHARED_IP, "dns", host, "block", category="circumvention", qtype="A",
                            transport="tcp"))
    writer.flush()


def test_an_unregistered_address_is_a_device_per_school_and_its_ban_is_its_schools(db: Database,
                                                                                  tmp_path: Path) -> None:
    north, south = DEFAULT_SITE_ID, second_school(db)
    watcher = Watcher(db)
    watcher.poll_once()
    # Two attempts from 10.1.0.5 in each school: four from one address, but two devices, neither over the limit.
    record(db, tmp_path / "north", north, ["nordvpn.com", "expressvpn.com"])
    record(db, tmp_path / "south", south, ["protonvpn.com", "windscribe.com"])
    assert watcher.poll_once() == []
    record(db, tmp_path / "south", south, ["a-vpn.example", "b-vpn.example"])
    assert [o.action for o in watcher.poll_once()] == ["ban"]
    with db.session(read_only=True) as session:
        [ban] = session.scalars(select(Ban)).all()
        device = session.get(Device, ban.device_id)
        assert device is not None
        assert (ban.site_id, device.site_id, device.name) == (south, south, f"Unknown device {SHARED_IP}")
        addresses = session.execute(select(DeviceAddress.site_id, DeviceAddress.ip)).all()
        assert addresses == [(south, SHARED_IP)]
    north_snapshot = Compiler(db, site_id=north).compile()
    south_snapshot = Compiler(db, site_id=south).compile()
    assert decide(south_snapshot, south_snapshot.identify(SHARED_IP), "www.bbc.co.uk").action is Action.BAN
    assert north_snapshot.identify(SHARED_IP).device is None  # north never saw a device there
    assert decide(north_snapshot, north_snapshot.identify(SHARED_IP), "www.bbc.co.uk").action is Action.ALLOW
