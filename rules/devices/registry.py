"""The device registry: register or update a device, find it by address or MAC."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.policy.networks import normalize_ip as normalize_address
from rules.sites import DEFAULT_SITE_ID
from rules.store.audit import audit
from rules.store.models import Device, DeviceAddress, Group

_MAC = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$")


class DeviceError(ValueError):
    """A device could not be registered; the message says why."""


def normalize_mac(raw: str) -> str:
    """'AA-BB-CC-DD-EE-FF' or 'aabb.ccdd.eeff' -> 'aa:bb:cc:dd:ee:ff'."""
    text = raw.strip().lower().replace(".", "")
    if not _MAC.match(text):
        raise DeviceError(f"not a MAC address: {raw!r} (expected six hex pairs, e.g. 02:00:00:00:00:01)")
    hexits = re.sub(r"[^0-9a-f]", "", text)
    return ":".join(hexits[i : i + 2] for i in range(0, 12, 2))


def normalize_ip(raw: str) -> str:
    """`rules.policy.networks.normalize_ip`, with the registry's error for a person's typing mistake."""
    try:
        return normalize_address(raw)
    except ValueError:
        raise DeviceError(f"not an IP address: {raw!r}") from None


@dataclass
class DeviceChange:
    device: Device
    created: bool


def register_device(session: Session, *, ip: str, name: str, group: str, mac: str | None = None,
                    person: str | None = None, actor: str, site_id: int = DEFAULT_SITE_ID) -> DeviceChange:
    """Register a device in the school `site_id`, or update the one there that already has this MAC (or else this
    address). Groups, MACs and addresses are looked up within that school: another school's 10.1.0.5 is another
    device.

    A device keeps one identity when its address changes: the MAC finds it first. An address belongs
    to one device at a time, so giving it to this device takes it from any other.
    """
    address = normalize_ip(ip)
    mac_norm = normalize_mac(mac) if mac else None
    if not name.strip():
        raise DeviceError("a device needs a name")
    group_row = session.scalar(select(Group).where(Group.name == group, Group.site_id == site_id))
    if group_row is None:
        known = ", ".join(session.scalars(select(Group.name).where(Group.site_id == site_id).order_by(Group.name)))
        raise DeviceError(f"no group named {group!r}; groups: {known}")
    device = None
    if mac_norm:
        device = session.scalar(select(Device).where(Device.mac == mac_norm, Device.site_id == site_id))
    held = session.scalar(select(DeviceAddress).where(DeviceAddress.ip == address, DeviceAddress.site_id == site_id))
    if device is None and held is not None:
        device = held.device
    created = device is None
    before = None if device is None else describe(device)
    if device is None:
        device = Device(name=name.strip(), mac=mac_norm, site_id=site_id)
        session.add(device)
    device.name = name.strip()
    if mac_norm:
        device.mac = mac_norm
    device.group_id = group_row.id
    device.person = person.strip() if person and person.strip() else None
    device.status = "registered"
    device.last_ip = address
    session.flush()
    if held is not None and held.device_id != device.id:
        session.delete(held)
        session.flush()
        held = None
    if held is None:
        session.add(DeviceAddress(device_id=device.id, ip=address, source="static", site_id=site_id))
    session.flush()
    session.refresh(device)
    audit(session, actor, "device.register" if created else "device.update", f"device #{device.id}",
          before=before, after=describe(device), site_id=site_id)
    return DeviceChange(device, created)


def describe(device: Device) -> dict[str, object]:
    return {
        "id": device.id, "name": device.name, "mac": device.mac,
        "group": device.group.name if device.group else None, "person": device.person,
        "addresses": sorted(a.ip for a in device.addresses), "status": device.status,
    }
