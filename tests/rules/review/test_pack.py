"""The annual review pack's contents: the counts, and no child named anywhere in its text (SQLite and PostgreSQL)."""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, fields, is_dataclass
from datetime import date, datetime

import pytest
from sqlalchemy import select

from rules.localtime import LONDON
from rules.review import policy_review
from rules.review.pack import Period, build_pack, default_period
from rules.review.redact import Redactor
from rules.store.db import Database
from rules.store.models import AuditEntry
from tests.rules.review.school import CHILDREN, EXPECTED, STAFF_NAME, populate

TODAY = datetime.now(LONDON).date()


def texts(value: object) -> list[str]:
    """Every string anywhere in the pack."""
    if isinstance(value, str):
        return [value]
    if is_dataclass(value) and not isinstance(value, type):
        return [t for f in fields(value) for t in texts(getattr(value, f.name))]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in texts(k) + texts(v)]
    if isinstance(value, list | tuple):
        return [t for item in value for t in texts(item)]
    return []


def test_no_child_is_named_and_the_counts_are_there(db: Database) -> None:
    populate(db)
    with db.session() as session:
        pack = build_pack(session, "ann.head@school.test", default_period(session, TODAY), TODAY)
    everything = "\n".join(texts(pack)).casefold()
    for name in CHILDREN:
        for part in [name, *name.split()]:
            assert part.casefold() not in everything, part
    assert "[pupil]" in everything and STAFF_NAME.casefold() in everything  # staff stay named
    assert [(c.class_name, c.on_roll, c.images, c.videos, c.nothing) for c in pack.consent] == EXPECTED["consent"]
    assert pack.consent_year == "2026/27"
    assert pack.rules_total == EXPECTED["rules"] and pack.exceptions.count == EXPECTED["exceptions"]
    assert pack.exceptions.longest_days == EXPECTED["longest_days"] and pack.exceptions.by_scope["everyone"] == 1
    assert [r.status for r in pack.requests] == ["approved"] and len(pack.reports) == EXPECTED["reports"]
    assert pack.reports[0].addresses == 2
    assert (pack.bans.made, pack.bans.lifted, pack.bans.false_positives) == (
        EXPECTED["bans_made"], EXPECTED["bans_lifted"], EXPECTED["false_positives"])
    assert (pack.self_tests.passed, pack.self_tests.failed) == (EXPECTED["self_test_passed"],
                                                                EXPECTED["self_test_failed"])
    assert pack.self_tests.last_passed is True and len(pack.self_tests.failures) == 1
    assert {label: n for label, n, _ in pack.concerns if n} == EXPECTED["concerns"]
    assert len(pack.concerns) == 7  # every category, with its zero
    [account] = pack.accounts
    assert (account.posters, (account.submitted, account.approved, account.refused)) == (EXPECTED["posters"],
                                                                                         EXPECTED["posts"])
    social = next(c for c in pack.categories if c.name == "social_media")
    assert social.entries > 0 and social.blocked_for == "everyone"
    with db.session(read_only=True) as session:
        viewed = session.scalars(select(AuditEntry).where(AuditEntry.action == "review_pack.view")).all()
    assert len(viewed) == 1 and viewed[0].actor == "ann.head@school.test"
    assert asdict(pack.period) == {"start": default_period_start(), "end": TODAY}


def default_period_start() -> date:
    return TODAY.replace(year=TODAY.year - 1) + (date(2026, 1, 2) - date(2026, 1, 1))


def test_the_period_starts_after_the_last_recorded_review_and_limits_the_counts(db: Database) -> None:
    populate(db)
    with db.session() as session:
        policy_review.record(session, "ann.head@school.test",
                             policy_review.ReviewInput(date(2027, 9, 23), date(2026, 9, 23)), today=TODAY)
    with db.session() as session:
        period = default_period(session, TODAY)
        assert period == Period(date(2026, 9, 24), TODAY)
        empty = build_pack(session, "ann.head@school.test", Period(date(2025, 1, 1), date(2025, 12, 31)), TODAY)
    assert empty.rules_total == 0 and empty.bans.made == 0 and empty.self_tests.passed == 0
    assert sum(n for _, n, _ in empty.concerns) == 0


