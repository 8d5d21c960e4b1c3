"""What each gateway does for its own school in a shared database: the registry and its sync, the address-to-MAC
bindings, a pupil roll, a list import, and the weekly report (one per school, to that school's people)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from deploy.bindings import registry_bindings
from rules.consent.pupils_import import ImportCounts, import_pupil_file
from rules.devices.leases import Sighting
from rules.devices.registry import register_device
from rules.devices.sync import sync_devices
from rules.jobs.report import build_report, report_message, weekly_report
from rules.lists.importer import ListImportError, import_list
from rules.localtime import LONDON
from rules.mail import MailSettings
from rules.sites import DEFAULT_SITE_ID, ensure_site
from rules.store.db import Database
from rules.store.models import AccessEvent, Ban, Category, Device, DeviceAddress, Pupil
from rules.store.schema import seed_groups
from rules.workflows.accounts import create_user

NORTH = DEFAULT_SITE_ID
IP, MAC = "10.1.0.5", "02:00:00:00:01:05"


@pytest.fixture
def south(db: Database) -> int:
    with db.session() as session:
        site_id = ensure_site(session, "south")
    with db.session() as session:
        seed_groups(session, site_id)
    return site_id


def test_the_same_address_and_mac_are_two_devices_in_two_schools(db: Database, south: int) -> None:
    with db.session() as session:
        north_ipad = register_device(session, ip=IP, mac=MAC, name="North iPad", group="pupils", actor="t").device.id
    with db.session() as session:
        south_ipad = register_device(session, ip=IP, mac=MAC, name="South iPad", group="pupils", actor="t",
                                     site_id=south).device.id
    assert north_ipad != south_ipad
    with db.session() as session:  # registering again in the north updates the north's device only
        again = register_device(session, ip=IP, name="North iPad 5", group="staff", actor="t")
        assert (again.created, again.device.id) == (False, north_ipad)
    with db.session(read_only=True) as session:
        rows = session.execute(select(Device.site_id, Device.name, DeviceAddress.ip)
                               .join(DeviceAddress, DeviceAddress.device_id == Device.id).order_by(Device.site_id))
        assert [tuple(r) for r in rows] == [(NORTH, "North iPad 5", IP), (south, "South iPad", IP)]
        assert registry_bindings(session, NORTH) == {IP: MAC} == registry_bindings(session, south)


def test_a_sync_learns_and_moves_devices_in_its_own_school_only(db: Database, south: int) -> None:
    with db.session() as session:
        north_ipad = register_device(session, ip=IP, mac=MAC, name="North iPad", group="pupils", actor="t").device.id
    other_mac = "02:00:00:00:02:05"
    with db.session() as session:  # south's DHCP leases the shared address to another MAC, and north's MAC elsewhere
        result = sync_devices(session, [Sighting(IP, other_mac, "dhcp", "south-laptop"),
                                        Sighting("10.1.0.9", MAC, "dhcp", "south-ipad")], site_id=south)
    assert len(result.discovered) == 2 and result.moved == []
    with db.session(read_only=True) as session:
        north_rows = session.execute(select(DeviceAddress.ip).where(DeviceAddress.device_id == north_ipad)).all()
        assert north_rows == [(IP,)]  # north's device kept its address
        south_devices = {d.mac: d.site_id for d in session.scalars(select(Device).where(Device.site_id == south))}
        assert south_devices == {other_mac: south, MAC: south}
        assert registry_bindings(session, south) == {IP: other_mac, "10.1.0.9": MAC}
        assert registry_bindings(session, NORTH) == {IP: MAC}


def test_a_schools_roll_never_takes_another_schools_pupils_off_roll(db: Database, south: int,
                                                                    tmp_path: Path) -> None:
    roll = tmp_path / "north.csv"
    roll.write_text("UPN,Forename,Surname,Reg Group,Year\nA1,Sam,Jones,4B,4\nA2,Bea,Smith,4B,4\n", encoding="utf-8")
    assert import_pupil_file(db, roll, "cli") == ImportCounts(added=2)
    other = tmp_path / "south.csv"
    other.write_text("UPN,Forename,Surname,Reg Group,Year\nA1,Kit,Cole,3C,3\n", encoding="utf-8")  # the same MIS id
    assert import_pupil_file(db, other, "cli", site_id=south) == ImportCounts(added=1)
    with db.session(read_only=True) as session:
        held = {(p.site_id, p.mis_id, p.name, p.on_roll) for p in session.scalars(select(Pupil))}
    assert held == {(NORTH, "A1", "Sam Jones", True), (NORTH, "A2", "Bea Smith", True), (south, "A1", "Kit Cole", True)}


def test_a_gateways_list_import_makes_its_own_category_and_cannot_fill_anothers(db: Database, south: int,
                                                                              tmp_path: Path) -> None:
    path = tmp_path / "games.txt"
    path.write_text("games.test\n", encoding="utf-8")
    import_list(db, path, "south-games", actor="cli", site_id=south)
    import_list(db, path, "trust-games", actor="cli", site_id=south, own=False)
    with db.session(read_only=True) as session:
        owners = dict(session.execute(select(Category.name, Category.site_id)
                                      .where(Category.name.in_(["south-games", "trust-games"]))).all())
    assert owners == {"south-games": south, "trust-games": None}
    with pytest.raises(ListImportError, match="another school's own"):
        import_list(db, path, "south-games", actor="cli", site_id=NORTH)
    import_list(db, path, "trust-games", actor="cli", site_id=NORTH)  # the trust's: any school's gateway fills it


def test_the_weekly_report_is_one_per_school_with_its_own_numbers_to_its_own_people(db: Database, south: int,
                                                                                   tmp_path: Path) -> None:
    now = datetime.now(UTC) + timedelta(minutes=1)  # the ban below is made at the real time
    with db.session() as session:
        session.execute(insert(AccessEvent), [
            {"site_id": NORTH, "ts": now - timedelta(days=1), "client_ip": IP, "source": "dns", "host": "north.test",
             "action": "block", "category": "games"},
            *({"site_id": south, "ts": now - timedelta(days=1), "client_ip": IP, "source": "dns",
               "host": "south.test", "action": "block", "category": "games"} for _ in range(3))])
        session.add(Ban(site_id=south, person="Kit Cole", reason="south's ban"))
        create_user(session, email="head@south.test", name="South Head", roles=["headteacher"], password=None,
                    actor="t", site_ids=(south,))
        create_user(session, email="dsl@north.test", name="North DSL", roles=["dsl"], password=None, actor="t",
                    site_ids=(NORTH,))
    north_text = build_report(db, now, NORTH).text()
    south_text = build_report(db, now, south, "south").text()
    assert "1 requests recorded, 1 blocked" in north_text and "south.test" not in north_text
    assert "3 requests recorded, 3 blocked" in south_text and "north.test" not in south_text
    assert "south's ban" in south_text and "south's ban" not in north_text
    paths = weekly_report(db, tmp_path, MailSettings(), now)
    day = now.astimezone(LONDON).strftime("%Y-%m-%d")
    assert sorted(p.name for p in paths) == sorted([f"weekly-{day}.txt", f"weekly-{day}.html",
                                                    f"weekly-{day}-south.txt", f"weekly-{day}-south.html"])
    mail = MailSettings("127.0.0.1", 25, "filter@trust.test", ("ict@trust.test",))
    report = build_report(db, now, south, "south")
    with db.session(read_only=True) as session:
        from rules.safeguarding.routing import accounts_with

        people = [u.email for role in ("headteacher", "dsl") for u in accounts_with(session, role, south)]
    assert report_message(report, mail, people)["To"] == "ict@trust.test, head@south.test"
