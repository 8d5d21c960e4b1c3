"""The weekly report for the headteacher and the DSL: written to the state folder, emailed when SMTP is set."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import delete, insert

from rules.jobs.report import build_report, weekly_report
from rules.jobs.selftest import run_self_test
from rules.localtime import LONDON
from rules.mail import MailSettings, SmtpTls
from rules.store.db import Database
from rules.store.models import AccessEvent


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
                                                                            "dsl@school.example"), SmtpTls.NONE)
        weekly_report(sqlite_db, tmp_path, mail)
    finally:
        controller.stop()
    [message] = received
    assert message["To"] == "head@school.example, dsl@school.example"
    assert str(message["Subject"]).startswith("schoolgate weekly report")
    assert "Nightly self-test" in message.as_string()


def test_automatic_lookups_are_not_counted_as_blocked_attempts(sqlite_db: Database) -> None:
    """A quiet class of iPads asks Firefox's canary and Apple's captive check all day: the report counts those
    apart, so "Most blocked sites" shows what people tried."""
    now = datetime.now(UTC)
    rows = [{"ts": now - timedelta(hours=n + 1), "client_ip": "198.18.1.20", "source": "dns",
             "host": "use-application-dns.net", "action": "block", "reason": "hardening"} for n in range(5)]
    rows += [{"ts": now - timedelta(hours=2), "client_ip": "198.18.1.20", "source": "proxy",
              "host": "captive.apple.com", "url": "http://captive.apple.com/hotspot-detect.html", "action": "block"},
             {"ts": now - timedelta(hours=3), "client_ip": "198.18.1.21", "source": "dns", "host": "tiktok.com",
              "action": "block", "category": "social_media"}]
    with sqlite_db.session() as session:
        session.execute(delete(AccessEvent))
        session.execute(insert(AccessEvent), rows)
    text = build_report(sqlite_db, now).text()
    assert "7 requests recorded, 1 blocked" in text
    assert "6 automatic lookups by devices" in text
    assert "tiktok.com: 1" in text
    assert "use-application-dns.net" not in text and "captive.apple.com" not in text
