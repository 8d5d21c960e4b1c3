"""Lease files and the neighbour table -> IP/MAC sightings; then the registry sync that uses them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from rules.devices.leases import (
    Sighting,
    parse_dnsmasq,
    parse_kea_csv,
    parse_lease_file,
    parse_neigh_json,
    parse_proc_arp,
)
from rules.devices.registry import register_device
from rules.devices.sync import sync_devices
from rules.policy.compile import read_version
from rules.store.db import Database
from rules.store.models import AuditEntry, Device, DeviceAddress, Group

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LATER = int((NOW + timedelta(hours=1)).timestamp())
EARLIER = int((NOW - timedelta(hours=1)).timestamp())

DNSMASQ = f"""\
{LATER} 02:00:00:00:00:01 198.18.1.10 pupil-ipad-07 01:02:00:00:00:00:01
{LATER} 02:00:00:00:00:02 198.18.1.11 * *
0 02:00:00:00:00:03 198.18.1.12 printer *
{EARLIER} 02:00:00:00:00:04 198.18.1.13 gone *
this line is rubbish
{LATER} zz:00:00:00:00:05 198.18.1.14 badmac *
duid 00:01:00:01:2c:3a:00:00:02:00:00:00:00:01
{LATER} 12345678 2001:db8::10 phone6 00:01:00:01
"""

KEA = f"""\
address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context,pool_id
198.18.1.20,02:00:00:00:00:21,01:02:00:00:00:00:21,3600,{LATER},1,0,0,staff-laptop.school.example.,0,,0
198.18.1.21,02:00:00:00:00:22,,3600,{LATER},1,0,0,,0,,0
198.18.1.22,02:00:00:00:00:23,,3600,{LATER},1,0,0,declined,1,,0
198.18.1.23,02:00:00:00:00:24,,3600,{EARLIER},1,0,0,expired,0,,0
198.18.1.24,not-a-mac,,3600,{LATER},1,0,0,x,0,,0
198.18.1.25,02:00:00:00:00:26
"""


def test_dnsmasq_leases() -> None:
    report = parse_dnsmasq(DNSMASQ, NOW)
    assert report.sightings == [
        Sighting("198.18.1.10", "02:00:00:00:00:01", "dhcp", "pupil-ipad-07"),
        Sighting("198.18.1.11", "02:00:00:00:00:02", "dhcp", None),
        Sighting("198.18.1.12", "02:00:00:00:00:03", "dhcp", "printer"),
    ]
    assert report.malformed == 2 and report.ignored == 3  # expired, duid line, IPv6 lease with an IAID
    assert report.examples[0].startswith("line 5: ")


def test_kea_leases() -> None:
    report = parse_kea_csv(KEA, NOW)
    assert report.sightings == [
        Sighting("198.18.1.20", "02:00:00:00:00:21", "dhcp", "staff-laptop.school.example"),
        Sighting("198.18.1.21", "02:00:00:00:00:22", "dhcp", None),
    ]
    assert report.ignored == 2 and report.malformed == 2
    assert parse_lease_file(KEA, NOW).sightings == report.sightings
    assert parse_lease_file(DNSMASQ, NOW).sightings[0].mac == "02:00:00:00:00:01"


def test_kea_without_its_header_is_malformed_not_fatal() -> None:
    report = parse_kea_csv("198.18.1.20,02:00:00:00:00:21\n", NOW)
    assert report.sightings == [] and report.malformed == 1 and "not a Kea lease4 header" in report.examples[0]


def test_neighbour_json() -> None:
    text = json.dumps([
        {"dst": "198.18.1.30", "dev": "lan0", "lladdr": "02:00:00:00:00:31", "state": ["REACHABLE"]},
        {"dst": "198.18.1.31", "dev": "lan0", "state": ["FAILED"]},
        {"dst": "198.18.1.32", "dev": "lan0", "lladdr": "02:00:00:00:00:33", "state": ["INCOMPLETE"]},
        {"dst": "fe80::1", "dev": "lan0", "lladdr": "02:00:00:00:00:31", "state": ["STALE"]},
        {"dst": "2001:db8::31", "dev": "lan0", "lladdr": "02:00:00:00:00:31", "state": ["STALE"]},
        {"dst": "198.18.1.33", "dev": "lan0", "lladdr": "nonsense", "state": ["STALE"]},
        "not an object",
    ])
    report = parse_neigh_json(text)
    assert [(s.ip, s.mac, s.source, s.interface) for s in report.sightings] == [
        ("198.18.1.30", "02:00:00:00:00:31", "neigh", "lan0"),
        ("2001:db8::31", "02:00:00:00:00:31", "neigh", "lan0"),
    ]
    assert report.ignored == 3 and report.malformed == 2
    assert parse_neigh_json("{not json").malformed == 1


def test_proc_arp() -> None:
    text = """\
