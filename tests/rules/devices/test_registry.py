"""Device registration keeps addresses in the one form DNS, the proxy and the log use."""

from __future__ import annotations

import pytest

from rules.devices.registry import DeviceError, normalize_ip, register_device
from rules.store.db import Database


def test_addresses_have_one_form() -> None:
    assert normalize_ip(" 10.0.0.7 ") == "10.0.0.7"
    assert normalize_ip("::ffff:10.0.0.7") == "10.0.0.7"  # a dual-stack listener's view of an IPv4 client
    assert normalize_ip("2001:DB8:0::1") == "2001:db8::1"
    with pytest.raises(DeviceError):
        normalize_ip("10.0.0.300")


def test_a_mapped_address_registers_as_its_ipv4_address(db: Database) -> None:
    with db.session() as session:
        change = register_device(session, ip="::ffff:10.0.0.9", name="Class 4 iPad 02", group="pupils",
                                 mac="02:00:00:00:00:09", actor="test")
        assert change.created and [a.ip for a in change.device.addresses] == ["10.0.0.9"]
