"""Telling the DSL (or the headteacher, or the chair of governors): high concerns at once, the rest daily.

Email goes through `rules.mail.send` with the `[smtp]` settings, but only to the accounts a concern is routed
to (never to `[smtp] to`, which is usually the ICT technician, who must not read concerns). Email is less
safe than the signed-in web page, so a message names nobody: the subject line says only that there is a
concern, its number, severity and category; the body says what matched and why, and links to the concern,
where the device and the person are shown to those who may see them (and the view is audited).

A message that could not be sent leaves `notified_at` empty, so it is tried again: at once-mail after
`RETRY_SECONDS`, the digest at its next run.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.localtime import LONDON
from rules.mail import MailError, MailSettings, send
from rules.safeguarding.routing import account_for, recipients
from rules.safeguarding.states import ConcernState, Source, Subject, category_label
from rules.store.db import Database
from rules.store.models import Concern, utcnow

log = logging.getLogger(__name__)
RETRY_SECONDS = 60.0
AT_ONCE = ("high",)
IN_DIGEST = ("medium", "low")


@dataclass(frozen=True)
class NotifySettings:
    """What sending needs: the mail server, where the web is (for links) and the chair's address."""

    mail: MailSettings
    public_url: str
    chair_email: str = ""

    def link(self, concern_id: int) -> str:
        return f"{self.public_url.rstrip('/')}/concerns/{concern_id}"


def _about(concern: Concern) -> str:
    return {Subject.PUPIL: "a pupil", Subject.STAFF: "a member of staff",
            Subject.HEADTEACHER: "the headteacher"}.get(Subject(concern.subject), "a pupil")


def _to(session: Session, concern: Concern, settings: NotifySettings) -> list[str]:
    # Only a concern about a member of staff leaves its subject out: a pupil may share the DSL's name.
    about = account_for(session, concern.person) if concern.subject != Subject.PUPIL else None
    return recipients(session, concern.routed_to, settings.chair_email, about.email if about else None,
                      site_id=concern.site_id)  # the concern's school's DSL or headteacher


def compose_at_once(concern: Concern, settings: NotifySettings, to: list[str]) -> EmailMessage:
    """The at-once message for one high concern: no name, device or search term in the subject line."""
    message = EmailMessage()
    message["Subject"] = (f"schoolgate: safeguarding concern #{concern.id} ({concern.severity}, "
                          f"{category_label(concern.category)}) - please look now")
    message["From"] = settings.mail.from_address
    message["To"] = ", ".join(to)
    when = concern.opened_at.astimezone(LONDON).strftime("%H:%M on %a %d %b %Y")
    what = {Source.SEARCH: "a search for", Source.SITE: "a visit to", Source.MANUAL: "a report by a member of staff:"}
    lines = [f"schoolgate raised a {concern.severity}-severity safeguarding concern about {_about(concern)} at {when}.",
             "",
             f"Category:      {category_label(concern.category)}",
             f"What matched:  {what.get(Source(concern.source), '')} {concern.matched}".rstrip()]
    if concern.phrase:
        lines.append(f"Phrase:        {concern.phrase}")
    lines += [f"Why it counts: {concern.why}", "",
              "High severity means a child may be at risk now. The device, the person and the activity around",
              "it are on the concern's page (sign in; your view is recorded):", "", settings.link(concern.id), ""]
    message.set_content("\n".join(lines))
    return message


class AtOnce:
    """Sends each high concern's message once; a failure is tried again after `RETRY_SECONDS`."""

    def __init__(self, db: Database, settings: NotifySettings) -> None:
        self.db = db
        self.settings = settings
        self._not_before: dict[int, float] = {}
        self._warned = False

    def send_pending(self) -> int:
        """Send every unsent high concern's message; how many were sent."""
        if not self.settings.mail.host:
            if not self._warned:
                log.warning("[smtp] host is empty: high safeguarding concerns are not emailed (see the web queue)")
                self._warned = True
            return 0
        now = time.monotonic()
        with self.db.session(read_only=True) as session:
            pending = [(c, _to(session, c, self.settings)) for c in session.scalars(
                select(Concern).where(Concern.notified_at.is_(None), Concern.severity.in_(AT_ONCE),
                                      Concern.state == ConcernState.OPEN).order_by(Concern.id))
                       if self._not_before.get(c.id, 0.0) <= now]
        sent = 0
        for concern, to in pending:
            if not to:
                log.error("concern #%d (routed to %s): nobody to tell (no active account with that role)",
                          concern.id, concern.routed_to)
                self._not_before[concern.id] = now + RETRY_SECONDS
                continue
            try:
                send(self.settings.mail, compose_at_once(concern, self.settings, to))
            except MailError:
                self._not_before[concern.id] = now + RETRY_SECONDS
                continue
            _mark(self.db, [concern.id])
            self._not_before.pop(concern.id, None)
            log.info("concern #%d: emailed at once to %d recipient(s)", concern.id, len(to))
            sent += 1
        return sent


def _mark(db: Database, ids: list[int]) -> None:
    with db.session() as session:
        for concern in session.scalars(select(Concern).where(Concern.id.in_(ids))):
            concern.notified_at = utcnow()


def compose_digest(concerns: list[Concern], settings: NotifySettings, to: str, day: datetime) -> EmailMessage:
    """One recipient's daily digest: counts by category and severity, then one link a concern; no names."""
    message = EmailMessage()
    count = len(concerns)
    message["Subject"] = f"schoolgate: safeguarding digest, {count} new concern{'s' if count != 1 else ''}"
    message["From"] = settings.mail.from_address
    message["To"] = to
    counts = Counter((category_label(c.category), c.severity) for c in concerns)
    lines = [f"New medium and low safeguarding concerns since the last digest ({day.astimezone(LONDON):%a %d %b %Y}):",
             ""]
    lines += [f"  {n:4}  {severity:6}  {label}" for (label, severity), n in sorted(counts.items())]
    lines += ["", "Each concern (sign in to see who and the activity around it; your view is recorded):", ""]
    lines += [f"  #{c.id}  {c.severity:6}  {category_label(c.category)}, {c.hits} time(s): {settings.link(c.id)}"
              for c in concerns]
    message.set_content("\n".join(lines) + "\n")
    return message


def send_digest(db: Database, settings: NotifySettings, now: datetime | None = None) -> int:
    """Email each recipient their open medium and low concerns not yet told of; mark them told. Returns how
    many concerns were told of; 0 (and nothing marked) when SMTP is off."""
    if not settings.mail.host:
        log.warning("[smtp] host is empty: no safeguarding digest sent")
        return 0
    now = now or utcnow()
    by_recipient: dict[str, list[Concern]] = {}
    owed: dict[int, set[str]] = {}
    with db.session(read_only=True) as session:
        for concern in session.scalars(select(Concern).where(
                Concern.notified_at.is_(None), Concern.severity.in_(IN_DIGEST),
                Concern.state == ConcernState.OPEN).order_by(Concern.id)):
            to = _to(session, concern, settings)
            owed[concern.id] = set(to)
            for address in to:
                by_recipient.setdefault(address, []).append(concern)
    failed: set[str] = set()
    for address, concerns in by_recipient.items():
        try:
            send(settings.mail, compose_digest(concerns, settings, address, now))
        except MailError:
            failed.add(address)
    told = [cid for cid, to in owed.items() if to and not to & failed]
    if told:
        _mark(db, told)
    log.info("safeguarding digest: %d concern(s) to %d recipient(s)", len(told), len(by_recipient) - len(failed))
    return len(told)
