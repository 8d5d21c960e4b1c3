"""A school account's posters, retirement and hours: the headteacher's changes, each once, audited, and each one a
change of policy (the version goes up, so the filter follows)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from rules.policy.compile import read_version
from rules.school_media import accounts, site_approval, site_forms
from rules.school_media.accounts import AccountError
from rules.school_media.site_approval import HeadApproval
from rules.store.db import Database
from rules.store.models import AuditEntry, SocialAccount
from tests.rules.school_media.people import add_people, proposal, user


def approved_account(db: Database, ids: dict[str, int], posters: list[str]) -> int:
    with db.session() as session:
        form_id = site_forms.file_form(session, user(db, ids["sam"]), proposal([ids["sam"], ids["tia"]])).id
    with db.session() as session:
        site_approval.sign_as_marketing(session, form_id, user(db, ids["mo"]))
    with db.session() as session:
        _, account = site_approval.sign_as_headteacher(session, form_id, user(db, ids["ann"]),
                                                       HeadApproval([ids[p] for p in posters], None))
        return account.id


def last_audit(db: Database) -> AuditEntry:
    with db.session(read_only=True) as session:
        entry = session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
        assert entry is not None
        return entry


def test_add_and_remove_a_poster_keeps_the_history(db: Database) -> None:
    ids = add_people(db)
    account_id = approved_account(db, ids, ["tia"])
    head = user(db, ids["ann"])
    version = read_version(db)
    with db.session() as session:
        added = accounts.add_poster(session, account_id, head, ids["sam"]).id
    assert read_version(db) > version
    entry = last_audit(db)
    assert (entry.action, entry.actor, entry.reason) == ("school_account.poster_add", head.email,
                                                         "sam.staff@school.test")
    with db.session() as session, pytest.raises(AccountError, match="may already post"):
        accounts.add_poster(session, account_id, head, ids["sam"])
    version = read_version(db)
    with db.session() as session:
        accounts.remove_poster(session, account_id, head, added)
    assert read_version(db) > version
    assert last_audit(db).action == "school_account.poster_remove"
    with db.session() as session, pytest.raises(AccountError, match="already removed"):
        accounts.remove_poster(session, account_id, head, added)
    with db.session(read_only=True) as session:
        posters = [m for m in accounts.members(session, account_id) if m.row.role == "poster"]
    assert [(m.email, m.current, m.row.added_by, m.row.removed_by) for m in posters] == [
        ("tia.teacher@school.test", True, head.email, None),
        ("sam.staff@school.test", False, head.email, head.email)]
    with db.session() as session:  # authorised again: a new row, the old one stays
        accounts.add_poster(session, account_id, head, ids["sam"])
    with db.session(read_only=True) as session:
        assert len([m for m in accounts.members(session, account_id) if m.row.role == "poster"]) == 3


def test_an_administrator_row_is_not_removed_as_a_poster(db: Database) -> None:
    ids = add_people(db)
    account_id = approved_account(db, ids, [])
    with db.session(read_only=True) as session:
        admin_row = accounts.members(session, account_id)[0].row.id
    with db.session() as session, pytest.raises(LookupError):
        accounts.remove_poster(session, account_id, user(db, ids["ann"]), admin_row)


def test_retire_needs_a_reason_happens_once_and_stops_changes(db: Database) -> None:
    ids = add_people(db)
    account_id = approved_account(db, ids, ["tia"])
    head = user(db, ids["ann"])
    with db.session() as session, pytest.raises(AccountError, match="give the reason"):
        accounts.retire(session, account_id, head, " ")
    version = read_version(db)
    with db.session() as session:
        accounts.retire(session, account_id, head, "The club closed.")
    assert read_version(db) > version
    entry = last_audit(db)
    assert (entry.action, entry.reason) == ("school_account.retire", "The club closed.")
    with db.session(read_only=True) as session:
        account = session.get(SocialAccount, account_id)
        assert account is not None and (account.state, account.retired_by) == ("retired", head.email)
    with db.session() as session, pytest.raises(AccountError, match="retired"):
        accounts.retire(session, account_id, head, "Again.")
    with db.session() as session, pytest.raises(AccountError, match="retired"):
        accounts.add_poster(session, account_id, head, ids["sam"])


@pytest.mark.parametrize(("name", "days", "start", "end", "words"), [
    ("", ["mon"], "08:00", "16:00", "a name"),
    ("School hours", [], "08:00", "16:00", "at least one day"),
    ("School hours", ["mon", "funday"], "08:00", "16:00", "unknown day"),
    ("School hours", ["mon"], "25:00", "16:00", "cannot be used"),
    ("School hours", ["mon"], "08:00", "08:00", "different times"),
])
def test_hours_are_checked(db: Database, name: str, days: list[str], start: str, end: str, words: str) -> None:
    ids = add_people(db)
    with db.session() as session, pytest.raises(AccountError, match=words):
        accounts.add_hours(session, user(db, ids["ann"]), name=name, days=days, start=start, end=end)


def test_hours_are_added_once_by_name_and_audited(db: Database) -> None:
    ids = add_people(db)
    head = user(db, ids["ann"])
    with db.session() as session:
        accounts.add_hours(session, head, name="School hours", days=["mon", "fri"], start="08:30", end="15:30")
    assert last_audit(db).action == "schedule.create"
    with db.session() as session, pytest.raises(AccountError, match="already hours called"):
        accounts.add_hours(session, head, name="School hours", days=["mon"], start="08:30", end="15:30")
    with db.session(read_only=True) as session:
        [hours] = accounts.schedules(session)
        assert (hours.days, hours.start_time, hours.end_time) == ("mon,fri", "08:30", "15:30")


def test_changing_the_hours_is_a_policy_change_and_audited(db: Database) -> None:
    ids = add_people(db)
    account_id = approved_account(db, ids, ["tia"])
    head = user(db, ids["ann"])
    with db.session() as session:
        hours = accounts.add_hours(session, head, name="School hours", days=["mon"], start="08:00", end="16:00").id
    version = read_version(db)
    with db.session() as session:
        accounts.set_hours(session, account_id, head, hours)
    assert read_version(db) > version
    entry = last_audit(db)
    assert (entry.action, entry.reason) == ("school_account.hours", "School hours")
    with db.session() as session, pytest.raises(AccountError, match="choose hours"):
        accounts.set_hours(session, account_id, head, 424242)
