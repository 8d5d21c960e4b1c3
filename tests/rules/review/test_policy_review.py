"""The next review date: the newest row is in force, history kept, reviews checked; where today stands."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from rules.review import policy_review as review
from rules.review.reminder import ReminderKind, ReviewStatus
from rules.store.db import Database
from rules.store.models import AuditEntry

TODAY = date(2026, 11, 27)
HEAD = "ann.head@school.test"


def test_no_row_means_no_date_and_the_newest_row_is_in_force(db: Database) -> None:
    with db.session(read_only=True) as session:
        assert review.next_review_date(session) is None and review.last_review_date(session) is None
    with db.session() as session:
        review.record(session, HEAD, review.ReviewInput(date(2026, 9, 23)), today=TODAY)
    with db.session() as session:
        data = review.ReviewInput(date(2027, 9, 23), date(2026, 11, 20), "Reviewed with the council")
        review.record(session, HEAD, data, today=TODAY)
    with db.session(read_only=True) as session:
        assert review.next_review_date(session) == date(2027, 9, 23)
        assert review.last_review_date(session) == date(2026, 11, 20)
        assert [r.next_review_on for r in review.history(session)] == ["2027-09-23", "2026-09-23"]
        audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "policy_review.record")
                                 .order_by(AuditEntry.id)).all()
    assert len(audits) == 2 and audits[0].actor == HEAD and '"next_review_on": "2026-09-23"' in (audits[1].before or "")


@pytest.mark.parametrize(("data", "words"), [
    (review.ReviewInput(date(2027, 9, 23), date(2026, 11, 28)), "28/11/2026 is in the future"),
    (review.ReviewInput(date(2026, 11, 1), date(2026, 11, 20)), "must come after the review"),
    (review.ReviewInput(date(2027, 9, 23), None, "x" * 10_001), "longer than 10000"),
])
def test_a_review_that_cannot_be_recorded_says_why(db: Database, data: review.ReviewInput, words: str) -> None:
    with pytest.raises(review.ReviewError, match=words), db.session() as session:
        review.record(session, HEAD, data, today=TODAY)
    with db.session(read_only=True) as session:
        assert review.history(session) == []


@pytest.mark.parametrize(("today", "shown", "words", "mail"), [
    (date(2026, 8, 23), False, "due for review on 23/09/2026, in 31 days", []),
    (date(2026, 8, 24), True, "due for review on 23/09/2026, in 30 days", [ReminderKind.THIRTY_DAYS]),
    (date(2026, 9, 22), True, "in 1 day.", [ReminderKind.THIRTY_DAYS]),
    (date(2026, 9, 23), True, "due for review today (23/09/2026)", [ReminderKind.DUE]),
    (date(2026, 11, 27), True, "overdue: it was due on 23/09/2026 (65 days ago)", [ReminderKind.DUE]),
])
def test_where_today_stands_against_23_09_26(today: date, shown: bool, words: str, mail: list[ReminderKind]) -> None:
    status = ReviewStatus(date(2026, 9, 23), today)
    assert status.shown is shown and words in status.words() and status.mail_due() == mail


def test_with_no_date_the_page_says_so_and_nothing_is_mailed() -> None:
    status = ReviewStatus(None, TODAY)
    assert status.shown and not status.date_set and status.mail_due() == []
    assert status.words() == "No date is set for the next review of the social media policy."
