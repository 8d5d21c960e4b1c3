"""School social media accounts: the record the headteacher's approval makes, who administers it, who may post.

An active account opens its platform's domain family for its posters' own devices, during its hours
(`rules.school_media.posters` finds the devices, `rules.policy.compile` makes the rules). `SocialAccount` and
`SocialAccountMember` are policy data, so adding or removing a poster, or retiring the account, bumps the policy
version in the same transaction and the filter follows within a second or two. A removed member keeps their row
(`removed_at`), so the page shows who could post, who added and removed them, and when.

Every change here is the headteacher's (the web checks the role) and is audited; removing and retiring happen once,
with a conditional UPDATE, so two headteachers pressing the button together change one row.

An account is of one school (`site_id`): its administrators and posters are that school's staff accounts
(`staff_of`), and every function a view calls takes the viewer's schools (`site_ids`; None: every school), so
another school's account is a LookupError, as one that is not there. Hours (`Schedule`) are the trust's: any
school's account may use them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from rules.policy.families import FAMILIES
from rules.policy.snapshot import WeeklyHours
from rules.store.audit import audit
from rules.store.db import bump_policy_version
from rules.store.models import Schedule, SocialAccount, SocialAccountMember, User, UserSite, utcnow

MAX_REASON = 2000
type SiteIds = Collection[int] | None  # the schools a caller acts for; None: every school


class AccountState(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class MemberRole(StrEnum):
    """An administrator (named on the form) or a poster (authorised by the headteacher)."""

    ADMINISTRATOR = "administrator"
    POSTER = "poster"


class AccountError(ValueError):
    """The change cannot be made; the message says why."""


@dataclass(frozen=True, slots=True)
class Member:
    """A member row with the account's name and email, for the account's page."""

    row: SocialAccountMember
    name: str
    email: str

    @property
    def current(self) -> bool:
        return self.row.removed_at is None


def _target(account: SocialAccount) -> str:
    return f"school account #{account.id}"


def staff_of(site_id: int) -> Select[int]:
    """The ids of the school's staff accounts (those who belong to it): who may administer or post on its
    accounts."""
    return select(UserSite.user_id).where(UserSite.site_id == site_id)


def posters_from(session: Session, ids: list[int], site_id: int | None = None) -> list[User]:
    """The accounts the headteacher chose to authorise: distinct, active, and staff of school `site_id` (when
    given)."""
    wanted = list(dict.fromkeys(ids))
    if len(wanted) > 100:
        raise AccountError("choose at most 100 people who may post")
    query = select(User).where(User.id.in_(wanted), User.active.is_(True))
    if site_id is not None:
        query = query.where(User.id.in_(staff_of(site_id)))
    found = {u.id: u for u in session.scalars(query)}
    if any(i not in found for i in wanted):
        raise AccountError("a person who may post must have an active staff account")
    return [found[i] for i in wanted]


def schedule_or_none(session: Session, schedule_id: int | None) -> Schedule | None:
    """The chosen hours; None means any time."""
    if schedule_id is None:
        return None
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise AccountError("choose hours from the list (or any time)")
    return schedule


def create_account(session: Session, actor: User, *, name: str, platform: str, url: str, administrators: list[User],
                   posters: list[User], schedule: Schedule | None, reason: str,
                   site_id: int | None = None) -> SocialAccount:
    """Make the account (in school `site_id`; None: the default school) with its administrators and posters;
    the caller (the headteacher's approval) audits the approval, and this audits the account it made."""
    if platform not in FAMILIES:
        raise AccountError(f"unknown platform {platform!r}")
    account = SocialAccount(name=name, platform=platform, url=url, schedule_id=schedule.id if schedule else None,
                            state=AccountState.ACTIVE, created_by=actor.email, retire_reason="")
    if site_id is not None:
        account.site_id = site_id
    session.add(account)
    session.flush()
    for role, people in ((MemberRole.ADMINISTRATOR, administrators), (MemberRole.POSTER, posters)):
        for person in people:
            session.add(SocialAccountMember(account_id=account.id, user_id=person.id, role=role, added_by=actor.email))
    session.flush()
    audit(session, actor.email, "school_account.create", _target(account), after=describe(session, account),
          reason=reason, site_id=account.site_id)
    return account


def describe(session: Session, account: SocialAccount) -> dict[str, object]:
    """What the audit log keeps of an account."""
    people: dict[str, list[str]] = {MemberRole.ADMINISTRATOR: [], MemberRole.POSTER: []}
    for member in members(session, account.id):
        if member.current:
            people.setdefault(member.row.role, []).append(member.email)
    return {"name": account.name, "platform": account.platform, "url": account.url, "state": account.state,
            "schedule_id": account.schedule_id, "administrators": people[MemberRole.ADMINISTRATOR],
            "posters": people[MemberRole.POSTER]}


def list_accounts(session: Session, site_ids: SiteIds = None) -> list[SocialAccount]:
    """These schools' accounts (None: every school's), active first (every member of staff may see the list)."""
    query = select(SocialAccount)
    if site_ids is not None:
        query = query.where(SocialAccount.site_id.in_(sorted(site_ids)))
    return list(session.scalars(query.order_by((SocialAccount.state == AccountState.ACTIVE).desc(),
                                                               SocialAccount.name, SocialAccount.id)))


def members(session: Session, account_id: int) -> list[Member]:
    """Administrators and posters, current and past, oldest first."""
    rows = session.execute(select(SocialAccountMember, User.name, User.email)
                           .join(User, User.id == SocialAccountMember.user_id)
                           .where(SocialAccountMember.account_id == account_id)
                           .order_by(SocialAccountMember.added_at, SocialAccountMember.id))
    return [Member(row, name, email) for row, name, email in rows]


def get_account(session: Session, account_id: int, site_ids: SiteIds = None) -> SocialAccount:
    """The account, when it is of one of these schools (None: any); else LookupError, as for none."""
    account = session.get(SocialAccount, account_id)
    if account is None or (site_ids is not None and account.site_id not in site_ids):
        raise LookupError(account_id)
    return account


def _active(session: Session, account_id: int, site_ids: SiteIds = None) -> SocialAccount:
    account = get_account(session, account_id, site_ids)
    if account.state != AccountState.ACTIVE:
        raise AccountError("this account was retired")
    return account


def add_poster(session: Session, account_id: int, actor: User, user_id: int,
               site_ids: SiteIds = None) -> SocialAccountMember:
    """Authorise one more person (a staff account of the account's school) to post on the account; someone who
    is not of that school is a LookupError, as an account that does not exist."""
    account = _active(session, account_id, site_ids)
    if session.scalar(staff_of(account.site_id).where(UserSite.user_id == user_id)) is None:
        raise LookupError(user_id)
    person = posters_from(session, [user_id])[0]
    already = session.scalar(select(SocialAccountMember.id).where(
        SocialAccountMember.account_id == account.id, SocialAccountMember.user_id == person.id,
        SocialAccountMember.role == MemberRole.POSTER, SocialAccountMember.removed_at.is_(None)))
    if already is not None:
        raise AccountError(f"{person.name} may already post on this account")
    before = describe(session, account)
    member = SocialAccountMember(account_id=account.id, user_id=person.id, role=MemberRole.POSTER,
                                 added_by=actor.email)
    session.add(member)
    session.flush()
    audit(session, actor.email, "school_account.poster_add", _target(account), before=before,
          after=describe(session, account), reason=person.email, site_id=account.site_id)
    return member


def remove_poster(session: Session, account_id: int, actor: User, member_id: int,
                  now: datetime | None = None, site_ids: SiteIds = None) -> SocialAccountMember:
    """Withdraw a person's authorisation to post; once only (a conditional UPDATE)."""
    account = _active(session, account_id, site_ids)
    member = session.get(SocialAccountMember, member_id)
    if member is None or member.account_id != account.id or member.role != MemberRole.POSTER:
        raise LookupError(member_id)
    before = describe(session, account)
    changed = session.execute(update(SocialAccountMember)
                              .where(SocialAccountMember.id == member.id, SocialAccountMember.removed_at.is_(None))
                              .values(removed_at=now or utcnow(), removed_by=actor.email)
                              .execution_options(synchronize_session=False))
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise AccountError("this person was already removed")
    session.refresh(member)
    _touch(session)
    person = session.get(User, member.user_id)
    audit(session, actor.email, "school_account.poster_remove", _target(account), before=before,
          after=describe(session, account), reason=person.email if person else str(member.user_id),
          site_id=account.site_id)
    return member


def retire(session: Session, account_id: int, actor: User, reason: str, now: datetime | None = None,
           site_ids: SiteIds = None) -> SocialAccount:
    """Retire the account: it no longer opens anything for anyone. Once only; a reason is required."""
    get_account(session, account_id, site_ids)  # another school's: LookupError before anything is checked
    why = reason.strip()
    if not why:
        raise AccountError("give the reason for retiring the account")
    if len(why) > MAX_REASON:
        raise AccountError(f"the reason is at most {MAX_REASON} characters")
    account = _active(session, account_id, site_ids)
    before = describe(session, account)
    changed = session.execute(update(SocialAccount)
                              .where(SocialAccount.id == account.id, SocialAccount.state == AccountState.ACTIVE)
                              .values(state=AccountState.RETIRED, retired_at=now or utcnow(), retired_by=actor.email,
                                      retire_reason=why)
                              .execution_options(synchronize_session=False))
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise AccountError("this account was retired a moment ago")
    session.refresh(account)
    _touch(session)
    audit(session, actor.email, "school_account.retire", _target(account), before=before,
          after=describe(session, account), reason=why, site_id=account.site_id)
    return account


def _touch(session: Session) -> None:
    """A Core UPDATE is not seen by the flush hook that bumps the policy version: bump it here, in the same
    transaction, so the filter closes what was opened."""
    bump_policy_version(session)


def set_hours(session: Session, account_id: int, actor: User, schedule_id: int | None,
              site_ids: SiteIds = None) -> SocialAccount:
    """Change when the account's platform is open on its posters' devices (None: any time); audited."""
    account = _active(session, account_id, site_ids)
    schedule = schedule_or_none(session, schedule_id)
    before = describe(session, account)
    account.schedule_id = schedule.id if schedule else None
    session.flush()  # policy data: the version goes up with it
    audit(session, actor.email, "school_account.hours", _target(account), before=before,
          after=describe(session, account), reason=schedule.name if schedule else "any time",
          site_id=account.site_id)
    return account


def add_hours(session: Session, actor: User, *, name: str, days: list[str], start: str, end: str) -> Schedule:
    """New weekly hours (e.g. the school's hours) that an account may use; audited."""
    label = name.strip()
    if not label or len(label) > 64:
        raise AccountError("give the hours a name of at most 64 characters")
    if session.scalar(select(Schedule.id).where(Schedule.name == label)) is not None:
        raise AccountError(f"there are already hours called {label!r}")
    if not days:
        raise AccountError("choose at least one day")
    try:
        hours = WeeklyHours.parse(",".join(days), start, end)
    except ValueError as exc:
        raise AccountError(f"the hours cannot be used: {exc}") from None
    if hours.start == hours.end:
        raise AccountError("the hours must start and end at different times")
    schedule = Schedule(name=label, days=",".join(days), start_time=hours.start.strftime("%H:%M"),
                        end_time=hours.end.strftime("%H:%M"))
    session.add(schedule)
    session.flush()
    audit(session, actor.email, "schedule.create", f"schedule #{schedule.id}",
          after={"name": schedule.name, "days": schedule.days, "start": schedule.start_time, "end": schedule.end_time})
    return schedule


def schedules(session: Session) -> list[Schedule]:
    return list(session.scalars(select(Schedule).order_by(Schedule.name)))
