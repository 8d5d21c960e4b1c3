"""A snapshot is one school's: its devices (addresses overlap between schools), bans, groups and own rules and
categories, with the trust's; a school's exception never opens a trust-wide locked category."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from rules.lists.importer import replace_source_entries
from rules.policy.compile import Compiler
from rules.policy.decide import decide
from rules.policy.decision import Reason
from rules.sites import DEFAULT_SITE_ID, ensure_site
from rules.store.db import Database
from rules.store.models import Ban, Category, Device, DeviceAddress, Group, Rule
from rules.store.schema import seed_groups

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def _category(session, name: str, domains: list[str], site_id: int | None, locked: bool = False) -> Category:
    row = Category(name=name, site_id=site_id, locked=locked)
    session.add(row)
    session.flush()
    replace_source_entries(session, row, "test", "test", "domains", domains, skipped=0)
    return row


def _device(session, site_id: int, name: str, ip: str, mac: str) -> Device:
    pupils = session.scalar(select(Group).where(Group.site_id == site_id, Group.name == "pupils"))
    device = Device(site_id=site_id, name=name, mac=mac, group_id=pupils.id)
    session.add(device)
    session.flush()
    session.add(DeviceAddress(site_id=site_id, device_id=device.id, ip=ip, source="static"))
    return device


def test_each_school_compiles_its_own_devices_bans_and_exceptions_over_the_trusts_policy(db: Database) -> None:
    a = DEFAULT_SITE_ID
    with db.session() as session:
        b = ensure_site(session, "school-b")
    with db.session() as session:
        seed_groups(session, b)
    with db.session() as session:
        trust_locked = _category(session, "trust-locked", ["locked.example"], None, locked=True)
        _category(session, "trust-blocked", ["games.example"], None)
        _category(session, "b-own", ["bonly.example"], b)
        ipad_a = _device(session, a, "A iPad", "10.1.0.5", "02:00:00:00:0a:05")
        ipad_b = _device(session, b, "B iPad", "10.1.0.5", "02:00:00:00:0b:05")
        # School A: an exception for games.example and a ban on its iPad. School B: an exception of its own
        # against the trust's locked category, which must not open it.
        session.add(Rule(site_id=a, action="allow", domain="games.example", scope="everyone"))
        session.add(Rule(site_id=b, action="allow", domain="locked.example", scope="everyone",
                         category_id=trust_locked.id))
        session.add(Ban(site_id=a, device_id=ipad_a.id, reason="test"))
        ids = (ipad_a.id, ipad_b.id)

    snap_a = Compiler(db, site_id=a).compile()
    snap_b = Compiler(db, site_id=b).compile()

    client_a, client_b = snap_a.identify("10.1.0.5"), snap_b.identify("10.1.0.5")
    assert (client_a.device.id, client_b.device.id) == ids  # type: ignore[union-attr]
    assert set(d.id for d in snap_a.devices_by_ip.values()) == {ids[0]}
    assert set(d.id for d in snap_b.devices_by_ip.values()) == {ids[1]}

    assert decide(snap_a, client_a, "games.example", None, NOW).reason == Reason.BANNED
    unbanned_a = snap_a.identify("10.1.0.9")  # another device of school A: the exception applies
    assert decide(snap_a, unbanned_a, "games.example", None, NOW).reason == Reason.EXCEPTION
    assert decide(snap_a, unbanned_a, "bonly.example", None, NOW).reason == Reason.DEFAULT  # B's own list

    games_b = decide(snap_b, client_b, "games.example", None, NOW)
    assert games_b.blocked and games_b.reason == Reason.CATEGORY  # A's exception and ban are not B's
    assert decide(snap_b, client_b, "bonly.example", None, NOW).reason == Reason.CATEGORY
    assert [r.action for r in snap_b.rules_by_domain["locked.example"]] == ["allow"]  # compiled, and yet:
    assert "locked.example" not in snap_a.rules_by_domain
    locked_b = decide(snap_b, client_b, "locked.example", None, NOW)
    assert locked_b.blocked and locked_b.reason == Reason.LOCKED_CATEGORY  # B's exception cannot open it
    assert decide(snap_a, unbanned_a, "locked.example", None, NOW).reason == Reason.LOCKED_CATEGORY
    assert "b-own" in snap_b.category_names and "b-own" not in snap_a.category_names
