"""Sending email over SMTP, the one way schoolgate does it (ban notices, the weekly report).

Monitoring and jobs both send mail; keeping the settings and the SMTP session here means neither
depends on the other, and a change to how mail goes out (TLS, timeouts) is made once.

Ban notices and reports name pupils, so TLS is the default and is never taken on trust: STARTTLS and
TLS from the start both use `ssl.create_default_context()`, which checks the server's certificate
against the system's CAs (or SSL_CERT_FILE) and its name against `[smtp] host`. A server that cannot
prove who it is, or that offers no STARTTLS when asked, gets nothing: the message is not sent in clear.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from enum import StrEnum

TIMEOUT = 30
log = logging.getLogger(__name__)


class SmtpTls(StrEnum):
    """How the connection to the mail server is protected ([smtp] tls)."""

    STARTTLS = "starttls"  # plain connect, then upgrade before anything is sent (ports 25, 587)
    TLS = "tls"  # TLS from the first byte (port 465)
    NONE = "none"  # no TLS: only for a relay on the same machine


class MailError(Exception):
    """The message was not sent; the text says why in words for the ICT technician."""


@dataclass(frozen=True)
class MailSettings:
    """The [smtp] settings; an empty host means mail is off (reports are only written to disk)."""

    host: str = ""
    port: int = 25
    sender: str = ""
    to: tuple[str, ...] = ()
    tls: SmtpTls = SmtpTls.STARTTLS

    @property
    def enabled(self) -> bool:
        """True when there is a server and someone to send to by default."""
        return bool(self.host and self.to)

    @property
    def from_address(self) -> str:
        """The sender, or a name at the SMTP host so that the message always has a From."""
        return self.sender or f"schoolgate@{self.host}"


def send(settings: MailSettings, message: EmailMessage) -> None:
    """Deliver `message` through the configured server over verified TLS (unless `tls` is none); MailError,
    also logged, when it was not sent."""
    server = f"{settings.host}:{settings.port}"
    try:
        _deliver(settings, message)
    except ssl.SSLCertVerificationError as exc:
        why = (f"the mail server {server} did not prove who it is ({exc.verify_message}): its certificate is "
               f"not trusted or not for {settings.host!r}; nothing was sent (smtp.tls = {settings.tls.value!r})")
    except smtplib.SMTPNotSupportedError:
        why = (f"the mail server {server} does not offer STARTTLS; nothing was sent in clear (set smtp.tls to "
               "\"tls\" for a server that speaks TLS from the start, usually port 465)")
    except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        why = f"could not send mail through {server}: {exc}"
    else:
        return
    log.error("%s", why)
    raise MailError(why)


def _deliver(settings: MailSettings, message: EmailMessage) -> None:
    context = ssl.create_default_context()  # certificate and host name verified
    smtp: smtplib.SMTP
    if settings.tls == SmtpTls.TLS:
        smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=TIMEOUT, context=context)
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT)
    with smtp:
        if settings.tls == SmtpTls.STARTTLS:
            smtp.starttls(context=context)
        smtp.send_message(message)
