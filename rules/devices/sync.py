"""Bring the device registry in line with what DHCP and the neighbour table say (`devices sync`).

The MAC is a device's identity: a MAC seen for the first time becomes an "unknown" device in the
default group, for the ICT technician to name and place; a known MAC at a new address takes the address
with it (its DeviceAddress rows move). Nothing is written when nothing changed, so the policy version
(which makes DNS and the proxy recompile) moves only for a real change. `last_seen` is written with a
plain UPDATE, which is not a policy change.

The neighbour table only says which MAC last claimed an address, and any device writes it: one ARP request
(or IPv6 neighbour advertisement) may carry any address and any MAC in its payload, and a pupil who adds a
classmate's address as an alias shows up there with it. So the neighbour table is only trusted for devices
that nothing else vouches for; a neighbour sighting is logged, reported as ignored and changes nothing when

- the address is bound to another MAC (registered with that MAC, or leased to it by DHCP): the classmate
  keeps the address;
- the address belongs to a device registered by address alone (no MAC yet): only a DHCP lease teaches such
  a device its MAC, otherwise whoever claims the address while the device is offline would become it. The
  technician who wants the MAC recorded registers it (`devices add --ip ... --mac ...`);
- the MAC's device already has a binding (a "static" address on a device with a MAC, or a "dhcp"
  address): such a device gets addresses only from DHCP leases and the technician's registration, or a
  pupil could give a classmate any unused address by naming the classmate's MAC in one ARP request, then
  use that address as the classmate.

Neighbour sightings therefore only add or move "neigh" addresses between devices that have no binding
(devices the sync discovered from the neighbour table), and never remove a bound address.

A gateway sees only its own school's LAN, so a sync is of one school (`site_id`): MACs and addresses are looked
up, and devices made, in that school alone.
"""

from __future__ import annotations

import ipaddress
import logging
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rules.devices.leases import LeaseReport, Sighting, parse_lease_file, parse_neigh_json, parse_proc_arp
from rules.policy.compile import BINDING_SOURCES
from rules.sites import DEFAULT_SITE_ID
from rules.store.audit import audit
from rules.store.models import Device, DeviceAddress, Group, utcnow

log = logging.getLogger(__name__)
LAST_SEEN_EVERY = timedelta(minutes=1)
ACTOR = "devices-sync"


@dataclass
class SyncResult:
    """What a sync changed, for the log and the command's output."""

    seen: int = 0
    discovered: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # neighbour sightings of an address bound to another MAC

    @property
    def changed(self) -> bool:
        return bool(self.discovered or self.moved)


def read_sightings(lease_files: Iterable[str | Path], interfaces: Sequence[str], neighbours: bool = True,
                   now: datetime | None = None) -> LeaseReport:
    """Read every lease file that exists, and the neighbour table of the LAN interfaces."""
    report = LeaseReport()
    for name in lease_files:
        path = Path(name)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            log.debug("no lease file %s", path)
            continue
        except OSError as exc:
            log.warning("cannot read lease file %s: %s", path, exc.strerror or exc)
            continue
        report.extend(parse_lease_file(text, now))
    if neighbours and interfaces:
        table = _neighbour_table()
        table.sightings = [s for s in table.sightings if s.interface in interfaces]
        report.extend(table)
    if report.malformed:
        log.warning("%d lease lines could not be read, e.g. %s", report.malformed, "; ".join(report.examples))
    return report


def _neighbour_table() -> LeaseReport:
    ip = shutil.which("ip")
    if ip:
        result = subprocess.run([ip, "-j", "neigh", "show"], capture_output=True, text=True, timeout=10,
                                check=False)
        if result.returncode == 0:
            return parse_neigh_json(result.stdout)
    try:
        return parse_proc_arp(Path("/proc/net/arp").read_text(encoding="utf-8"))
    except OSError:
        return LeaseReport()


