"""What an active school social media account opens: its platform's whole family, for its posters' own devices
only, during its hours, labelled "school account: NAME"; never a pupils' group's device, never a locked category;
closed again when a poster is removed, the account retired, the device moved to a pupils' group or the poster's
staff account disabled. Compiled from real rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from rules.lists.importer import import_list_file
from rules.localtime import LONDON
from rules.policy.compile import Compiler
from rules.policy.decide import decide
from rules.policy.decision import Action, Reason
from rules.policy.families import family
from rules.policy.snapshot import PolicySnapshot
from rules.school_media import accounts, site_approval, site_forms
from rules.school_media.site_approval import HeadApproval
from rules.store.db import Database
from rules.store.models import Device, DeviceAddress, Group, Schedule, User
from tests.rules.school_media.people import add_people, proposal, user

MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=LONDON)
TUESDAY_10 = datetime(2026, 12, 1, 10, 0, tzinfo=LONDON)
MONDAY_20 = datetime(2026, 11, 30, 20, 0, tzinfo=LONDON)
TIA_EMAIL, TIA_NAME = "tia.teacher@school.test", "Tia Teacher"
# address -> (group or None for no group, person): whose device it is, as the registry says
DEVICES = {
    "198.18.0.1": ("staff", TIA_EMAIL),       # the poster's, by email, in the staff group: opens
    "198.18.0.2": ("staff", "tia teacher"),    # by name, in the staff group: opens
    "198.18.0.3": ("guests", TIA_EMAIL),      # by email outside the staff group (a visiting class's network): never
    "198.18.0.4": ("guests", TIA_NAME),       # a name outside the staff group is not an identity: stays blocked
    "198.18.0.5": ("pupils", TIA_EMAIL),      # a pupils' group: never, whatever its person says
    "198.18.0.6": (None, TIA_EMAIL),          # no group: the default group (pupils): never
    "198.18.0.7": ("staff", "Sam Staff"),     # someone who may not post: stays blocked
    # the class's iPads, registered to their class teacher, in a group the technician made for them: never
    "198.18.0.8": ("Year 6 iPads", TIA_EMAIL),
    "198.18.0.9": ("Year 6 iPads", TIA_NAME),
}
OPENS = {"198.18.0.1", "198.18.0.2"}


def register(db: Database) -> dict[str, int]:
    with db.session() as session:
        groups = {g.name: g.id for g in session.scalars(select(Group))}
        for name in {group for group, _ in DEVICES.values() if group and group not in groups}:
            made = Group(name=name)
            session.add(made)
            session.flush()
            groups[name] = made.id
        found = {}
        for ip, (group, person) in DEVICES.items():
            device = Device(name=f"device {ip}", group_id=groups[group] if group else None, person=person)
            device.addresses.append(DeviceAddress(ip=ip, source="static"))
            session.add(device)
            session.flush()
            found[ip] = device.id
        return found


def account_for_tia(db: Database, ids: dict[str, int], schedule_id: int | None = None, name: str = "St Mary's") -> int:
    with db.session() as session:
        form_id = site_forms.file_form(session, user(db, ids["sam"]),
                                       proposal([ids["sam"], ids["tia"]], site_name=name)).id
    with db.session() as session:
        site_approval.sign_as_marketing(session, form_id, user(db, ids["mo"]))
    with db.session() as session:
        _, account = site_approval.sign_as_headteacher(session, form_id, user(db, ids["ann"]),
                                                       HeadApproval([ids["tia"]], schedule_id))
        return account.id


def verdict(snapshot: PolicySnapshot, ip: str, host: str, at: datetime = MONDAY_10) -> tuple[str, str | None]:
    decision = decide(snapshot, snapshot.identify(ip), host, None, at)
    return decision.action.value, decision.rule


@pytest.fixture
def school(db: Database) -> tuple[Database, dict[str, int], dict[str, int]]:
    ids = add_people(db)
    return db, ids, register(db)


def test_the_platform_opens_for_the_posters_own_devices_only(school: tuple[Database, dict[str, int],
                                                                           dict[str, int]]) -> None:
    db, ids, devices = school
    before = Compiler(db).compile()
    for ip in DEVICES:
        assert verdict(before, ip, "www.tiktok.com")[0] == "block", ip  # the four services are closed to all
    account_for_tia(db, ids)
    snapshot = Compiler(db).compile()
    assert snapshot.version > before.version
    for ip in DEVICES:
        for host in ("www.tiktok.com", "v16.tiktokcdn.com", "p16-sign.byteimg.com"):
            expected = ("allow", "school account: St Mary's") if ip in OPENS else ("block", "social_media: " +
                                                                                    _listed(host))
            assert verdict(snapshot, ip, host) == expected, (ip, host)
        assert verdict(snapshot, ip, "www.instagram.com")[0] == "block"  # only its own platform
    decision = decide(snapshot, snapshot.identify("198.18.0.1"), "www.tiktok.com", None, MONDAY_10)
    assert (decision.reason, decision.rule_id) == (Reason.EXCEPTION, None)
    # answers cached per group must not carry one poster's opening to the rest of the staff group
    assert {devices[ip] for ip in OPENS} <= snapshot.device_specific
    compiled = [r for rules in snapshot.rules_by_domain.values() for r in rules if r.account]
    assert {r.scope for r in compiled} == {"device"} and {r.group for r in compiled} == {None}
    assert {r.domain for r in compiled} == set(family("tiktok").domains)


def _listed(host: str) -> str:
    return {"www.tiktok.com": "tiktok.com", "v16.tiktokcdn.com": "tiktokcdn.com",
            "p16-sign.byteimg.com": "byteimg.com"}[host]


def test_only_during_the_accounts_hours(school: tuple[Database, dict[str, int], dict[str, int]]) -> None:
    db, ids, _ = school
    with db.session() as session:
        monday = Schedule(name="Mondays", days="mon", start_time="08:00", end_time="16:00")
        session.add(monday)
        session.flush()
        monday_id = monday.id
    account_for_tia(db, ids, monday_id)
    snapshot = Compiler(db).compile()
    assert verdict(snapshot, "198.18.0.1", "www.tiktok.com", MONDAY_10)[0] == "allow"
    assert verdict(snapshot, "198.18.0.1", "www.tiktok.com", TUESDAY_10)[0] == "block"
    assert verdict(snapshot, "198.18.0.1", "www.tiktok.com", MONDAY_20)[0] == "block"
    assert snapshot.next_change(MONDAY_10) == datetime(2026, 11, 30, 16, 0, tzinfo=LONDON)


def test_a_locked_category_stays_closed(school: tuple[Database, dict[str, int], dict[str, int]],
                                        tmp_path: Path) -> None:
    db, ids, _ = school
    listing = tmp_path / "locked.txt"
    listing.write_text("tiktokcdn.com\n", encoding="utf-8")
    with db.session() as session:
        import_list_file(session, "test", listing, "never-open", fmt="domains", locked=True)
    account_for_tia(db, ids)
    snapshot = Compiler(db).compile()
    decision = decide(snapshot, snapshot.identify("198.18.0.1"), "v16.tiktokcdn.com", None, MONDAY_10)
    assert (decision.action, decision.reason, decision.category) == (Action.BLOCK, Reason.LOCKED_CATEGORY,
                                                                     "never-open")
    assert verdict(snapshot, "198.18.0.1", "www.tiktok.com")[0] == "allow"  # the rest of the family opens


@pytest.mark.parametrize("change", ["poster removed", "account retired", "device to pupils", "account disabled",
                                    "device person changed", "device to guests"])
def test_it_closes_at_the_next_snapshot(school: tuple[Database, dict[str, int], dict[str, int]],
                                        change: str) -> None:
    db, ids, devices = school
    account_id = account_for_tia(db, ids)
    compiler = Compiler(db)
    opened = compiler.compile()
    assert verdict(opened, "198.18.0.1", "www.tiktok.com")[0] == "allow"
    head = user(db, ids["ann"])
    with db.session() as session:
        if change == "poster removed":
            member = next(m for m in accounts.members(session, account_id) if m.row.role == "poster")
            accounts.remove_poster(session, account_id, head, member.row.id)
        elif change == "account retired":
            accounts.retire(session, account_id, head, "Closed.")
        elif change == "device to pupils":
            pupils = session.scalar(select(Group.id).where(Group.name == "pupils"))
            session.get(Device, devices["198.18.0.1"]).group_id = pupils  # type: ignore[union-attr]
        elif change == "device to guests":
            guests = session.scalar(select(Group.id).where(Group.name == "guests"))
            session.get(Device, devices["198.18.0.1"]).group_id = guests  # type: ignore[union-attr]
        elif change == "account disabled":
            from rules.workflows.accounts import update_account

            tia = session.get(User, ids["tia"])
            assert tia is not None
            update_account(session, tia.id, head, name=tia.name, roles=["staff"], active=False)
        else:
            session.get(Device, devices["198.18.0.1"]).person = "Someone Else"  # type: ignore[union-attr]
    closed = compiler.compile()
    assert closed.version > opened.version  # the enforcers poll the version: they recompile
    assert verdict(closed, "198.18.0.1", "www.tiktok.com")[0] == "block"
    assert verdict(closed, "198.18.0.1", "v16.tiktokcdn.com")[0] == "block"


def test_two_accounts_on_one_platform_each_say_their_name(school: tuple[Database, dict[str, int],
                                                                        dict[str, int]]) -> None:
    db, ids, _ = school
    first = account_for_tia(db, ids, name="St Mary's")
    account_for_tia(db, ids, name="St Mary's PTA")
    with db.session() as session:
        accounts.retire(session, first, user(db, ids["ann"]), "Merged into the PTA's.")
    snapshot = Compiler(db).compile()
    assert verdict(snapshot, "198.18.0.1", "www.tiktok.com") == ("allow", "school account: St Mary's PTA")
