"""The nightly self-test: locked and social-media categories blocked for every group, recorded."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import delete, insert, select

from rules.jobs.report import MailSettings, build_report, weekly_report
from rules.jobs.selftest import run_self_test
from rules.lists.importer import import_list
from rules.localtime import LONDON
from rules.store.db import Database
from rules.store.models import AccessEvent, AuditEntry, Category, ListEntry, Rule


def recorded(db: Database) -> list[tuple[str, str, dict[str, object]]]:
    with db.session(read_only=True) as session:
        return [(a.actor, a.action, json.loads(a.after or "{}"))
                for a in session.scalars(select(AuditEntry).where(AuditEntry.actor == "self-test"))]


def test_self_test_passes_on_a_fresh_install(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "iwf.txt"
    path.write_text("abuse-one.example\nabuse-two.example\n")
    import_list(db, path, "iwf", locked=True)
    result = run_self_test(db)
    assert result.passed, result.failures
    assert result.categories == ["iwf", "social_media"] and result.groups == ["guests", "pupils", "staff"]
    assert result.checked == 3 * (2 + 5)
    [(actor, action, details)] = recorded(db)
    assert (actor, action) == ("self-test", "self_test.pass") and details["checked"] == 21


def test_an_exception_that_opens_social_media_fails_the_self_test(db: Database) -> None:
    with db.session() as session:
        first = session.scalar(select(ListEntry.domain).join(Category).where(Category.name == "social_media")
                               .order_by(ListEntry.id).limit(1))
        assert first is not None
        session.add(Rule(action="allow", domain=first, scope="everyone", reason="marketing"))
    result = run_self_test(db)
    assert not result.passed
    assert len(result.failures) == 3 and all(f.startswith(f"{first} (social_media) is allowed for group")
                                             for f in result.failures)
    [(_, action, details)] = recorded(db)
    assert action == "self_test.fail" and details["failures"] == result.failures


def test_an_empty_locked_category_fails(sqlite_db: Database) -> None:
    with sqlite_db.session() as session:
        session.add(Category(name="iwf", locked=True))
    result = run_self_test(sqlite_db)
    assert result.failures == ["category iwf has no entries: it blocks nothing"]


def test_weekly_report_written_and_counts(sqlite_db: Database, tmp_path: Path) -> None:
    now = datetime.now(UTC) + timedelta(minutes=1)  # the self-test below is recorded at the real time
    with sqlite_db.session() as session:
        session.execute(delete(AccessEvent))
        session.execute(insert(AccessEvent), [
            {"ts": now - timedelta(days=1), "client_ip": "198.18.1.10", "source": "dns", "host": "facebook.com",
             "action": "block", "category": "social_media"},
            {"ts": now - timedelta(days=2), "client_ip": "198.18.1.10", "source": "dns", "host": "tiktok.com",
             "action": "block", "category": "social_media", "signal": "dns_bypass"},
            {"ts": now - timedelta(days=3), "client_ip": "198.18.1.11", "source": "proxy", "host": "bbc.co.uk",
             "action": "allow"},
            {"ts": now - timedelta(days=9), "client_ip": "198.18.1.11", "source": "dns", "host": "old.example",
             "action": "block", "category": "old"},
        ])
    run_self_test(sqlite_db)
    text = build_report(sqlite_db, now).text()
    assert "3 requests recorded, 2 blocked" in text
    assert "social_media: 2" in text and "facebook.com: 1" in text and "dns_bypass: 1" in text
    assert "old.example" not in text
    paths = weekly_report(sqlite_db, tmp_path, MailSettings(), now)
    day = now.astimezone(LONDON).strftime("%Y-%m-%d")
    assert [p.name for p in paths] == [f"weekly-{day}.txt", f"weekly-{day}.html"]
    assert "1 passed, 0 failed" in paths[0].read_text()
    assert paths[1].read_text().startswith("<!doctype html>")


def test_weekly_report_is_emailed_when_smtp_is_configured(sqlite_db: Database, tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list[EmailMessage] = []

    class Collect(Message):
        def handle_message(self, message: EmailMessage) -> None:  # type: ignore[override]
            received.append(message)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Collect(message_class=EmailMessage), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mail = MailSettings("127.0.0.1", port, "schoolgate@school.example", ("head@school.example",
                                                                            "dsl@school.example"))
        weekly_report(sqlite_db, tmp_path, mail)
    finally:
        controller.stop()
    [message] = received
    assert message["To"] == "head@school.example, dsl@school.example"
    assert str(message["Subject"]).startswith("schoolgate weekly report")
    assert "Nightly self-test" in message.as_string()
