"""The daily policy review reminder: mail every active headteacher 30 days before the review date and on the day.

Each reminder goes at most once per review date: a `ReviewReminder` row (unique per date and kind) is inserted
before the mail is sent and committed only after it was sent, so a mail that failed is tried at the next run,
and a second scheduler waits on the unique row and then sends nothing. A day the scheduler was down is caught
up: the next run sends what it missed (the 30-day reminder only while the date is still ahead). A new review
date starts afresh. With no date recorded nothing is sent; the home page says that no date is set.

In a trust each school has its own review date, and its reminder goes to its own headteachers only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rules.localtime import LONDON
from rules.mail import MailError, MailSettings, send
from rules.review.policy_review import next_review_date
from rules.review.reminder import ReminderKind, ReviewStatus
from rules.school_dates import show
from rules.site_members import members_of
from rules.site_names import DEFAULT_SITE_ID
from rules.store.audit import audit
from rules.store.db import Database
from rules.store.models import ReviewReminder, Site, User, utcnow

log = logging.getLogger(__name__)
ACTOR = "scheduler"
HEADTEACHER_ROLE = "headteacher"


@dataclass
class ReminderResult:
    sent: list[ReminderKind] = field(default_factory=list)
    to: list[str] = field(default_factory=list)


def headteachers(session: Session, site_id: int = DEFAULT_SITE_ID) -> list[str]:
    """The email of every active account of the school with the headteacher role."""
    users = session.scalars(select(User).where(User.active.is_(True), members_of(site_id)).order_by(User.email))
    return [u.email for u in users if HEADTEACHER_ROLE in {r.strip() for r in u.roles.split(",")}]


def compose(kind: ReminderKind, status: ReviewStatus, settings: MailSettings, to: list[str],
            public_url: str) -> EmailMessage:
    """The reminder: the date, what the policy asks, and where the review pack is."""
    message = EmailMessage()
    when = show(status.next_review_on)
    message["Subject"] = (f"schoolgate: the social media policy is due for review on {when}"
                          if kind == ReminderKind.THIRTY_DAYS
                          else f"schoolgate: the social media policy's review is due ({when})")
    message["From"] = settings.from_address
    message["To"] = ", ".join(to)
    base = public_url.rstrip("/")
    message.set_content("\n".join([
        status.words(), "",
        "The policy says: \"This policy will be reviewed on an annual basis by the headteacher and academy council.\"",
        "", "The annual review pack for the academy council (counts and dates, no child named):",
        f"{base}/review/pack", "",
        "When the review has taken place, record it and the next review date:", f"{base}/review/", ""]))
    return message


def send_review_reminders(db: Database, settings: MailSettings, public_url: str,
                          today: date | None = None) -> ReminderResult:
    """Send, for every school, the reminders due by `today` (London) that have not been sent for its date."""
    day = today or datetime.now(LONDON).date()
    result = ReminderResult()
    with db.session(read_only=True) as session:
        schools = list(session.scalars(select(Site.id).order_by(Site.id)))
    for site_id in schools:
        one = _school_reminders(db, settings, public_url, day, site_id)
        result.sent += one.sent
        result.to += one.to
    return result


def _school_reminders(db: Database, settings: MailSettings, public_url: str, day: date,
                      site_id: int) -> ReminderResult:
    result = ReminderResult()
    with db.session(read_only=True) as session:
        status = ReviewStatus(next_review_date(session, site_id), day)
        to = headteachers(session, site_id)
    wanted = status.mail_due()
    if not wanted or status.next_review_on is None:
        return result
    if not to:
        log.warning("the policy review reminder has nobody to go to: no active headteacher account")
        return result
    if not settings.host:
        log.warning("the policy review reminder was not mailed: no [smtp] host (it shows on the home page)")
        return result
    for kind in wanted:
        if _send_once(db, kind, status, settings, to, public_url, site_id):
            result.sent.append(kind)
    result.to = to if result.sent else []
    return result


def _send_once(db: Database, kind: ReminderKind, status: ReviewStatus, settings: MailSettings, to: list[str],
               public_url: str, site_id: int) -> bool:
    assert status.next_review_on is not None
    key = status.next_review_on.isoformat()
    try:
        with db.session() as session:
            if session.scalar(select(ReviewReminder.id).where(ReviewReminder.site_id == site_id,
                                                              ReviewReminder.next_review_on == key,
                                                              ReviewReminder.kind == kind.value)) is not None:
                return False
            session.add(ReviewReminder(site_id=site_id, next_review_on=key, kind=kind.value, sent_at=utcnow(),
                                       sent_to=", ".join(to)))
            session.flush()  # takes the unique row: another scheduler waits here, then fails below
            send(settings, compose(kind, status, settings, to, public_url))
            audit(session, ACTOR, "policy_review.reminder", "policy review",
                  after={"kind": kind.value, "next_review_on": key, "to": to}, site_id=site_id)
    except IntegrityError:
        return False  # sent by another process a moment ago
    except MailError:
        return False  # logged by send; nothing recorded, so the next run tries again
    log.info("policy review reminder (%s, %s) sent to %s", kind.value, key, ", ".join(to))
    return True
