"""Staff accounts and a complete site creation form, for the school media tests."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from rules.school_media.site_forms import SiteProposal
from rules.store.db import Database
from rules.store.models import User, UserSite

STAFF = {
    "sam": ("sam.staff@school.test", "Sam Staff", "staff"),
    "tia": ("tia.teacher@school.test", "Tia Teacher", "staff"),
    "mo": ("mo.market@school.test", "Mo Market", "marketing"),
    "ann": ("ann.head@school.test", "Ann Head", "headteacher"),
    "hal": ("hal.head@school.test", "Hal Deputy", "headteacher"),
    "both": ("bo.both@school.test", "Bo Both", "marketing,headteacher"),
}


def add_people(db: Database) -> dict[str, int]:
    """The accounts above, by key -> id: staff of the default school (site 1), as every account is of a school."""
    with db.session() as session:
        for email, name, roles in STAFF.values():
            account = User(email=email, name=name, roles=roles, password_hash="")
            session.add(account)
            session.flush()
            session.add(UserSite(user_id=account.id, site_id=1))
    with db.session() as session:
        by_email = {u.email: u.id for u in session.scalars(select(User))}
    return {key: by_email[email] for key, (email, _, _) in STAFF.items()}


def user(db: Database, ident: int) -> User:
    """The account, detached (read in its own read-only transaction, so it may be called inside another)."""
    with db.session(read_only=True) as session:
        found = session.get(User, ident)
        assert found is not None
        session.expunge(found)
        return found


def proposal(admins: list[int], **changes: object) -> SiteProposal:
    """A form a member of staff would send, every question answered."""
    base = SiteProposal(
        platform="tiktok", site_name="St Mary's CE Primary", site_url="https://www.tiktok.com/@stmarys",
        department="School office", moderator="Olive Office", aims="Share good news with parents.",
        content="Sports day, class assemblies, closures.", audience={"families": "", "pupils": "7 to 11"},
        contributors={"staff": ""}, administrator_ids=admins, vetter="Olive Office, office manager",
        host="TikTok", go_live="2026-12-01", advertise="The newsletter.", parental_consent="",
        security_measures="Comments filtered; followers approved by the office.")
    return replace(base, **changes)  # type: ignore[arg-type]
