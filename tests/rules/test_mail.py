"""Mail to a real SMTP server (aiosmtpd) over STARTTLS and over TLS from the start, with a certificate from a
test CA: delivered when the CA is trusted (SSL_CERT_FILE, which ssl.create_default_context() reads), refused
with nothing sent and a clear error logged when the certificate is not trusted or not for the server's name,
and never sent in clear when the server offers no STARTTLS."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from rules.jobs.report import weekly_report
from rules.mail import MailError, MailSettings, SmtpTls, send
from rules.store.db import Database
from tests.certificates import TestCa
from tests.e2e.web_support import free_port


class Inbox(Message):
    """What the server accepted (after DATA), in order."""

    def __init__(self) -> None:
        super().__init__(message_class=EmailMessage)
        self.messages: list[EmailMessage] = []

    def handle_message(self, message: EmailMessage) -> None:  # type: ignore[override]
        self.messages.append(message)


@pytest.fixture
def trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestCa:
    """The CA this process trusts for mail (as an operator adds the school's mail CA to the system's store)."""
    ca = TestCa(tmp_path / "trusted")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.cert_path))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return ca


def server_context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)
    return context


def smtp_server(inbox: Inbox, mode: SmtpTls, cert: tuple[Path, Path] | None) -> Controller:
    """A started server on a free port: STARTTLS offered (and required), TLS from the start, or plain."""
    port = free_port()
    if mode == SmtpTls.STARTTLS and cert:
        return Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_context(cert),
                          require_starttls=True)
    if mode == SmtpTls.TLS and cert:
        return Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=server_context(cert))
    return Controller(inbox, hostname="127.0.0.1", port=port)


@pytest.fixture
def serve() -> Iterator[object]:
    started: list[Controller] = []

    def start(inbox: Inbox, mode: SmtpTls, cert: tuple[Path, Path] | None) -> Controller:
        controller = smtp_server(inbox, mode, cert)
        controller.start()
        started.append(controller)
        return controller

    yield start
    for controller in started:
        controller.stop()


def message(text: str = "Ban notice for Class 3 iPad 07") -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "filter@school.example", "head@school.example", text
    mail.set_content("Sam Pupil's device was banned.")
    return mail


@pytest.mark.parametrize("mode", [SmtpTls.STARTTLS, SmtpTls.TLS])
def test_mail_is_delivered_to_a_server_whose_certificate_is_trusted(trusted: TestCa, serve, mode: SmtpTls) -> None:  # type: ignore[no-untyped-def]
    inbox = Inbox()
    server = serve(inbox, mode, trusted.issue(["127.0.0.1"]))
    send(MailSettings("127.0.0.1", server.port, tls=mode), message())
    assert [m["Subject"] for m in inbox.messages] == ["Ban notice for Class 3 iPad 07"]


@pytest.mark.parametrize("mode", [SmtpTls.STARTTLS, SmtpTls.TLS])
def test_an_untrusted_certificate_gets_nothing(trusted: TestCa, serve, tmp_path: Path, mode: SmtpTls,  # type: ignore[no-untyped-def]
                                               caplog: pytest.LogCaptureFixture) -> None:
    inbox = Inbox()
    stranger = TestCa(tmp_path / "stranger", "someone else's CA")
    server = serve(inbox, mode, stranger.issue(["127.0.0.1"]))
    with caplog.at_level(logging.ERROR, logger="rules.mail"), pytest.raises(MailError) as refused:
        send(MailSettings("127.0.0.1", server.port, tls=mode), message())
    assert inbox.messages == []
    assert "did not prove who it is" in str(refused.value) and "nothing was sent" in str(refused.value)
    assert "certificate verify failed" in str(refused.value) or "unable to get local issuer" in str(refused.value)
    assert [r.getMessage() for r in caplog.records if r.name == "rules.mail"] == [str(refused.value)]


def test_a_trusted_certificate_for_another_name_gets_nothing(trusted: TestCa, serve) -> None:  # type: ignore[no-untyped-def]
    inbox = Inbox()
    server = serve(inbox, SmtpTls.STARTTLS, trusted.issue(["mail.elsewhere.example"]))
    with pytest.raises(MailError, match="did not prove who it is"):
        send(MailSettings("127.0.0.1", server.port, tls=SmtpTls.STARTTLS), message())
    assert inbox.messages == []


def test_a_server_without_starttls_is_never_sent_mail_in_clear(trusted: TestCa, serve) -> None:  # type: ignore[no-untyped-def]
    inbox = Inbox()
    server = serve(inbox, SmtpTls.NONE, None)  # would accept plain mail
    with pytest.raises(MailError, match="does not offer STARTTLS; nothing was sent in clear"):
        send(MailSettings("127.0.0.1", server.port, tls=SmtpTls.STARTTLS), message())
    assert inbox.messages == []
    send(MailSettings("127.0.0.1", server.port, tls=SmtpTls.NONE), message("plain, as configured"))
    assert [m["Subject"] for m in inbox.messages] == ["plain, as configured"]


def test_the_weekly_report_is_kept_on_disk_when_the_server_is_not_trusted(  # type: ignore[no-untyped-def]
        sqlite_db: Database, tmp_path: Path, trusted: TestCa, serve, caplog: pytest.LogCaptureFixture) -> None:
    inbox = Inbox()
    server = serve(inbox, SmtpTls.STARTTLS, TestCa(tmp_path / "stranger").issue(["127.0.0.1"]))
    mail = MailSettings("127.0.0.1", server.port, "filter@school.example", ("head@school.example",))
    with caplog.at_level(logging.INFO):
        paths = weekly_report(sqlite_db, tmp_path / "state", mail, datetime(2026, 11, 30, 7, tzinfo=UTC))
    assert all(path.is_file() for path in paths) and inbox.messages == []
    assert any(r.levelno == logging.ERROR and "did not prove who it is" in r.getMessage() for r in caplog.records)
    assert not any("emailed" in r.getMessage() for r in caplog.records)
