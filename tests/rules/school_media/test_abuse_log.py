"""The abuse log's service on SQLite and PostgreSQL: what an entry needs, follow-ups due first, done once, audited."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from rules.school_media import abuse_log as log
from rules.school_media.screenshots import check_image
from rules.store.db import Database
from rules.store.models import AbuseLogEntry, AbuseScreenshot, AuditEntry, SocialAccount
from tests.rules.school_media.images import PNG

TODAY = date(2026, 11, 27)
HEAD = "ann.head@school.test"


def entry(**changes: object) -> log.EntryInput:
    values: dict[str, object] = {"occurred_on": date(2026, 11, 20), "platform": "facebook",
                                 "account_text": "St Mary's Parents (a group we do not run)",
                                 "posted_text": "The head should be sacked", "posted_by_kind": "parent",
                                 "posted_by_name": "A Parent", "actions": ("reported", "meeting")}
    values.update(changes)
    return log.EntryInput(**values)  # type: ignore[arg-type]


def actions(db: Database) -> list[tuple[str, str]]:
    with db.session(read_only=True) as session:
        found = session.scalars(select(AuditEntry).where(AuditEntry.action.like("abuse.%")).order_by(AuditEntry.id))
        return [(a.action, a.target) for a in found]


@pytest.mark.parametrize(("changes", "words"), [
    ({"occurred_on": date(2026, 11, 28)}, "28/11/2026 is in the future"),
    ({"platform": "myspace"}, "the platform must be one of"),
    ({"account_text": "  "}, "say which account or page"),
    ({"account_id": 999}, "choose one of the school's accounts"),
    ({"posted_text": "", "link": ""}, "record what was posted"),
    ({"link": "javascript:alert(1)"}, "the link: .* must start with http"),
    ({"posted_by_kind": "alien"}, "say who posted it"),
    ({"actions": ("removed", "ignored")}, "unknown action 'ignored'"),
    ({"posted_by_name": "x" * 129}, "the name is longer than 128"),
    ({"posted_text": "x" * 10_001}, "the text is longer than 10000"),
])
def test_an_entry_that_cannot_be_saved_says_why_and_stores_nothing(db: Database, changes: dict[str, object],
                                                                   words: str) -> None:
    with pytest.raises(log.AbuseLogError, match=words), db.session() as session:
        log.create_entry(session, HEAD, entry(**changes), today=TODAY)
    with db.session(read_only=True) as session:
        assert session.scalars(select(AbuseLogEntry)).all() == []
    assert actions(db) == []


def test_a_school_account_gives_the_platform_and_a_screenshot_alone_is_enough(db: Database) -> None:
    with db.session() as session:
        account = SocialAccount(name="St Mary's Instagram", platform="instagram", created_by=HEAD)
        session.add(account)
        session.flush()
        saved = log.create_entry(session, HEAD, entry(account_id=account.id, platform="other", account_text="",
                                                      posted_text="", actions=("meeting", "removed", "removed")),
                                 today=TODAY, screenshot=check_image(PNG))
        assert saved.platform == "instagram" and saved.account_text == ""
        assert json.loads(saved.actions) == ["removed", "meeting"]  # the form's order, once each
        [shot] = session.scalars(select(AbuseScreenshot)).all()
        assert shot.data == PNG and shot.content_type == "image/png"
        entry_id = saved.id
    assert actions(db) == [("abuse.create", f"abuse log entry #{entry_id}"),
                           ("abuse.screenshot", f"abuse log entry #{entry_id}")]
    with db.session(read_only=True) as session:
        audited = session.scalar(select(AuditEntry.after).where(AuditEntry.action == "abuse.screenshot"))
    assert audited is not None and "sha256" in audited and "iVBOR" not in audited  # never the bytes


def test_the_policy_words_apply_to_a_parent_asked_to_a_meeting_only(db: Database) -> None:
    with db.session() as session:
        parent = log.create_entry(session, HEAD, entry(), today=TODAY)
        public = log.create_entry(session, HEAD, entry(posted_by_kind="public"), today=TODAY)
        removed = log.create_entry(session, HEAD, entry(actions=("removed",)), today=TODAY)
        assert log.shows_parent_meeting_words(parent)
        assert not log.shows_parent_meeting_words(public) and not log.shows_parent_meeting_words(removed)
    assert "required to attend a meeting with the headteacher, and may have their ability to interact with the " \
           "social media websites removed" in log.PARENT_MEETING_WORDS


def test_edit_keeps_what_it_was_in_the_audit_and_a_bad_edit_changes_nothing(db: Database) -> None:
    with db.session() as session:
        entry_id = log.create_entry(session, HEAD, entry(), today=TODAY).id
    with db.session() as session:
        log.update_entry(session, entry_id, HEAD, entry(posted_text="Edited text", actions=("police",)), today=TODAY)
    with pytest.raises(log.AbuseLogError), db.session() as session:
        log.update_entry(session, entry_id, HEAD, entry(occurred_on=date(2027, 1, 1)), today=TODAY)
    with db.session(read_only=True) as session:
        saved = session.get(AbuseLogEntry, entry_id)
        assert saved is not None and saved.posted_text == "Edited text" and saved.actions == '["police"]'
        edit = session.scalar(select(AuditEntry).where(AuditEntry.action == "abuse.edit"))
        assert edit is not None and "The head should be sacked" in (edit.before or "")
        assert "Edited text" in (edit.after or "")


def test_follow_ups_due_come_first_and_are_marked_done_once(db: Database) -> None:
    with db.session() as session:
        old = log.create_entry(session, HEAD, entry(occurred_on=date(2026, 10, 1)), today=TODAY).id
        new = log.create_entry(session, HEAD, entry(occurred_on=date(2026, 11, 25)), today=TODAY).id
        later = log.create_entry(session, HEAD, entry(occurred_on=date(2026, 11, 1)), today=TODAY).id
        log.add_follow_up(session, old, HEAD, date(2026, 11, 27), "ring the parent")
        second = log.add_follow_up(session, old, HEAD, date(2026, 12, 5), "check it is gone").id
        log.add_follow_up(session, later, HEAD, date(2026, 12, 1), "meeting")
    with db.session(read_only=True) as session:
        listed = log.list_entries(session, TODAY)
        assert [(i.entry.id, i.due) for i in listed] == [(old, True), (new, False), (later, False)]
        assert log.follow_ups_due(session, TODAY) == 1
        assert log.follow_ups_due(session, date(2026, 12, 5)) == 3
    with db.session() as session:
        first = log.follow_ups_of(session, old)[0].id
        log.mark_done(session, first, HEAD)
    with pytest.raises(log.AbuseLogError, match="already marked done"), db.session() as session:
        log.mark_done(session, first, "hal.head@school.test")
    with db.session(read_only=True) as session:
        assert log.follow_ups_due(session, TODAY) == 0
        assert [i.entry.id for i in log.list_entries(session, TODAY)] == [new, later, old]
        assert [f.id for f in log.follow_ups_of(session, old) if f.done_at is None] == [second]
    assert [a for a, _ in actions(db)].count("abuse.follow_up") == 3
    assert [a for a, _ in actions(db)].count("abuse.follow_up_done") == 1
