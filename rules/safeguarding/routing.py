"""Who a concern is about, and who hears of it: the policy's routing.

The school's policy: concerns about a pupil's online behaviour go to the DSL, about a member of staff to the
headteacher, and about the headteacher to the chair of governors. A concern is never routed to the person it
is about, and never to nobody: with no headteacher account a staff concern goes to the DSL, and with no
`[safeguarding] chair_of_governors_email` a concern about the headteacher goes to the DSL (both logged).

Who a device belongs to:
- a device in a group named "staff", or whose person is a staff account (its name or email), is staff's;
- it is the headteacher's when that account has the headteacher role;
- anything else (a pupil's device, an unregistered address) is a pupil's.

A name is not an identity: a pupil may share a teacher's (or the headteacher's, or the DSL's) name. So a
device in another group (a pupils' group) whose person only has the *name* of a staff account stays a
pupil's, and its concern goes to the DSL: only the account's email, or the staff group, says otherwise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.policy.snapshot import person_key
from rules.safeguarding.states import DSL_ROLE, HEADTEACHER_ROLE, Route, Subject
from rules.site_members import members_of
from rules.store.models import Device, User

log = logging.getLogger(__name__)
STAFF_GROUP = "staff"


@dataclass(frozen=True, slots=True)
class Who:
    """The device and person a concern is about, as they were when it was raised."""

    device_id: int | None
    device_name: str | None
    person: str | None
    subject: Subject
    account: str | None = None   # the staff account's email, when the person is one


def _roles(user: User) -> set[str]:
    return {r.strip() for r in user.roles.split(",")}


def account_for(session: Session, person: str | None) -> User | None:
    """The active staff account whose name or email is this person, if any."""
    key = person_key(person)
    if key is None:
        return None
    for user in session.scalars(select(User).where(User.active.is_(True))):
        if person_key(user.name) == key or person_key(user.email) == key:
            return user
    return None


def who_for(session: Session, device: Device | None, person: str | None = None,
            subject: Subject = Subject.PUPIL) -> Who:
    """Who a concern is about: the device's person (or the one named), raised to staff or headteacher when the
    device's group or a staff account says so; never lowered below `subject` (what a member of staff chose)."""
    name = person or (device.person if device is not None else None)
    account = account_for(session, name)
    group = device.group.name if device is not None and device.group is not None else None
    staff_group = group is not None and group.casefold() == STAFF_GROUP
    if account is not None and group is not None and not staff_group and person_key(account.email) != person_key(name):
        log.warning("device #%s in group %r has the name of a staff account as its person: read as a pupil's "
                    "(same name), not as that account", device.id if device else None, group)
        account = None
    found = Subject.PUPIL
    if account is not None:
        found = Subject.HEADTEACHER if HEADTEACHER_ROLE in _roles(account) else Subject.STAFF
    elif staff_group:
        found = Subject.STAFF
    chosen = found if found.rank >= subject.rank else subject
    return Who(device.id if device else None, device.name if device else None, name, chosen,
               account.email if account else None)


def route(session: Session, who: Who, chair_email: str, site_id: int | None = None) -> Route:
    """Where a concern about `who` (in school `site_id`; None: any) goes (see the module's docstring for the
    fallbacks)."""
    if who.subject == Subject.PUPIL:
        return Route.DSL
    if who.subject == Subject.STAFF:
        if any(u.email != who.account for u in accounts_with(session, HEADTEACHER_ROLE, site_id)):
            return Route.HEADTEACHER
        log.warning("a concern about a member of staff, but no active headteacher account: routed to the DSL")
        return Route.DSL
    if chair_email:
        return Route.CHAIR
    log.warning("a concern about the headteacher, but [safeguarding] chair_of_governors_email is empty: "
                "routed to the DSL instead; set it so that such concerns reach the chair of governors")
    return Route.DSL


def accounts_with(session: Session, role: str, site_id: int | None = None) -> list[User]:
    """Every active account with this role (of the school `site_id`, when given: a concern in one school of a
    trust is never mailed to another school's DSL)."""
    query = select(User).where(User.active.is_(True)).order_by(User.id)
    if site_id is not None:
        query = query.where(members_of(site_id))
    return [u for u in session.scalars(query) if role in _roles(u)]


def recipients(session: Session, routed_to: str, chair_email: str, about: str | None = None,
               site_id: int | None = None) -> list[str]:
    """The email addresses a concern routed so is sent to (in the school `site_id`, when given), never the
    account it is about."""
    if routed_to == Route.CHAIR:
        return [chair_email] if chair_email else []
    role = HEADTEACHER_ROLE if routed_to == Route.HEADTEACHER else DSL_ROLE
    return [u.email for u in accounts_with(session, role, site_id) if u.email != about]
