"""The policy's next review date: a setting the headteacher changes, with its history.

Each change is a `PolicyReview` row (who, when, optionally that a review took place on a day with notes, and the
next review date); the newest row's date is the one in force, so the history is never rewritten. With no row
there is no date: the screens say so rather than inventing one (the school's policy text has its own date,
"23/09/26" at St Mary's, which the headteacher records once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from rules.school_dates import show
from rules.store.audit import audit
from rules.store.models import PolicyReview

MAX_NOTES = 10_000


class ReviewError(ValueError):
    """The review cannot be recorded as given; the message says why."""


@dataclass(frozen=True)
class ReviewInput:
    next_review_on: date
    reviewed_on: date | None = None
    notes: str = ""


def _of(site_id: int | None) -> ColumnElement[bool]:
    return true() if site_id is None else PolicyReview.site_id == site_id


def latest(session: Session, site_id: int | None = None) -> PolicyReview | None:
    """The school's newest row (None: any school's): its `next_review_on` is the date in force."""
    return session.scalars(select(PolicyReview).where(_of(site_id))
                           .order_by(PolicyReview.recorded_at.desc(), PolicyReview.id.desc()).limit(1)).first()


def next_review_date(session: Session, site_id: int | None = None) -> date | None:
    row = latest(session, site_id)
    return date.fromisoformat(row.next_review_on) if row is not None else None


def last_review_date(session: Session, site_id: int | None = None) -> date | None:
    """The day of the school's most recent review that took place (the start of the review pack's default
    period)."""
    found = session.scalar(select(PolicyReview.reviewed_on).where(PolicyReview.reviewed_on.is_not(None), _of(site_id))
                           .order_by(PolicyReview.reviewed_on.desc(), PolicyReview.id.desc()).limit(1))
    return date.fromisoformat(found) if found else None


def history(session: Session, site_id: int | None = None) -> list[PolicyReview]:
    return list(session.scalars(select(PolicyReview).where(_of(site_id))
                                .order_by(PolicyReview.recorded_at.desc(), PolicyReview.id.desc())))


def record(session: Session, actor: str, data: ReviewInput, *, today: date,
           site_id: int | None = None) -> PolicyReview:
    """Record school `site_id`'s review (None: the default school's), or only a new date, audited as
    `policy_review.record`."""
    if data.reviewed_on is not None:
        if data.reviewed_on > today:
            raise ReviewError(f"the review date {show(data.reviewed_on)} is in the future: record a review once it "
                              "has taken place")
        if data.next_review_on <= data.reviewed_on:
            raise ReviewError("the next review date must come after the review that took place")
    if len(data.notes.strip()) > MAX_NOTES:
        raise ReviewError(f"the notes are longer than {MAX_NOTES} characters")
    before = latest(session, site_id)
    row = PolicyReview(recorded_by=actor, next_review_on=data.next_review_on.isoformat(),
                       reviewed_on=data.reviewed_on.isoformat() if data.reviewed_on else None,
                       notes=data.notes.strip())
    if site_id is not None:
        row.site_id = site_id
    session.add(row)
    session.flush()
    audit(session, actor, "policy_review.record", f"policy review #{row.id}",
          before={"next_review_on": before.next_review_on} if before else None,
          after={"next_review_on": row.next_review_on, "reviewed_on": row.reviewed_on, "notes": row.notes},
          site_id=row.site_id)
    return row
