"""Sending email over SMTP, the one way schoolgate does it (ban notices, the weekly report).

Monitoring and jobs both send mail; keeping the settings and the SMTP session here means neither
depends on the other, and a change to how mail goes out (TLS, timeouts) is made once.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

TIMEOUT = 30


@dataclass(frozen=True)
class MailSettings:
    """The [smtp] settings; an empty host means mail is off (reports are only written to disk)."""

    host: str = ""
    port: int = 25
    sender: str = ""
    to: tuple[str, ...] = ()
    starttls: bool = False

    @property
    def enabled(self) -> bool:
        """True when there is a server and someone to send to by default."""
        return bool(self.host and self.to)

    @property
    def from_address(self) -> str:
        """The sender, or a name at the SMTP host so that the message always has a From."""
        return self.sender or f"schoolgate@{self.host}"


def send(settings: MailSettings, message: EmailMessage) -> None:
    """Deliver `message` through the configured server, upgrading to TLS first when asked to."""
    with smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT) as smtp:
        if settings.starttls:
            smtp.starttls()
        smtp.send_message(message)
