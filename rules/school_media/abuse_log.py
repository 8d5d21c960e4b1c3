"""The headteacher's log of inappropriate comments or abuse relating to the school (policy: "Roles and
responsibilities" and "Parent social media use").

Only the headteacher keeps and reads it (the web checks the role); every change is audited in the same
transaction, and the audit entry holds what changed, never a screenshot's bytes. Follow-ups are their own rows,
so that several can be planned and each marked done once (a conditional UPDATE, as access requests are
decided). The list puts entries with a follow-up due (today or earlier, not done) first: that is the work.

Each school keeps its own log: an entry is of a school (`site_id`), its follow-ups and screenshots are its
entry's, and every function a view calls takes the viewer's schools (`site_ids`; None: every school): another
school's entry is NotFound, as one that is not there.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from rules.policy.families import FAMILIES
from rules.school_dates import show
from rules.school_media.screenshots import CheckedImage
from rules.store.audit import audit
from rules.store.models import AbuseFollowUp, AbuseLogEntry, AbuseScreenshot, SocialAccount, utcnow
from rules.workflows.form_urls import BadURL, parse_web_url

type SiteIds = Collection[int] | None  # the schools a caller acts for; None: every school

OTHER_PLATFORM = "other"
PLATFORMS = {**{key: family.label for key, family in FAMILIES.items()}, OTHER_PLATFORM: "Elsewhere"}
MAX_TEXT = 10_000
MAX_NAME = 128
MAX_WHERE = 255
# The policy's own words ("Parent social media use"), shown when a parent is asked to a meeting.
PARENT_MEETING_WORDS = ("Any parents that are seen to be breaching the guidance in this policy will be required to "
                        "attend a meeting with the headteacher, and may have their ability to interact with the "
                        "social media websites removed.")


class PostedBy(StrEnum):
    """Who posted it, if known."""

    PARENT = "parent"
    PUPIL = "pupil"
    PUBLIC = "public"
    STAFF = "staff"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return {PostedBy.PARENT: "Parent", PostedBy.PUPIL: "Pupil", PostedBy.PUBLIC: "Member of the public",
                PostedBy.STAFF: "Member of staff", PostedBy.UNKNOWN: "Not known"}[self]


class AbuseAction(StrEnum):
    """What was done about it (several may be ticked)."""

    REMOVED = "removed"
    REPORTED = "reported"
    MEETING = "meeting"
    POLICE = "police"

    @property
    def label(self) -> str:
        return {AbuseAction.REMOVED: "Removed", AbuseAction.REPORTED: "Reported to the platform",
                AbuseAction.MEETING: "Meeting with parent", AbuseAction.POLICE: "Police"}[self]


class AbuseLogError(ValueError):
    """The entry cannot be saved as given; the message says why. Nothing already stored is changed."""


class NotFound(LookupError):
    """No such entry, follow-up or screenshot."""


@dataclass(frozen=True)
class EntryInput:
    """What the headteacher typed for an entry (new or edited)."""

    occurred_on: date
    platform: str
    account_id: int | None = None
    account_text: str = ""
    posted_text: str = ""
    link: str = ""
    posted_by_kind: str = PostedBy.UNKNOWN
    posted_by_name: str = ""
    actions: tuple[str, ...] = ()
    action_notes: str = ""
    has_screenshot: bool = field(default=False, compare=False)  # a screenshot comes with it (or is already kept)


def actions_of(entry: AbuseLogEntry) -> list[AbuseAction]:
    """The actions ticked on an entry, in the form's order."""
    ticked = set(json.loads(entry.actions or "[]"))
    return [action for action in AbuseAction if action.value in ticked]


def shows_parent_meeting_words(entry: AbuseLogEntry) -> bool:
    """A parent posted it and a meeting with the parent is among the actions: the policy's words apply."""
    return entry.posted_by_kind == PostedBy.PARENT and AbuseAction.MEETING in actions_of(entry)


def _summary(entry: AbuseLogEntry) -> dict[str, object]:
    return {"occurred_on": entry.occurred_on, "platform": entry.platform, "account_id": entry.account_id,
            "account_text": entry.account_text, "posted_text": entry.posted_text, "link": entry.link,
            "posted_by_kind": entry.posted_by_kind, "posted_by_name": entry.posted_by_name,
            "actions": json.loads(entry.actions or "[]"), "action_notes": entry.action_notes}