def sync_devices(session: Session, sightings: Iterable[Sighting], now: datetime | None = None,
                 site_id: int = DEFAULT_SITE_ID) -> SyncResult:
    """Register new MACs as unknown devices of the school `site_id` and move addresses to the device that now
    holds them."""
    moment = now or utcnow()
    result = SyncResult()
    by_ip: dict[str, Sighting] = {}
    for sighting in sightings:
        if sighting.ip not in by_ip or by_ip[sighting.ip].source != "dhcp":  # DHCP knows the hostname
            by_ip[sighting.ip] = sighting
    default_group = session.scalar(select(Group.id).where(Group.site_id == site_id, Group.is_default.is_(True)))
    for sighting in by_ip.values():
        result.seen += 1
        device = session.scalar(select(Device).where(Device.site_id == site_id, Device.mac == sighting.mac))
        held = session.scalar(select(DeviceAddress).where(DeviceAddress.site_id == site_id,
                                                          DeviceAddress.ip == sighting.ip))
        if sighting.source == "neigh":
            why = _neighbour_refusal(device, held, sighting.mac)
            if why:
                log.warning("address %s seen from MAC %s in the neighbour table: ignored (%s)", sighting.ip,
                            sighting.mac, why)
                result.ignored.append(f"{sighting.ip} from {sighting.mac} ({why})")
                continue
        if device is None and held is not None and held.device.mac is None:
            # registered by address alone: the DHCP server leased this address to this MAC, so it is that device
            device = held.device
            device.mac = sighting.mac
            audit(session, ACTOR, "device.mac_learnt", f"device #{device.id}", after={"mac": sighting.mac},
                  site_id=site_id)
        created = device is None
        if device is None:
            device = Device(site_id=site_id, name=sighting.hostname or f"Unknown device {sighting.mac}",
                            mac=sighting.mac, status="unknown", group_id=default_group, first_seen=moment,
                            last_seen=moment, last_ip=sighting.ip)
            session.add(device)
            session.flush()
            audit(session, ACTOR, "device.discovered", f"device #{device.id}",
                  after={"name": device.name, "mac": device.mac, "ip": sighting.ip, "source": sighting.source},
                  site_id=site_id)
            result.discovered.append(f"{device.name} ({sighting.mac}, {sighting.ip})")
        if held is not None and held.device_id == device.id:
            _touch(session, device, moment)
            continue
        moved = _move_address(session, device, held, sighting, moment)
        if not created:
            result.moved.append(f"{device.name}: {moved or 'no address'} -> {sighting.ip}")
    session.flush()
    return result


def _neighbour_refusal(device: Device | None, held: DeviceAddress | None, mac: str) -> str | None:
    """Why a neighbour sighting of `mac` at `held`'s address must change nothing, or None when it may."""
    if held is not None and device is not None and held.device_id == device.id:
        return None  # the device is where the registry has it: only last_seen moves
    if _bound_elsewhere(held, mac):
        assert held is not None
        return f"bound to device #{held.device_id}"
    if held is not None and held.device.mac is None:
        return f"registered to device #{held.device_id} by address alone; only a DHCP lease or the technician " \
               "gives it a MAC"
    if device is not None and _has_binding(device):
        return f"device #{device.id} has its addresses from DHCP or registration, not from the neighbour table"
    return None


def _has_binding(device: Device) -> bool:
    """Whether DHCP or the technician vouches for the device's addresses (the snapshot's bindings)."""
    return any(a.source == "dhcp" or (a.source == "static" and device.mac) for a in device.addresses)


def _bound_elsewhere(held: DeviceAddress | None, mac: str) -> bool:
    """Whether the address is bound to a MAC other than `mac` (the snapshot's bindings: rules/policy/compile.py)."""
    if held is None or held.source not in BINDING_SOURCES:
        return False
    owner = held.device.mac
    return owner is not None and owner.lower() != mac.lower()


def _move_address(session: Session, device: Device, held: DeviceAddress | None, sighting: Sighting,
                  moment: datetime) -> str | None:
    """Give `sighting.ip` to `device`: take it from its last holder, drop the device's old learnt address.

    Returns the device's previous address."""
    previous = device.last_ip
    before = {"ip": previous, "addresses": sorted(a.ip for a in device.addresses)}
    if held is not None:
        log.info("address %s moves from device #%d to device #%d", sighting.ip, held.device_id, device.id)
        session.delete(held)
    version = ipaddress.ip_address(sighting.ip).version
    # The device left its old address of this family: an old lease is not its identity. A neighbour sighting
    # only ever replaces another neighbour sighting (bound addresses are DHCP's and the technician's).
    stale = {"neigh"} if sighting.source == "neigh" else {"dhcp", "neigh"}
    for old in list(device.addresses):
        if old.source in stale and ipaddress.ip_address(old.ip).version == version:
            device.addresses.remove(old)
    session.flush()
    device.addresses.append(DeviceAddress(site_id=device.site_id, ip=sighting.ip, source=sighting.source,
                                          updated_at=moment))
    device.last_ip = sighting.ip
    device.last_seen = moment
    session.flush()
    if before["addresses"]:
        after = {"ip": sighting.ip, "addresses": sorted(a.ip for a in device.addresses)}
        audit(session, ACTOR, "device.address_changed", f"device #{device.id}", before=before, after=after,
              site_id=device.site_id)
    return previous


def _touch(session: Session, device: Device, moment: datetime) -> None:
    """Record that the device is still there, without a policy change (a Core UPDATE, no ORM dirt)."""
    if device.last_seen is None or moment - device.last_seen >= LAST_SEEN_EVERY:
        session.execute(update(Device).where(Device.id == device.id).values(last_seen=moment))
