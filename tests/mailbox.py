"""A mailbox for a real local SMTP server (aiosmtpd) in tests: every message delivered, parsed, in order."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message

from aiosmtpd.handlers import Message as MessageHandler


class Inbox(MessageHandler):
    """The local SMTP server's mailbox: what a recipient would find, parsed as a mail client reads it."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Message] = []

    def handle_message(self, message) -> None:  # type: ignore[no-untyped-def, override]
        self.messages.append(message_from_bytes(message.as_bytes()))
