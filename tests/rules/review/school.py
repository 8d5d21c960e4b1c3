"""A school year's records for the review pack, with pupils named wherever staff might have typed them.

Every pupil's name (the consent record's, a pupils' device's person, a ban's, a concern's) is written into the
free text the pack shows (a rule's reason, a headteacher's reasons for a request) as well as where it must never
be shown (a content report's individual, a concern's matched text). Tom Teacher is staff and stays named.
The counts the pack must show are in `EXPECTED`.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from rules.store.audit import audit
from rules.store.db import Database
from rules.store.models import (
    AccessRequest,
    Ban,
    Concern,
    ConsentRecord,
    ContentReport,
    Device,
    Group,
    Pupil,
    Rule,
    SocialAccount,
    SocialAccountMember,
    SocialPost,
    User,
    utcnow,
)
from rules.workflows.accounts import create_user

PUPILS = {  # name: (class, on roll)
    "Zara Quinton": ("4B", True), "Oliver Brightwater": ("4B", True), "Maya Okonkwo-Smith": ("5A", True),
    "Leo Fairweather": ("5A", True), "Ivy Thistlewood": ("6C", False),
}
DEVICE_PERSON = "Noah Pebblestone"  # known only as a pupils' device's person (and his ban's)
BAN_PERSON = "Ruby Ashgrove"  # known only from a ban
STAFF_NAME = "Tom Teacher"
CHILDREN = [*PUPILS, DEVICE_PERSON, BAN_PERSON]
EXPECTED = {
    "consent": [("4B", 2, 2, 1, 0), ("5A", 2, 0, 0, 1)],
    "rules": 2, "exceptions": 1, "longest_days": 14, "requests_approved": 1, "reports": 1,
    "bans_made": 2, "bans_lifted": 1, "false_positives": 1, "self_test_passed": 3, "self_test_failed": 1,
    "concerns": {"Bullying and abuse": 1, "Suicide and self-harm": 1}, "posters": 2, "posts": (3, 1, 1),
}


def _consent(pupil: Pupil, images: bool, videos: bool, change: str, on: str) -> ConsentRecord:
    return ConsentRecord(pupil_id=pupil.id, academic_year=2026, images=images, videos=videos, change=change,
                         given_by="Mrs Parent", effective_on=on, recorded_by="olive.office@school.test")


def populate(db: Database) -> None:
    """Write the year's records (the consent record as on 27/11/2026)."""
    now = utcnow()
    with db.session() as session:
        staff = []
        for email, name in (("tom.teacher@school.test", STAFF_NAME), ("pat.poster@school.test", "Pat Poster")):
            found = session.scalar(select(User).where(User.email == email))
            staff.append(found or create_user(session, email=email, name=name, roles=["staff"], password=None,
                                              actor="test"))
        pupils = {name: Pupil(mis_id=f"UPN{i}", name=name, class_name=cls, year_group=f"Year {cls[0]}", on_roll=on)
                  for i, (name, (cls, on)) in enumerate(PUPILS.items())}
        session.add_all(pupils.values())
        session.flush()
        session.add_all([
            _consent(pupils["Zara Quinton"], True, True, "given", "2026-09-05"),
            _consent(pupils["Oliver Brightwater"], True, False, "given", "2026-09-05"),
            _consent(pupils["Maya Okonkwo-Smith"], True, True, "given", "2026-09-05"),
            _consent(pupils["Maya Okonkwo-Smith"], False, False, "withdrawn", "2026-11-01"),
            _consent(pupils["Ivy Thistlewood"], True, True, "given", "2026-09-05"),  # off roll: not counted
        ])
        group_ids = {g.name: g.id for g in session.scalars(select(Group))}
        device = Device(name=f"{DEVICE_PERSON}'s iPad", person=DEVICE_PERSON, group_id=group_ids["pupils"])
        teacher_laptop = Device(name="Tom's laptop", person=STAFF_NAME, group_id=group_ids["staff"])
        session.add_all([device, teacher_laptop])
        session.flush()
        session.add_all([
            Ban(device_id=device.id, person=DEVICE_PERSON, reason=f"VPN use by {DEVICE_PERSON}", state="confirmed"),
            Ban(device_id=None, person=BAN_PERSON, reason="proxy site", state="lifted", lifted_at=now,
                lifted_by="ann.head@school.test", lift_reason=f"{BAN_PERSON} was set it as homework",
                false_positive=True),
            Rule(action="allow", domain="scratch.mit.edu", scope="everyone", source="request",
                 expires_at=now + timedelta(days=14), created_by="ann.head@school.test",
                 reason="access request #1: for Zara Quinton's coding club; Zara asked, and Maya Okonkwo-Smith "
                        f"joins; {STAFF_NAME} supervises"),
            Rule(action="block", domain="badgames.example", scope="group", group_id=group_ids["pupils"],
                 source="report", created_by="ian.tech@school.test",
                 reason=f"Oliver Brightwater was shown it by {BAN_PERSON}; IVY THISTLEWOOD too; noah pebblestone"),
            AccessRequest(requester_id=staff[0].id, requester_name=STAFF_NAME, full_url="https://scratch.mit.edu/",
                          host="scratch.mit.edu", site_content="coding", reasons_for_access="Leo Fairweather's club",
                          risks_and_controls="supervised", status="approved", decided_at=now, scope="everyone",
                          decision_reasons="Approved so Leo Fairweather and Oliver can finish the project"),
            ContentReport(reporter_id=staff[0].id, reporter_name=STAFF_NAME, individual="Leo Fairweather",
                          incident_date="2026-11-20", full_urls="https://badgames.example/\nhttps://bad.example/",
                          nature="Leo Fairweather was playing it"),
            Concern(person="Ivy Thistlewood", device_name=device.name, category="bullying_abuse", severity="medium",
                    source="manual", matched="Ivy Thistlewood is a loser", why="abuse"),
            Concern(person="Zara Quinton", category="suicide_self_harm", severity="high", source="search",
                    matched="how to hurt myself", why="self-harm", state="record_made"),
        ])
        account = SocialAccount(name="St Mary's Facebook", platform="facebook", created_by="ann.head@school.test")
        session.add(account)
        session.flush()
        session.add_all([SocialAccountMember(account_id=account.id, user_id=u.id, role="poster") for u in staff])
        session.add(SocialAccountMember(account_id=account.id, user_id=staff[0].id, role="administrator"))
        for status in ("approved", "refused", "submitted"):
            session.add(SocialPost(account_id=account.id, author_id=staff[1].id, author_name="Pat Poster",
                                   text=f"Well done Zara Quinton ({status})", status=status))
        for action in ("self_test.pass", "self_test.pass", "self_test.fail", "self_test.pass"):
            audit(session, "self-test", action, "policy", after={"checked": 15})


def first_day_of_period(today: date) -> date:
    return today.replace(year=today.year - 1) + timedelta(days=1)