def _checked(session: Session, data: EntryInput, today: date, site_id: int | None = None) -> dict[str, object]:
    """The columns for `data`, or AbuseLogError naming the first thing wrong; a school account named must be of
    school `site_id` (when given)."""
    if data.occurred_on > today:
        raise AbuseLogError(f"the date {show(data.occurred_on)} is in the future: give the day it was posted")
    platform, where = data.platform, data.account_text.strip()
    if data.account_id is not None:
        account = session.get(SocialAccount, data.account_id)
        if account is None or (site_id is not None and account.site_id != site_id):
            raise AbuseLogError("choose one of the school's accounts, or say where it was posted")
        platform = account.platform
    elif platform not in PLATFORMS:
        raise AbuseLogError(f"the platform must be one of: {', '.join(PLATFORMS.values())}")
    elif not where:
        raise AbuseLogError("say which account or page it was posted on (it is not one of the school's accounts)")
    link = data.link.strip()
    if link:
        try:
            link = parse_web_url(link).text
        except BadURL as exc:
            raise AbuseLogError(f"the link: {exc}") from None
    text = data.posted_text.strip()
    if not (text or link or data.has_screenshot):
        raise AbuseLogError("record what was posted: its text, a link to it or a screenshot")
    if data.posted_by_kind not in set(PostedBy):
        raise AbuseLogError("say who posted it: a parent, a pupil, a member of the public, staff, or not known")
    unknown = [a for a in data.actions if a not in set(AbuseAction)]
    if unknown:
        raise AbuseLogError(f"unknown action {unknown[0]!r}")
    for label, value, limit in (("the text", text, MAX_TEXT), ("the notes", data.action_notes, MAX_TEXT),
                                ("the name", data.posted_by_name, MAX_NAME), ("where", where, MAX_WHERE)):
        if len(value.strip()) > limit:
            raise AbuseLogError(f"{label} is longer than {limit} characters")
    ticked = [a.value for a in AbuseAction if a.value in set(data.actions)]
    return {"occurred_on": data.occurred_on.isoformat(), "platform": platform, "account_id": data.account_id,
            "account_text": "" if data.account_id is not None else where, "posted_text": text, "link": link,
            "posted_by_kind": data.posted_by_kind, "posted_by_name": data.posted_by_name.strip(),
            "actions": json.dumps(ticked), "action_notes": data.action_notes.strip()}


def create_entry(session: Session, actor: str, data: EntryInput, *, today: date,
                 screenshot: CheckedImage | None = None, site_id: int | None = None) -> AbuseLogEntry:
    """Log a new entry in school `site_id` (None: the default school), with its first screenshot if one came;
    audited as `abuse.create`."""
    values = _checked(session, EntryInput(**{**data.__dict__, "has_screenshot": screenshot is not None}), today,
                      site_id)
    now = utcnow()
    entry = AbuseLogEntry(created_by=actor, created_at=now, updated_at=now, **values)  # "changed" only when it was
    if site_id is not None:
        entry.site_id = site_id
    session.add(entry)
    session.flush()
    audit(session, actor, "abuse.create", f"abuse log entry #{entry.id}", after=_summary(entry),
          site_id=entry.site_id)
    if screenshot is not None:
        add_screenshot(session, entry.id, actor, screenshot)
    return entry


def update_entry(session: Session, entry_id: int, actor: str, data: EntryInput, *, today: date,
                 site_ids: SiteIds = None) -> AbuseLogEntry:
    """Change an entry (of these schools), audited as `abuse.edit` with what it was before."""
    entry = get_entry(session, entry_id, site_ids)
    kept = session.scalar(select(AbuseScreenshot.id).where(AbuseScreenshot.entry_id == entry.id).limit(1))
    values = _checked(session, EntryInput(**{**data.__dict__, "has_screenshot": kept is not None}), today,
                      entry.site_id)
    before = _summary(entry)
    for name, value in values.items():
        setattr(entry, name, value)
    entry.updated_at = utcnow()
    session.flush()
    audit(session, actor, "abuse.edit", f"abuse log entry #{entry.id}", before=before, after=_summary(entry),
          site_id=entry.site_id)
    return entry


def get_entry(session: Session, entry_id: int, site_ids: SiteIds = None) -> AbuseLogEntry:
    """The entry, when it is of one of these schools (None: any); else NotFound, as for one that is not there."""
    entry = session.get(AbuseLogEntry, entry_id)
    if entry is None or (site_ids is not None and entry.site_id not in site_ids):
        raise NotFound(entry_id)
    return entry


def add_follow_up(session: Session, entry_id: int, actor: str, due_on: date, note: str,
                  site_ids: SiteIds = None) -> AbuseFollowUp:
    """Plan a follow-up on a day (any day: one planned for a day already gone is due at once)."""
    entry = get_entry(session, entry_id, site_ids)
    if len(note.strip()) > MAX_TEXT:
        raise AbuseLogError(f"the note is longer than {MAX_TEXT} characters")
    follow_up = AbuseFollowUp(entry_id=entry.id, due_on=due_on.isoformat(), note=note.strip())
    session.add(follow_up)
    session.flush()
    audit(session, actor, "abuse.follow_up", f"abuse log entry #{entry.id}",
          after={"follow_up_id": follow_up.id, "due_on": follow_up.due_on, "note": follow_up.note},
          site_id=entry.site_id)
    return follow_up