IP address       HW type     Flags       HW address            Mask     Device
198.18.1.40      0x1         0x2         02:00:00:00:00:41     *        lan0
198.18.1.41      0x1         0x0         00:00:00:00:00:00     *        lan0
broken line
"""
    report = parse_proc_arp(text)
    assert [(s.ip, s.mac, s.interface) for s in report.sightings] == [("198.18.1.40", "02:00:00:00:00:41", "lan0")]
    assert report.ignored == 1 and report.malformed == 1


def devices(db: Database) -> dict[str, tuple[str, str, list[str], str | None]]:
    with db.session(read_only=True) as session:
        return {d.mac or f"#{d.id}": (d.name, d.status, sorted(a.ip for a in d.addresses),
                                     d.group.name if d.group else None)
                for d in session.scalars(select(Device))}


def test_a_new_mac_becomes_an_unknown_device_in_the_default_group(db: Database) -> None:
    with db.session() as session:
        result = sync_devices(session, [Sighting("198.18.1.10", "02:00:00:00:00:01", "dhcp", "pupil-ipad-07"),
                                        Sighting("198.18.1.11", "02:00:00:00:00:02", "neigh")], NOW)
    assert len(result.discovered) == 2 and result.moved == []
    assert devices(db) == {
        "02:00:00:00:00:01": ("pupil-ipad-07", "unknown", ["198.18.1.10"], "pupils"),
        "02:00:00:00:00:02": ("Unknown device 02:00:00:00:00:02", "unknown", ["198.18.1.11"], "pupils"),
    }
    with db.session(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "device.discovered")) == 2


def test_nothing_changed_means_no_new_policy_version(db: Database) -> None:
    seen = [Sighting("198.18.1.10", "02:00:00:00:00:01", "dhcp", "pupil-ipad-07")]
    with db.session() as session:
        sync_devices(session, seen, NOW)
    version = read_version(db)
    with db.session() as session:
        result = sync_devices(session, seen, NOW + timedelta(minutes=5))
    assert not result.changed and result.seen == 1
    assert read_version(db) == version
    with db.session(read_only=True) as session:
        assert session.scalar(select(Device.last_seen)) == NOW + timedelta(minutes=5)


def test_an_address_change_keeps_the_identity(db: Database) -> None:
    with db.session() as session:
        change = register_device(session, ip="198.18.1.10", mac="02:00:00:00:00:01", name="Class 3 iPad 07",
                                 group="staff", actor="test")
        device_id = change.device.id
        sync_devices(session, [Sighting("198.18.1.10", "02:00:00:00:00:01", "dhcp")], NOW)
        sync_devices(session, [Sighting("198.18.1.50", "02:00:00:00:00:09", "dhcp")], NOW)  # someone else
    version = read_version(db)
    with db.session() as session:
        # The iPad gets a new lease; another device is given its old address.
        result = sync_devices(session, [Sighting("198.18.1.77", "02:00:00:00:00:01", "dhcp"),
                                        Sighting("198.18.1.10", "02:00:00:00:00:09", "dhcp")], NOW)
    assert read_version(db) > version
    assert "Class 3 iPad 07: 198.18.1.10 -> 198.18.1.77" in result.moved
    found = devices(db)
    # static 198.18.1.10 was the iPad's; it follows the MAC that now holds it
    assert found["02:00:00:00:00:01"] == ("Class 3 iPad 07", "registered", ["198.18.1.77"], "staff")
    assert found["02:00:00:00:00:09"][2] == ["198.18.1.10"]
    with db.session(read_only=True) as session:
        ipad = session.get_one(Device, device_id)
        assert ipad.last_ip == "198.18.1.77" and ipad.mac == "02:00:00:00:00:01"
        assert session.scalar(select(func.count()).select_from(DeviceAddress)) == 2


def test_a_device_registered_by_address_learns_its_mac_from_dhcp_only(db: Database) -> None:
    """Whoever claims the address in the neighbour table while the device is offline (one ARP request) must not
    become it; the DHCP server's lease is what ties the address to a MAC."""
    with db.session() as session:
        device_id = register_device(session, ip="198.18.1.60", name="Library PC 1", group="pupils",
                                    actor="test").device.id
    version = read_version(db)
    with db.session() as session:
        result = sync_devices(session, [Sighting("198.18.1.60", "02:00:00:00:00:66", "neigh")], NOW)
    assert result.discovered == [] and result.moved == [] and not result.changed
    assert result.ignored == ["198.18.1.60 from 02:00:00:00:00:66 (registered to device #1 by address alone; only "
                              "a DHCP lease or the technician gives it a MAC)"]
    assert read_version(db) == version
    with db.session(read_only=True) as session:
        assert session.get_one(Device, device_id).mac is None
        assert session.scalar(select(func.count()).select_from(Device)) == 1
    with db.session() as session:
        result = sync_devices(session, [Sighting("198.18.1.60", "02:00:00:00:00:61", "dhcp")], NOW)
    assert result.discovered == [] and result.ignored == []
    with db.session(read_only=True) as session:
        device = session.get_one(Device, device_id)
        assert device.mac == "02:00:00:00:00:61" and device.status == "registered"
        assert [a.ip for a in device.addresses] == ["198.18.1.60"]
        assert session.scalar(select(func.count()).select_from(Device)) == 1
        assert session.scalar(select(Group.name).where(Group.id == device.group_id)) == "pupils"
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "device.mac_learnt")) == 1


