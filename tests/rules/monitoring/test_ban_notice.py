"""The headteacher hears of a new ban at once: an email through a real SMTP server the test starts."""

from __future__ import annotations

import socket
import time
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler

from rules.devices.registry import register_device
from rules.mail import MailSettings, SmtpTls
from rules.monitoring.ban_notice import send_ban_notice
from rules.store.db import Database
from rules.store.models import Ban
from rules.workflows.accounts import create_user


class Inbox(MessageHandler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[bytes] = []

    def handle_message(self, message) -> None:  # type: ignore[no-untyped-def, override]
        self.messages.append(message.as_bytes())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def inbox():  # type: ignore[no-untyped-def]
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


def make_ban(db: Database) -> int:
    with db.session() as session:
        create_user(session, email="head@school.example", name="Ann Head", roles=["headteacher"], password=None,
                    actor="t")
        create_user(session, email="teacher@school.example", name="Tom Teacher", roles=["staff"], password=None,
                    actor="t")
        device = register_device(session, ip="10.0.0.7", name="Class 3 iPad 07", group="pupils", person="Sam Pupil",
                                 actor="t").device
        ban = Ban(device_id=device.id, person="Sam Pupil", reason="Trying to get round the filter: 4 x VPN sites")
        session.add(ban)
        session.flush()
        return ban.id


def test_the_headteacher_is_emailed(sqlite_db: Database, inbox) -> None:  # type: ignore[no-untyped-def]
    handler, port = inbox
    ban_id = make_ban(sqlite_db)
    mail = MailSettings(host="127.0.0.1", port=port, sender="filter@school.example", tls=SmtpTls.NONE)
    assert send_ban_notice(sqlite_db, mail, "https://filter.school.example", ban_id)
    deadline = time.monotonic() + 5
    while not handler.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    message = message_from_bytes(handler.messages[0])
    assert message["To"] == "head@school.example"  # the headteacher only, not every member of staff
    assert "Class 3 iPad 07" in message["Subject"]
    body = message.get_payload()
    assert f"https://filter.school.example/bans/{ban_id}" in body and "4 x VPN sites" in body


def test_no_smtp_no_email(sqlite_db: Database) -> None:
    assert send_ban_notice(sqlite_db, MailSettings(), "https://127.0.0.1:8000", make_ban(sqlite_db)) is False


def test_a_ban_in_one_school_is_told_to_that_schools_headteacher_only(sqlite_db: Database,  # type: ignore[no-untyped-def]
                                                                      inbox) -> None:
    from rules.sites import DEFAULT_SITE_ID, ensure_site

    handler, port = inbox
    with sqlite_db.session() as session:
        south = ensure_site(session, "south")
    with sqlite_db.session() as session:
        create_user(session, email="head@north.example", name="Nia North", roles=["headteacher"], password=None,
                    actor="t", site_ids=(DEFAULT_SITE_ID,))
        create_user(session, email="head@south.example", name="Sol South", roles=["headteacher"], password=None,
                    actor="t", site_ids=(south,))
        ban = Ban(site_id=south, person="Kit Pupil", reason="Trying to get round the filter: 4 x VPN sites")
        session.add(ban)
        session.flush()
        ban_id = ban.id
    mail = MailSettings("127.0.0.1", port, "filter@trust.example", (), SmtpTls.NONE)
    assert send_ban_notice(sqlite_db, mail, "https://filter.trust.example", ban_id)
    [raw] = handler.messages
    assert message_from_bytes(raw)["To"] == "head@south.example"
