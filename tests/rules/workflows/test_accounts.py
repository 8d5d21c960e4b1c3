"""Staff accounts: creation, sign-in (the throttle: test_signin_throttle.py), changes that end sessions, audit."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from rules.store.db import Database
from rules.store.models import AuditEntry, User
from rules.workflows.accounts import (
    UserError,
    authenticate,
    create_user,
    roles_of,
    update_account,
)

PASSWORD = "correct horse battery"


def entries(db: Database, action: str) -> list[AuditEntry]:
    with db.session() as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))
        session.expunge_all()
        return rows


def make(db: Database, email: str = "Head@School.example", roles: tuple[str, ...] = ("headteacher",),
         password: str | None = PASSWORD) -> int:
    with db.session() as session:
        return create_user(session, email=email, name=" Ms Head ", roles=list(roles), password=password,
                           actor="ict@school.example").id


def test_an_account_is_created_with_a_hashed_password_and_an_audit_entry(db: Database) -> None:
    user_id = make(db, roles=("headteacher", "dsl", "headteacher"))
    with db.session() as session:
        user = session.get(User, user_id)
        assert user is not None
        assert (user.email, user.name, user.roles) == ("head@school.example", "Ms Head", "headteacher,dsl")
        assert PASSWORD not in user.password_hash and user.password_hash.startswith("$argon2")
        assert roles_of(user) == {"headteacher", "dsl"}
    [entry] = entries(db, "user.create")
    assert entry.actor == "ict@school.example" and entry.target == f"user #{user_id}"
    assert json.loads(entry.after or "{}") == {"email": "head@school.example", "name": "Ms Head",
                                               "roles": "headteacher,dsl", "schools": [1]}
    assert PASSWORD not in (entry.after or "")


@pytest.mark.parametrize("email, roles, password, says", [
    ("not-an-email", ["staff"], PASSWORD, "not an email address"),
    ("a@school.example", ["janitor"], PASSWORD, "unknown role"),
    ("a@school.example", [], PASSWORD, "at least one role"),
    ("a@school.example", ["staff"], "short", "at least 10 characters"),
])
def test_a_bad_account_is_refused_and_nothing_is_stored(db: Database, email: str, roles: list[str],
                                                        password: str, says: str) -> None:
    with db.session() as session, pytest.raises(UserError, match=says):
        create_user(session, email=email, name="A", roles=roles, password=password, actor="ict")
    with db.session() as session:
        assert session.scalars(select(User)).all() == []


def test_one_account_per_email_whatever_its_case(db: Database) -> None:
    make(db)
    with db.session() as session, pytest.raises(UserError, match="already exists"):
        create_user(session, email=" HEAD@school.EXAMPLE", name="B", roles=["staff"], password=None, actor="ict")


def test_sign_in_needs_the_right_password_an_active_account_and_a_password_at_all(db: Database) -> None:
    user_id = make(db)
    make(db, email="new@school.example", roles=("staff",), password=None)
    with db.session() as session:
        signed = authenticate(session, " HEAD@school.example ", PASSWORD, "10.0.0.5")
        assert signed is not None and signed.id == user_id
        assert authenticate(session, "head@school.example", "wrong password!", "10.0.0.5") is None
        assert authenticate(session, "nobody@school.example", PASSWORD, "10.0.0.5") is None
        assert authenticate(session, "new@school.example", "", "10.0.0.5") is None
        session.get(User, user_id).active = False
        assert authenticate(session, "head@school.example", PASSWORD, "10.0.0.5") is None
    assert [e.reason for e in entries(db, "signin")] == ["10.0.0.5"]
    assert [e.target for e in entries(db, "signin.failed")] == [
        "head@school.example", "nobody@school.example", "new@school.example", "head@school.example"]


def test_changing_roles_password_or_status_ends_sessions_a_new_name_does_not(db: Database) -> None:
    head_id = make(db)
    staff_id = make(db, email="teacher@school.example", roles=("staff",))
    with db.session() as session:
        head = session.get(User, head_id)
        assert head is not None
        update_account(session, staff_id, head, name="Mr Teacher", roles=["staff"], active=True)
    with db.session() as session:
        staff = session.get(User, staff_id)
        assert staff is not None and staff.name == "Mr Teacher" and staff.session_epoch == 0
    for change in ({"roles": ["staff", "ict"], "active": True}, {"roles": ["staff", "ict"], "active": False},
                   {"roles": ["staff", "ict"], "active": True, "password": "a new long password"}):
        with db.session() as session:
            head = session.get(User, head_id)
            before = session.get(User, staff_id).session_epoch
            update_account(session, staff_id, head, name="Mr Teacher", **change)
        with db.session() as session:
            assert session.get(User, staff_id).session_epoch == before + 1
    with db.session() as session:
        assert authenticate(session, "teacher@school.example", "a new long password", "10.0.0.5") is not None
    last = entries(db, "user.update")[-1]
    assert last.actor == "head@school.example"
    assert json.loads(last.after or "{}")["password_changed"] is True
    assert "a new long password" not in (last.after or "") + (last.before or "")


def test_nobody_can_lock_themselves_out(db: Database) -> None:
    head_id = make(db)
    with db.session() as session:
        head = session.get(User, head_id)
        assert head is not None
        with pytest.raises(UserError, match="your own"):
            update_account(session, head_id, head, name="Ms Head", roles=["headteacher"], active=False)
        with pytest.raises(UserError, match="your own"):
            update_account(session, head_id, head, name="Ms Head", roles=["staff"], active=True)
        with pytest.raises(LookupError):
            update_account(session, 9999, head, name="X", roles=["staff"], active=True)