def test_an_arp_claim_never_gives_a_bound_device_an_address(db: Database) -> None:
    """One ARP request naming the classmate's MAC for an unused address writes the neighbour table; the
    classmate (registered with its MAC, or holding a DHCP lease) gets no new address from it, and keeps the
    ones it has, in both address families."""
    with db.session() as session:
        register_device(session, ip="198.18.1.20", mac="02:00:00:00:00:20", name="Classmate iPad", group="pupils",
                        actor="test")
        register_device(session, ip="2001:db8::20", mac="02:00:00:00:00:20", name="Classmate iPad",
                        group="pupils", actor="test")
        sync_devices(session, [Sighting("198.18.1.21", "02:00:00:00:00:21", "dhcp", "leased-ipad")], NOW)
    version = read_version(db)
    with db.session() as session:
        result = sync_devices(session, [Sighting("198.18.1.30", "02:00:00:00:00:20", "neigh"),
                                        Sighting("2001:db8::30", "02:00:00:00:00:20", "neigh"),
                                        Sighting("198.18.1.31", "02:00:00:00:00:21", "neigh"),
                                        Sighting("2001:db8::31", "02:00:00:00:00:21", "neigh")], NOW)
    assert result.moved == [] and result.discovered == [] and not result.changed
    assert [line.split(" (")[0] for line in result.ignored] == [
        "198.18.1.30 from 02:00:00:00:00:20", "2001:db8::30 from 02:00:00:00:00:20",
        "198.18.1.31 from 02:00:00:00:00:21", "2001:db8::31 from 02:00:00:00:00:21"]
    assert "has its addresses from DHCP or registration" in result.ignored[0]
    assert read_version(db) == version
    found = devices(db)
    assert found["02:00:00:00:00:20"][2] == ["198.18.1.20", "2001:db8::20"]
    assert found["02:00:00:00:00:21"][2] == ["198.18.1.21"]  # the DHCP lease is not removed


