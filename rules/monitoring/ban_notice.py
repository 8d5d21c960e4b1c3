"""Tell the headteacher about a new ban at once, by email when SMTP is configured.

The message says as little about the child as the headteacher needs to act: the device, the person
it is assigned to, when, why in one line, and a link to the ban's page where the evidence is (the
page is behind sign-in and every view of it is audited).
"""

from __future__ import annotations

import logging
from email.message import EmailMessage

from sqlalchemy import select

from rules.localtime import LONDON
from rules.mail import MailError, MailSettings, send
from rules.site_members import members_of
from rules.store.db import Database
from rules.store.models import Ban, User

log = logging.getLogger(__name__)


def headteacher_addresses(db: Database, site_id: int | None = None) -> list[str]:
    """The active headteachers' addresses (of the school `site_id`, when given)."""
    with db.session(read_only=True) as session:
        query = select(User).where(User.active.is_(True))
        if site_id is not None:
            query = query.where(members_of(site_id))
        return [u.email for u in session.scalars(query) if "headteacher" in u.roles.split(",")]


def compose(ban: Ban, device_name: str, public_url: str, sender: str, to: list[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"schoolgate: new ban on {device_name} - please review"
    message["From"] = sender
    message["To"] = ", ".join(to)
    when = ban.created_at.astimezone(LONDON).strftime("%d %b %Y %H:%M")
    person = f" (assigned to {ban.person})" if ban.person else ""
    message.set_content(
        f"schoolgate banned the device {device_name}{person} at {when}.\n\n"
        f"Why: {ban.reason}\n\n"
        "Under the school's policy, trying to get round the filter leads to a ban from school computing\n"
        "equipment, other than with close supervision. Please read the evidence, then confirm the ban with\n"
        "an end date or lift it with a reason:\n\n"
        f"{public_url.rstrip('/')}/bans/{ban.id}\n"
    )
    return message


def send_ban_notice(db: Database, mail: MailSettings, public_url: str, ban_id: int) -> bool:
    """Email the active headteachers (and [smtp] to); False when SMTP is off, nobody is to be told, or the
    mail could not be sent (logged)."""
    if not mail.host:
        return False
    with db.session(read_only=True) as session:
        site_id = session.scalar(select(Ban.site_id).where(Ban.id == ban_id))
    if site_id is None:
        return False
    recipients = list(dict.fromkeys([*headteacher_addresses(db, site_id), *mail.to]))  # the ban's school's
    if not recipients:
        return False
    with db.session(read_only=True) as session:
        ban = session.get(Ban, ban_id)
        if ban is None:
            return False
        device_name = ban.device.name if ban.device is not None else "an unknown device"
        message = compose(ban, device_name, public_url, mail.from_address, recipients)
    try:
        send(mail, message)
    except MailError:
        return False  # already logged, with the reason; the ban stands and shows on the dashboard
    log.info("ban #%d: notice emailed to %d recipient(s)", ban_id, len(recipients))
    return True
