"""The policy review reminder through a real SMTP server: 30 days before, on the day, once each, a missed day
caught up, nothing without a date; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from rules.jobs.policy_review import send_review_reminders
from rules.mail import MailSettings, SmtpTls
from rules.review import policy_review as review
from rules.sites import ensure_site
from rules.store.db import Database
from rules.store.models import AuditEntry, ReviewReminder
from rules.workflows.accounts import create_user
from tests.e2e.web_support import free_port
from tests.mailbox import Inbox

REVIEW = date(2026, 9, 23)
URL = "https://gate.school.test"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, MailSettings]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, MailSettings("127.0.0.1", controller.port, "filter@school.test", ("ict@school.test",),
                                  SmtpTls.NONE)
    finally:
        controller.stop()


@pytest.fixture
def school(db: Database) -> Database:
    with db.session() as session:
        for email, name, roles, active in (("ann.head@school.test", "Ann Head", ["headteacher"], True),
                                           ("hal.head@school.test", "Hal Deputy", ["staff", "headteacher"], True),
                                           ("old.head@school.test", "Old Head", ["headteacher"], False),
                                           ("ian.tech@school.test", "Ian Tech", ["ict"], True)):
            user = create_user(session, email=email, name=name, roles=roles, password=None, actor="test")
            user.active = active
    return db


def set_date(db: Database, day: date) -> None:
    with db.session() as session:
        review.record(session, "ann.head@school.test", review.ReviewInput(day), today=date(2026, 1, 1))


def body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    return payload.decode() if isinstance(payload, bytes) else str(payload)


def test_nothing_is_sent_when_no_date_is_set(school: Database, smtp: tuple[Inbox, MailSettings]) -> None:
    inbox, settings = smtp
    assert send_review_reminders(school, settings, URL, today=date(2026, 9, 23)).sent == []
    assert inbox.messages == []


def test_thirty_days_before_then_on_the_day_each_once_to_every_active_headteacher(
        school: Database, smtp: tuple[Inbox, MailSettings]) -> None:
    inbox, settings = smtp
    set_date(school, REVIEW)
    assert send_review_reminders(school, settings, URL, today=date(2026, 8, 23)).sent == []  # 31 days before
    result = send_review_reminders(school, settings, URL, today=date(2026, 8, 24))
    assert result.sent == ["thirty_days"] and result.to == ["ann.head@school.test", "hal.head@school.test"]
    [first] = inbox.messages
    assert first["To"] == "ann.head@school.test, hal.head@school.test"  # not the disabled account, not [smtp] to
    assert first["Subject"] == "schoolgate: the social media policy is due for review on 23/09/2026"
    assert "in 30 days" in body(first) and f"{URL}/review/pack" in body(first)
    for day in (date(2026, 8, 25), date(2026, 9, 22)):
        assert send_review_reminders(school, settings, URL, today=day).sent == []  # once only
    assert send_review_reminders(school, settings, URL, today=REVIEW).sent == ["due"]
    assert inbox.messages[1]["Subject"] == "schoolgate: the social media policy's review is due (23/09/2026)"
    assert "due for review today (23/09/2026)" in body(inbox.messages[1])
    assert send_review_reminders(school, settings, URL, today=date(2026, 9, 24)).sent == []
    assert len(inbox.messages) == 2
    with school.session(read_only=True) as session:
        kinds = session.execute(select(ReviewReminder.next_review_on, ReviewReminder.kind)
                                .order_by(ReviewReminder.id)).all()
        audited = session.scalars(select(AuditEntry.action).where(AuditEntry.action == "policy_review.reminder")).all()
    assert [tuple(k) for k in kinds] == [("2026-09-23", "thirty_days"), ("2026-09-23", "due")]
    assert len(audited) == 2


def test_a_scheduler_down_on_the_day_sends_the_missed_reminder_next_time(
        school: Database, smtp: tuple[Inbox, MailSettings]) -> None:
    inbox, settings = smtp
    set_date(school, REVIEW)
    # down from 20 August to 10 September: the 30-day reminder is still due (the date is ahead)
    assert send_review_reminders(school, settings, URL, today=date(2026, 9, 10)).sent == ["thirty_days"]
    # down on the day itself: the next run, two days late, sends the "due" one (overdue)
    assert send_review_reminders(school, settings, URL, today=date(2026, 9, 25)).sent == ["due"]
    assert "overdue" in body(inbox.messages[1]) and "(2 days ago)" in body(inbox.messages[1])


def test_after_the_date_only_the_due_reminder_goes_never_the_thirty_day_one(
        school: Database, smtp: tuple[Inbox, MailSettings]) -> None:
    inbox, settings = smtp
    set_date(school, REVIEW)  # recorded today, 27/11/26: long overdue
    assert send_review_reminders(school, settings, URL, today=date(2026, 11, 27)).sent == ["due"]
    assert send_review_reminders(school, settings, URL, today=date(2026, 11, 28)).sent == []
    assert [m["Subject"] for m in inbox.messages] == [
        "schoolgate: the social media policy's review is due (23/09/2026)"]


def test_a_new_review_date_has_its_own_reminders(school: Database, smtp: tuple[Inbox, MailSettings]) -> None:
    inbox, settings = smtp
    set_date(school, REVIEW)
    send_review_reminders(school, settings, URL, today=REVIEW)
    set_date(school, date(2027, 9, 23))
    assert send_review_reminders(school, settings, URL, today=date(2026, 9, 24)).sent == []
    assert send_review_reminders(school, settings, URL, today=date(2027, 8, 24)).sent == ["thirty_days"]
    assert len(inbox.messages) == 2


def test_a_mail_that_fails_is_not_recorded_and_goes_at_the_next_run(
        school: Database, smtp: tuple[Inbox, MailSettings]) -> None:
    inbox, settings = smtp
    set_date(school, REVIEW)
    down = MailSettings("127.0.0.1", free_port(), "filter@school.test", (), SmtpTls.NONE)  # nothing listens
    assert send_review_reminders(school, down, URL, today=REVIEW).sent == []
    with school.session(read_only=True) as session:
        assert session.scalars(select(ReviewReminder)).all() == []
    assert send_review_reminders(school, settings, URL, today=REVIEW).sent == ["due"]
    assert len(inbox.messages) == 1


def test_each_school_of_a_trust_is_reminded_of_its_own_date_by_mail_to_its_own_headteachers(
        school: Database, smtp: tuple[Inbox, MailSettings]) -> None:
    """Two schools in one database: the second school's date and headteacher are its own; the default school's
    headteachers never hear of it, and its reminders are recorded apart (the same date in both schools is two)."""
    inbox, settings = smtp
    with school.session() as session:
        north = ensure_site(session, "north")
    with school.session() as session:
        create_user(session, email="nia.head@north.test", name="Nia Head", roles=["headteacher"], password=None,
                    actor="test", site_ids=(north,))
        review.record(session, "nia.head@north.test", review.ReviewInput(REVIEW), today=date(2026, 1, 1),
                      site_id=north)
    result = send_review_reminders(school, settings, URL, today=date(2026, 8, 24))
    assert result.sent == ["thirty_days"] and result.to == ["nia.head@north.test"]  # the default school has no date
    [only] = inbox.messages
    assert only["To"] == "nia.head@north.test"
    set_date(school, REVIEW)  # now the default school has the same date
    result = send_review_reminders(school, settings, URL, today=date(2026, 8, 25))
    assert result.to == ["ann.head@school.test", "hal.head@school.test"]
    assert inbox.messages[1]["To"] == "ann.head@school.test, hal.head@school.test"
    with school.session(read_only=True) as session:
        rows = session.execute(select(ReviewReminder.site_id, ReviewReminder.kind)).all()
    assert sorted(tuple(r) for r in rows) == sorted([(north, "thirty_days"), (1, "thirty_days")])
