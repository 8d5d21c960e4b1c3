"""Which devices a school account opens its platform for: its authorised posters' own devices, nobody else's.

A device is a poster's when it is in the staff group and its `person` is the poster's staff account: the
account's email or its name. Only the staff group: it is the one group the school has said holds staff's devices
(as `rules.safeguarding.routing` and the review pack's redaction read it). Any other group may hold children's
devices whatever it is called: a group made for "Year 6 iPads" whose devices are registered to the class
teacher's email, the `pupils` group renamed, the guests' network a visiting class uses. So a poster's email on a
device outside the staff group opens nothing (the policy keeps the four services closed to pupils; failing
closed shows as "block" in `schoolgate check`, where the technician sees it). A name is not an identity (see
`rules.safeguarding.routing`), but inside the staff group a pupil's device cannot be. A device without a group,
or in the default group (where unregistered devices are filtered), is never a poster's.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.policy.snapshot import WeeklyHours, person_key
from rules.school_media.accounts import AccountState, MemberRole
from rules.store.models import Device, Group, Schedule, SocialAccount, SocialAccountMember, User

STAFF_GROUP = "staff"
PUPILS_GROUP = "pupils"


@dataclass(frozen=True, slots=True)
class OpenAccount:
    """An active school account as the filter needs it: what it opens, for which devices, when."""

    id: int
    name: str
    platform: str
    device_ids: frozenset[int]
    hours: WeeklyHours | None  # None: any time


def is_pupils_group(group: Group | None, default_group: str) -> bool:
    """A pupils' group: `pupils`, or the default group (where a device without a group is filtered)."""
    name = group.name if group is not None else default_group
    return name.casefold() in {PUPILS_GROUP, default_group.casefold()}


def device_is_posters(device: Device, group: Group | None, default_group: str, user: User) -> bool:
    """Whether this device is this poster's own (see the module's docstring)."""
    key = person_key(device.person)
    if key is None or group is None or is_pupils_group(group, default_group):
        return False
    if group.name.casefold() != STAFF_GROUP:
        return False
    return key in (person_key(user.email), person_key(user.name))


def open_accounts(session: Session, groups: dict[int, Group], default_group: str,
                  site_id: int | None = None) -> list[OpenAccount]:
    """Every active account (of the school `site_id`, when given) with the devices of its current, active posters
    (that school's devices: a poster's device in another school is that school's policy, not this one's)."""
    query = select(SocialAccount).where(SocialAccount.state == AccountState.ACTIVE)
    devices = select(Device).where(Device.person.is_not(None))
    if site_id is not None:
        query = query.where(SocialAccount.site_id == site_id)
        devices = devices.where(Device.site_id == site_id)
    accounts = list(session.scalars(query))
    if not accounts:
        return []
    posters: dict[int, list[User]] = defaultdict(list)
    rows = session.execute(select(SocialAccountMember.account_id, User)
                           .join(User, User.id == SocialAccountMember.user_id)
                           .where(SocialAccountMember.role == MemberRole.POSTER,
                                  SocialAccountMember.removed_at.is_(None), User.active.is_(True)))
    for account_id, user in rows:
        posters[account_id].append(user)
    by_person: dict[str, list[Device]] = defaultdict(list)  # one pass over the devices, whatever the posters
    for device in session.scalars(devices):
        key = person_key(device.person)
        if key is not None:
            by_person[key].append(device)
    schedules = {s.id: s for s in session.scalars(select(Schedule))}
    found = []
    for account in accounts:
        ids = frozenset(d.id for user in posters.get(account.id, ())
                        for key in {person_key(user.email), person_key(user.name)} if key is not None
                        for d in by_person.get(key, ())
                        if device_is_posters(d, groups.get(d.group_id) if d.group_id else None, default_group, user))
        schedule = schedules.get(account.schedule_id) if account.schedule_id else None
        hours = WeeklyHours.parse(schedule.days, schedule.start_time, schedule.end_time) if schedule else None
        found.append(OpenAccount(account.id, account.name, account.platform, ids, hours))
    return found
