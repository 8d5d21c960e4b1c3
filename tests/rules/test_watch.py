"""The watcher on a real database: events in, a ban (or an alert) out, enforced by the next snapshot."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import select

from rules.compile import Compiler
from rules.db import Database
from rules.decide import decide
from rules.decision import Action
from rules.devices import register_device
from rules.events import EventWriter, event
from rules.models import AuditEntry, Ban, Device, Group
from rules.watch import Watcher

VPN_SITES = ["nordvpn.com", "expressvpn.com", "protonvpn.com", "windscribe.com"]


def record(db: Database, tmp_path: Path, *events: tuple[object, ...]) -> None:
    writer = EventWriter(db, tmp_path / "spool")
    for item in events:
        writer.record(item)
    writer.flush()


def vpn_attempts(ip: str, device_id: int | None, names: list[str] = VPN_SITES) -> list[tuple[object, ...]]:
    now = time.time()
    return [event(now + i, ip, "dns", host, "block", device_id=device_id, category="circumvention", qtype="A")
            for i, host in enumerate(names)]


def register(db: Database, ip: str, name: str, group: str, person: str | None = None) -> int:
    with db.session() as session:
        return register_device(session, ip=ip, name=name, group=group, person=person, actor="test").device.id


def test_a_pupil_trying_vpn_sites_is_banned_and_the_ban_is_enforced(db: Database, tmp_path: Path) -> None:
    pupil = register(db, "10.0.0.7", "Class 3 iPad 07", "pupils", person="Sam Pupil")
    watcher = Watcher(db)
    watcher.poll_once()
    record(db, tmp_path, event(time.time(), "10.0.0.7", "dns", "www.bbc.co.uk", "allow", device_id=pupil),
           *vpn_attempts("10.0.0.7", pupil))
    outcomes = watcher.poll_once()
    assert [o.action for o in outcomes] == ["ban"]
    with db.session(read_only=True) as session:
        ban = session.scalar(select(Ban))
        assert ban is not None and ban.device_id == pupil and ban.person == "Sam Pupil" and ban.state == "active"
        evidence = json.loads(ban.evidence)
        assert {e["host"] for e in evidence} <= set(VPN_SITES) and len(evidence) == 4
        assert "4 x VPN, web proxy or private DNS site" in ban.reason
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "ban.create")) is not None
    snapshot = Compiler(db).compile()
    assert decide(snapshot, snapshot.identify("10.0.0.7"), "www.bbc.co.uk").action is Action.BAN
    assert decide(snapshot, snapshot.identify("10.0.0.8"), "www.bbc.co.uk").action is Action.ALLOW
    # More attempts while banned do not make a second ban.
    record(db, tmp_path, *vpn_attempts("10.0.0.7", pupil, ["a-vpn.example", "b-vpn.example", "c-vpn.example",
                                                           "d-vpn.example"]))
    assert [o.action for o in watcher.poll_once()] == ["already_banned"]


def test_staff_raise_an_alert_not_a_ban(db: Database, tmp_path: Path) -> None:
    laptop = register(db, "10.0.1.5", "Staff laptop 5", "staff")
    watcher = Watcher(db)
    watcher.poll_once()
    record(db, tmp_path, *vpn_attempts("10.0.1.5", laptop))
    assert [o.action for o in watcher.poll_once()] == ["alert"]
    with db.session(read_only=True) as session:
        assert session.scalar(select(Ban)) is None
        alert = session.scalar(select(AuditEntry).where(AuditEntry.action == "circumvention.alert"))
        assert alert is not None and "nordvpn.com" in (alert.after or "")


def test_an_unregistered_device_is_recorded_then_banned(db: Database, tmp_path: Path) -> None:
    watcher = Watcher(db)
    watcher.poll_once()
    record(db, tmp_path, *vpn_attempts("10.0.9.9", None))
    assert [o.action for o in watcher.poll_once()] == ["ban"]
    snapshot = Compiler(db).compile()
    client = snapshot.identify("10.0.9.9")
    assert client.device is not None and client.device.name == "Unknown device 10.0.9.9"
    assert decide(snapshot, client, "www.bbc.co.uk").action is Action.BAN


def test_group_set_to_off_is_never_scored(db: Database, tmp_path: Path) -> None:
    with db.session() as session:
        guests = session.scalar(select(Group).where(Group.name == "guests"))
        assert guests is not None
        guests.circumvention_mode = "off"
    phone = register(db, "10.0.2.2", "Visitor phone", "guests")
    watcher = Watcher(db)
    watcher.poll_once()
    record(db, tmp_path, *vpn_attempts("10.0.2.2", phone))
    assert watcher.poll_once() == []


def test_a_restart_remembers_the_window(db: Database, tmp_path: Path) -> None:
    pupil = register(db, "10.0.0.7", "Class 3 iPad 07", "pupils")
    record(db, tmp_path, *vpn_attempts("10.0.0.7", pupil, VPN_SITES[:3]))
    first = Watcher(db)
    assert first.poll_once() == []
    restarted = Watcher(db)  # a new process reads the window again from the database
    record(db, tmp_path, *vpn_attempts("10.0.0.7", pupil, ["hide.me"]))
    assert [o.action for o in restarted.poll_once()] == ["ban"]
    with db.session(read_only=True) as session:
        assert session.scalar(select(Device).where(Device.id == pupil)) is not None