def test_redaction_whole_words_and_written_parts_only() -> None:
    redact = Redactor(["Sam Pupil", "May Day", "Al"])
    assert redact.text("Opened for SAM PUPIL and Sam's class") == "Opened for [pupil] and [pupil]'s class"
    assert redact.text("in may, Samuel and Alan") == "in may, Samuel and Alan"  # not a name as written, not a word
    assert redact.text("May asked; al.example.com stays") == "[pupil] asked; al.example.com stays"
    assert redact.text(None) == ""
    names = Redactor(["Siobhan O'Brien", "Maya Okonkwo-Smith", "Zoë Ng"])
    assert names.text("O'Brien and Okonkwo-Smith met ZOË NG; Okonkwo stays") == \
        "[pupil] and [pupil] met [pupil]; Okonkwo stays"


@pytest.mark.parametrize(("text", "expected"), [
    ("Opened for Siobhan O\u2019Brien's class", "Opened for [pupil]'s class"),  # a curly apostrophe, as phones type
    ("O\u2019BRIEN asked", "[pupil] asked"),
    ("SMITH, Tom (4B)", "[pupil], [pupil] (4B)"),  # the register's way: surname in capitals
    ("tom  smith asked for it", "[pupil] asked for it"),  # two spaces, no capitals
    ("Tom\u00a0Smith\u2019s iPad", "[pupil]'s iPad"),
    ("for Zoe Ng and ZOE", "for [pupil] and [pupil]"),  # without the accent
    ("Chlo\u00e9 asked", "[pupil] asked"),  # composed in the text, decomposed in the MIS's file
    ("Maya Okonkwo Smith's project", "[pupil]'s project"),  # a double-barrelled name with a space
    ("To\u200bm Smith", "[pupil]"),  # a zero-width space inside the name
    ("in may, Samuel and Alan", "in may, Samuel and Alan"),  # still not a name as written
])
def test_redaction_finds_names_as_staff_write_them(text: str, expected: str) -> None:
    redact = Redactor(["Siobhan O'Brien", "Tom Smith", "Maya Okonkwo-Smith", "Zoë Ng",
                       unicodedata.normalize("NFD", "Chloé Martin"), "May Day", "Al"])
    assert redact.text(text) == expected


def test_an_approval_that_opened_a_whole_service_counts_once(db: Database) -> None:
    from datetime import timedelta

    from rules.policy.families import FAMILIES
    from rules.store.models import Rule, utcnow

    now = utcnow()
    with db.session() as session:
        for domain in FAMILIES["tiktok"].domains:  # as an approval of "the whole service" writes them
            session.add(Rule(action="allow", domain=domain, scope="device", device_id=None, source="request",
                             reason="access request #7: the drama club's account", created_by="ann.head@school.test",
                             expires_at=now + timedelta(days=30)))
        session.add(Rule(action="allow", domain="scratch.mit.edu", scope="everyone", source="request",
                         reason="access request #8", created_by="ann.head@school.test",
                         expires_at=now + timedelta(days=3)))
    with db.session() as session:
        pack = build_pack(session, "ann.head@school.test", default_period(session, TODAY), TODAY)
    assert pack.rules_total == 2 and pack.rules[0].domains == len(FAMILIES["tiktok"].domains)
    assert pack.rules[0].target == f"tiktok.com and {len(FAMILIES['tiktok'].domains) - 1} more domains"
    assert pack.rules[0].scope == "one device"
    assert (pack.exceptions.count, pack.exceptions.domains) == (2, len(FAMILIES["tiktok"].domains) + 1)
    assert pack.exceptions.by_scope == {"everyone": 1, "group": 0, "device": 1}
    assert pack.exceptions.longest is not None and pack.exceptions.longest_days == 30
