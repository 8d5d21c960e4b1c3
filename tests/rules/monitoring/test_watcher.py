"""The watcher on a real database: events in, a ban (or an alert) out, enforced by the next snapshot."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from rules.devices.registry import register_device
from rules.monitoring.signals import SignalKind
from rules.monitoring.states import BanState, CircumventionMode
from rules.monitoring.watcher import Watcher
from rules.policy.compile import Compiler
from rules.policy.decide import decide
from rules.policy.decision import Action
from rules.store.db import Database
from rules.store.event_writer import EventWriter, event
from rules.store.models import AuditEntry, Ban, Device, DeviceAddress, Group

VPN_SITES = ["nordvpn.com", "expressvpn.com", "protonvpn.com", "windscribe.com"]


def record(db: Database, tmp_path: Path, *events: tuple[object, ...]) -> None:
    writer = EventWriter(db, tmp_path / "spool")
    for item in events:
        writer.record(item)
    writer.flush()


def vpn_attempts(ip: str, device_id: int | None, names: list[str] = VPN_SITES, transport: str = "tcp",
                 mac: str | None = None) -> list[tuple[object, ...]]:
    """Look-ups of circumvention names: over TCP by default (a completed connection, the device's own)."""
    now = time.time()
    return [event(now + i, ip, "dns", host, "block", device_id=device_id, category="circumvention", qtype="A",
                  transport=transport, mac=mac) for i, host in enumerate(names)]


def register(db: Database, ip: str, name: str, group: str, person: str | None = None,
             mac: str | None = None) -> int:
    with db.session() as session:
        return register_device(session, ip=ip, name=name, group=group, person=person, mac=mac,
                               actor="test").device.id


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
        assert ban is not None and ban.device_id == pupil and ban.person == "Sam Pupil" and ban.state == BanState.ACTIVE
        evidence = json.loads(ban.evidence)
        assert {e["host"] for e in evidence} <= set(VPN_SITES) and len(evidence) == 4
        assert "4 x VPN, web proxy or private DNS site" in ban.reason
        created = session.scalar(select(AuditEntry).where(AuditEntry.action == "ban.create"))
        assert created is not None
        # The evidence stays the ban's (read through its audited page, deleted with it), never copied to the log.
        assert json.loads(created.after or "")["evidence_items"] == 4
        assert not any(site in (created.after or "") for site in VPN_SITES)
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
        guests.circumvention_mode = CircumventionMode.OFF
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


def test_udp_evidence_from_an_unbound_address_alerts_and_says_why(db: Database, tmp_path: Path) -> None:
    """Anyone on the LAN can send a UDP query with a classmate's address: that alone never bans."""
    classmate = register(db, "10.0.0.8", "Class 3 iPad 08", "pupils", person="Kim Pupil")
    watcher = Watcher(db)
    watcher.poll_once()
    record(db, tmp_path, *vpn_attempts("10.0.0.8", classmate, transport="udp"))
    assert [o.action for o in watcher.poll_once()] == ["alert"]
    with db.session(read_only=True) as session:
        assert session.scalar(select(Ban)) is None
        alert = session.scalar(select(AuditEntry).where(AuditEntry.action == "circumvention.alert"))
        assert alert is not None
        after = json.loads(alert.after or "{}")
        assert "borrowed address" in after["why_no_ban"] and "no ban" in after["why_no_ban"]
        assert {e["proof"] for e in after["evidence"]} == {None}
    snapshot = Compiler(db).compile()
    assert decide(snapshot, snapshot.identify("10.0.0.8"), "www.bbc.co.uk").action is Action.ALLOW


def test_udp_evidence_from_a_mac_bound_address_bans(db: Database, tmp_path: Path) -> None:
    pupil = register(db, "10.0.0.7", "Class 3 iPad 07", "pupils", mac="02:00:00:00:00:07")
    watcher = Watcher(db)
    watcher.poll_once()
    record(db, tmp_path, *vpn_attempts("10.0.0.7", pupil, transport="udp", mac="02:00:00:00:00:07"))
    assert [o.action for o in watcher.poll_once()] == ["ban"]
    with db.session(read_only=True) as session:
        ban = session.scalar(select(Ban))
        assert ban is not None and {e["proof"] for e in json.loads(ban.evidence)} == {"mac"}


def test_one_completed_connection_among_udp_evidence_is_enough(db: Database, tmp_path: Path) -> None:
    pupil = register(db, "10.0.0.7", "Class 3 iPad 07", "pupils")
    watcher = Watcher(db)
    watcher.poll_once()
    record(db, tmp_path, *vpn_attempts("10.0.0.7", pupil, VPN_SITES[:3], transport="udp"),
           *vpn_attempts("10.0.0.7", pupil, ["hide.me"], transport="tcp"))
    assert [o.action for o in watcher.poll_once()] == ["ban"]
    with db.session(read_only=True) as session:
        ban = session.scalar(select(Ban))
        assert ban is not None
        proofs = sorted(str(e["proof"]) for e in json.loads(ban.evidence))
        assert proofs == ["None", "None", "None", "connection"]


def blocked_port(ip: str, device_id: int | None, protocol: str, port: int, address: str = "198.18.200.1",
                 ts: float | None = None) -> tuple[object, ...]:
    return event(ts or time.time(), ip, "gateway", address if protocol == "tcp" else "", "block",
                 device_id=device_id, qtype=protocol.upper(), signal=SignalKind.BLOCKED_PORT, transport=protocol,
                 port=port)


def test_vpn_ports_weigh_as_circumvention_and_other_ports_never_ban_alone(db: Database, tmp_path: Path) -> None:
    pupil = register(db, "10.0.0.7", "Class 3 iPad 07", "pupils")
    console = register(db, "10.0.0.9", "Games console", "pupils")
    watcher = Watcher(db)
    watcher.poll_once()
    now = time.time()
    # a console trying twenty odd ports: weak signals, capped below the threshold
    record(db, tmp_path, *(blocked_port("10.0.0.9", console, "tcp", 5000 + i, ts=now + i) for i in range(20)))
    assert watcher.poll_once() == []
    # WireGuard, OpenVPN, SSH and SOCKS: four kinds of way round, each worth a VPN site
    record(db, tmp_path, blocked_port("10.0.0.7", pupil, "tcp", 22, ts=now),
           blocked_port("10.0.0.7", pupil, "tcp", 1080, ts=now + 1),
           blocked_port("10.0.0.7", pupil, "udp", 51820, ts=now + 2),
           blocked_port("10.0.0.7", pupil, "udp", 1194, ts=now + 3))
    assert [(o.action, o.device_id) for o in watcher.poll_once()] == [("ban", pupil)]
    with db.session(read_only=True) as session:
        ban = session.scalar(select(Ban))
        assert ban is not None and "4 x connection to a VPN or proxy port" in ban.reason
        hosts = {e["host"] for e in json.loads(ban.evidence)}
        assert "198.18.200.1 TCP port 22 (SSH)" in hosts and "UDP port 51820 (WireGuard)" in hosts


def test_an_address_learnt_from_the_neighbour_table_is_not_bound(db: Database, tmp_path: Path) -> None:
    """The neighbour table follows whoever answers ARP for an address: it names the device, it vouches for
    nothing, so UDP from such an address alone raises an alert."""
    pupil = register(db, "10.0.0.7", "Class 3 iPad 07", "pupils", mac="02:00:00:00:00:07")
    with db.session() as session:
        address = session.scalar(select(DeviceAddress).where(DeviceAddress.ip == "10.0.0.7"))
        assert address is not None
        address.source = "neigh"
    watcher = Watcher(db)
    watcher.poll_once()
    record(db, tmp_path, *vpn_attempts("10.0.0.7", pupil, transport="udp", mac="02:00:00:00:00:07"))
    assert [o.action for o in watcher.poll_once()] == ["alert"]


def test_a_batch_committed_after_another_schools_later_ids_is_still_read(pg_url: str) -> None:
    """In a trust every gateway's writer takes ids from one sequence and commits when its COPY is done: north's
    batch (the pupil's VPN attempts) can hold lower ids than south's batch that commits first. The watcher moved
    past every signal event it read, so it never went back for north's: the pupil was never banned."""
    from rules.store import schema
    from rules.store.event_sink import write_events, write_events_in

    pg_db = Database(pg_url)
    schema.upgrade(pg_db)
    schema.seed(pg_db)
    pupil = register(pg_db, "10.0.0.7", "Class 3 iPad 07", "pupils")
    watcher = Watcher(pg_db)
    watcher.poll_once()
    with pg_db.engine.connect() as north:
        with north.begin():
            write_events_in(north, vpn_attempts("10.0.0.7", pupil))  # ids taken, not yet committed
            write_events(pg_db.engine, vpn_attempts("10.9.0.1", None, ["nordvpn.com"]), site_id=1)
            assert [o.action for o in watcher.poll_once()] == []  # one attempt from elsewhere: no verdict
        assert [o.action for o in watcher.poll_once()] == ["ban"]
    pg_db.dispose()


@pytest.mark.xfail(strict=True, reason="not fixed: the settled position is taken from events' times, and a spool "
                                       "backlog's old times settle ids above a batch still committing")
def test_a_backlog_of_old_events_committed_meanwhile_does_not_settle_past_a_batch_still_committing(
        pg_url: str) -> None:
    """South's writer stores an outage's spool (events an hour old) while north's batch with lower ids is still
    committing: `settled` (the highest id of an event older than SETTLE_SECONDS) is then above north's ids, and
    the watcher moves past them before they are visible."""
    from rules.store import schema
    from rules.store.event_sink import write_events, write_events_in

    pg_db = Database(pg_url)
    schema.upgrade(pg_db)
    schema.seed(pg_db)
    pupil = register(pg_db, "10.0.0.7", "Class 3 iPad 07", "pupils")
    watcher = Watcher(pg_db)
    watcher.poll_once()
    with pg_db.engine.connect() as north:
        with north.begin():
            write_events_in(north, vpn_attempts("10.0.0.7", pupil))
            write_events(pg_db.engine, [event(time.time() - 3600, "10.9.0.1", "dns", "www.bbc.co.uk", "allow")])
            watcher.poll_once()
        outcomes = watcher.poll_once()
    pg_db.dispose()
    assert [o.action for o in outcomes] == ["ban"]