def mark_done(session: Session, follow_up_id: int, actor: str, site_ids: SiteIds = None) -> AbuseFollowUp:
    """Mark a follow-up (of an entry of these schools) done, once: a second press (or a second headteacher)
    changes nothing."""
    follow_up = session.get(AbuseFollowUp, follow_up_id)
    if follow_up is None:
        raise NotFound(follow_up_id)
    entry = get_entry(session, follow_up.entry_id, site_ids)
    changed = session.execute(update(AbuseFollowUp)
                              .where(AbuseFollowUp.id == follow_up_id, AbuseFollowUp.done_at.is_(None))
                              .values(done_at=utcnow(), done_by=actor).execution_options(synchronize_session=False))
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise AbuseLogError("this follow-up was already marked done")
    session.refresh(follow_up)
    audit(session, actor, "abuse.follow_up_done", f"abuse log entry #{follow_up.entry_id}",
          after={"follow_up_id": follow_up.id, "due_on": follow_up.due_on}, site_id=entry.site_id)
    return follow_up


def add_screenshot(session: Session, entry_id: int, actor: str, image: CheckedImage,
                   site_ids: SiteIds = None) -> AbuseScreenshot:
    """Keep a checked screenshot on an entry; the audit entry holds its type, size and SHA-256."""
    entry = get_entry(session, entry_id, site_ids)
    shot = AbuseScreenshot(entry_id=entry.id, content_type=image.content_type, size=image.size,
                           sha256=image.sha256, data=image.data, uploaded_by=actor)
    session.add(shot)
    session.flush()
    audit(session, actor, "abuse.screenshot", f"abuse log entry #{entry.id}",
          after={"screenshot_id": shot.id, "content_type": shot.content_type, "size": shot.size,
                 "sha256": shot.sha256}, site_id=entry.site_id)
    return shot


def read_screenshot(session: Session, screenshot_id: int, actor: str, site_ids: SiteIds = None) -> AbuseScreenshot:
    """A screenshot (of an entry of these schools) to show; the view is audited like a view of a device's log."""
    shot = session.get(AbuseScreenshot, screenshot_id)
    if shot is None:
        raise NotFound(screenshot_id)
    entry = get_entry(session, shot.entry_id, site_ids)
    audit(session, actor, "abuse.screenshot_view", f"abuse log entry #{shot.entry_id}",
          after={"screenshot_id": shot.id}, site_id=entry.site_id)
    return shot


def screenshots_of(session: Session, entry_id: int) -> list[tuple[int, str, int]]:
    """(id, content type, size) of an entry's screenshots, without their bytes."""
    rows = session.execute(select(AbuseScreenshot.id, AbuseScreenshot.content_type, AbuseScreenshot.size)
                           .where(AbuseScreenshot.entry_id == entry_id).order_by(AbuseScreenshot.id))
    return [(row.id, row.content_type, row.size) for row in rows]


def follow_ups_of(session: Session, entry_id: int) -> list[AbuseFollowUp]:
    return list(session.scalars(select(AbuseFollowUp).where(AbuseFollowUp.entry_id == entry_id)
                                .order_by(AbuseFollowUp.due_on, AbuseFollowUp.id)))


@dataclass(frozen=True)
class ListedEntry:
    """An entry in the list, with its earliest open follow-up and whether that is due."""

    entry: AbuseLogEntry
    next_follow_up: str | None  # YYYY-MM-DD of the earliest follow-up not done
    due: bool  # that follow-up is today or earlier


def list_entries(session: Session, today: date, limit: int = 1000, site_ids: SiteIds = None) -> list[ListedEntry]:
    """These schools' entries (None: every school's) with a follow-up due first (the most overdue first), then
    the rest, newest first."""
    entries = list(session.scalars(_of_schools(select(AbuseLogEntry), site_ids)
                                   .order_by(AbuseLogEntry.occurred_on.desc(), AbuseLogEntry.id.desc()).limit(limit)))
    open_ups: dict[int, str] = {}
    for entry_id, due_on in session.execute(select(AbuseFollowUp.entry_id, AbuseFollowUp.due_on)
                                            .where(AbuseFollowUp.done_at.is_(None))
                                            .order_by(AbuseFollowUp.due_on)):
        open_ups.setdefault(entry_id, due_on)
    listed = [ListedEntry(e, open_ups.get(e.id), e.id in open_ups and open_ups[e.id] <= today.isoformat())
              for e in entries]
    due = sorted((item for item in listed if item.due), key=lambda item: (item.next_follow_up, item.entry.id))
    return due + [item for item in listed if not item.due]


def follow_ups_due(session: Session, today: date, site_ids: SiteIds = None) -> int:
    """How many follow-ups not done, of these schools' entries (None: every school's), are due today or earlier
    (the headteacher's home page)."""
    query = select(func.count()).select_from(AbuseFollowUp).where(AbuseFollowUp.done_at.is_(None),
                                                                  AbuseFollowUp.due_on <= today.isoformat())
    if site_ids is not None:
        query = query.where(AbuseFollowUp.entry_id.in_(_of_schools(select(AbuseLogEntry.id), site_ids)))
    return session.scalar(query) or 0


def _of_schools[Q: Select](query: Q, site_ids: SiteIds) -> Q:
    return query if site_ids is None else query.where(AbuseLogEntry.site_id.in_(sorted(site_ids)))


def platform_label(entry: AbuseLogEntry) -> str:
    return PLATFORMS.get(entry.platform, entry.platform)