def test_a_neighbour_sighting_never_removes_a_bound_address(db: Database) -> None:
    """A device the neighbour table found moves with its MAC, but an address DHCP leased it stays, and the
    neighbour table cannot move it off its lease onto an address of its choosing."""
    with db.session() as session:
        sync_devices(session, [Sighting("198.18.1.40", "02:00:00:00:00:40", "neigh")], NOW)
        moved = sync_devices(session, [Sighting("198.18.1.41", "02:00:00:00:00:40", "neigh")], NOW)
        assert moved.moved == ["Unknown device 02:00:00:00:00:40: 198.18.1.40 -> 198.18.1.41"]
        sync_devices(session, [Sighting("198.18.1.42", "02:00:00:00:00:40", "dhcp")], NOW)
        result = sync_devices(session, [Sighting("198.18.1.43", "02:00:00:00:00:40", "neigh")], NOW)
    assert result.moved == [] and len(result.ignored) == 1
    assert devices(db)["02:00:00:00:00:40"][2] == ["198.18.1.42"]


def test_a_neighbour_sighting_never_takes_an_address_bound_to_another_mac(db: Database) -> None:
    """A pupil's laptop with a classmate's address as an alias shows up in the neighbour table with it; the
    classmate (registered with the MAC, or leased the address by DHCP) keeps it, and nobody new appears."""
    with db.session() as session:
        register_device(session, ip="198.18.1.20", mac="02:00:00:00:00:20", name="Classmate iPad", group="pupils",
                        actor="test")
        sync_devices(session, [Sighting("198.18.1.30", "02:00:00:00:00:30", "dhcp", "leased-laptop"),
                               Sighting("198.18.1.10", "02:00:00:00:00:10", "dhcp", "pupil-laptop")], NOW)
    version = read_version(db)
    with db.session() as session:
        result = sync_devices(session, [Sighting("198.18.1.20", "02:00:00:00:00:10", "neigh"),
                                        Sighting("198.18.1.30", "02:00:00:00:00:10", "neigh"),
                                        Sighting("198.18.1.40", "02:00:00:00:00:99", "neigh")], NOW)
    assert result.ignored == ["198.18.1.20 from 02:00:00:00:00:10 (bound to device #1)",
                              "198.18.1.30 from 02:00:00:00:00:10 (bound to device #2)"]
    assert result.moved == [] and result.discovered == ["Unknown device 02:00:00:00:00:99 (02:00:00:00:00:99, "
                                                        "198.18.1.40)"]
    found = devices(db)
    assert found["02:00:00:00:00:20"][2] == ["198.18.1.20"]
    assert found["02:00:00:00:00:30"][2] == ["198.18.1.30"]
    assert found["02:00:00:00:00:10"][2] == ["198.18.1.10"]
    assert read_version(db) > version  # the stranger was discovered; nothing else changed
    # DHCP, which hands out the addresses, still moves one (a new lease is the truth), as before
    with db.session() as session:
        result = sync_devices(session, [Sighting("198.18.1.30", "02:00:00:00:00:10", "dhcp")], NOW)
    assert result.ignored == [] and devices(db)["02:00:00:00:00:10"][2] == ["198.18.1.30"]


def test_a_neighbour_sighting_still_moves_an_address_that_is_not_bound(db: Database) -> None:
    with db.session() as session:
        sync_devices(session, [Sighting("198.18.1.50", "02:00:00:00:00:50", "neigh")], NOW)
        result = sync_devices(session, [Sighting("198.18.1.50", "02:00:00:00:00:51", "neigh")], NOW)
    assert result.ignored == [] and devices(db)["02:00:00:00:00:51"][2] == ["198.18.1.50"]
