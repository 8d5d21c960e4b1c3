"""The weekly report for the headteacher and the DSL: what was blocked, who was banned, what needs a look.

Written to the state folder as text and HTML every week, and emailed when an SMTP server is configured.
It holds counts and names of sites, never a pupil's browsing line by line: the access log stays in the
admin web, where every view of it is audited.

One report per school of a trust (each school that has its groups, i.e. a gateway was set up for it), with that
school's numbers only, mailed to `[smtp] to` and to the school's own active headteacher and DSL accounts. The
default school's files keep their names (`weekly-DATE`); another school's carry its name (`weekly-DATE-NAME`).
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, func, not_, select, true

from rules.localtime import LONDON
from rules.mail import MailError, MailSettings, send
from rules.monitoring.states import CURRENT_BAN_STATES
from rules.policy.compile import trust_or_own
from rules.safeguarding.routing import accounts_with
from rules.safeguarding.weekly import safeguarding_lines
from rules.sites import DEFAULT_SITE_ID, site_names
from rules.store.access_log import automatic_lookup
from rules.store.db import Database
from rules.store.models import AccessEvent, AuditEntry, Ban, Device, Group, utcnow

log = logging.getLogger(__name__)
TOP = 10
NO_MAIL = MailSettings()  # the report is only written to disk


@dataclass(frozen=True)
class Report:
    subject: str
    sections: tuple[tuple[str, tuple[str, ...]], ...]

    def text(self) -> str:
        parts = [self.subject, "=" * len(self.subject), ""]
        for title, lines in self.sections:
            parts += [title, *(f"  {line}" for line in lines or ("none",)), ""]
        return "\n".join(parts)

    def html(self) -> str:
        body = [f"<h1>{html.escape(self.subject)}</h1>"]
        for title, lines in self.sections:
            items = "".join(f"<li>{html.escape(line)}</li>" for line in lines or ("none",))
            body.append(f"<h2>{html.escape(title)}</h2><ul>{items}</ul>")
        return f"<!doctype html><html><meta charset='utf-8'><title>{html.escape(self.subject)}</title>" \
               f"<body>{''.join(body)}</body></html>\n"


def _school(column: Any, site_id: int | None) -> ColumnElement[bool]:
    """The rows of the school `site_id` (a `site_id` column), or every row when None."""
    return true() if site_id is None else column == site_id


def build_report(db: Database, now: datetime | None = None, site_id: int | None = None,
                 school: str | None = None) -> Report:
    """The last seven days, in numbers: of the school `site_id` (called `school` in the subject), or of every
    school when None."""
    end = now or utcnow()
    start = end - timedelta(days=7)
    audited = true() if site_id is None else trust_or_own(AuditEntry.site_id, site_id)
    with db.session(read_only=True) as session:
        in_week = (AccessEvent.ts >= start) & (AccessEvent.ts < end) & _school(AccessEvent.site_id, site_id)
        total = session.scalar(select(func.count()).select_from(AccessEvent).where(in_week)) or 0
        # What devices look up on their own (the DoH canary, connectivity checks) is not an attempt by a person:
        # counted apart, as on the dashboard, so it never fills "Most blocked sites".
        automatic = automatic_lookup()
        refused = in_week & (AccessEvent.action != "allow")
        blocked = session.scalar(select(func.count()).select_from(AccessEvent).where(refused, not_(automatic))) or 0
        automatic_count = session.scalar(select(func.count()).select_from(AccessEvent)
                                         .where(refused, automatic)) or 0
        categories = session.execute(select(AccessEvent.category, func.count()).where(
            refused, not_(automatic)).group_by(AccessEvent.category)
            .order_by(func.count().desc()).limit(TOP)).all()
        hosts = session.execute(select(AccessEvent.host, func.count()).where(refused, not_(automatic))
                                .group_by(AccessEvent.host).order_by(func.count().desc()).limit(TOP)).all()
        signals = session.execute(select(AccessEvent.signal, func.count()).where(in_week, AccessEvent.signal
                                  .is_not(None)).group_by(AccessEvent.signal).order_by(func.count().desc())).all()
        ban_school = _school(Ban.site_id, site_id)
        bans = list(session.scalars(select(Ban).where(Ban.created_at >= start, Ban.created_at < end, ban_school)))
        active_bans = session.scalar(select(func.count()).select_from(Ban)
                                     .where(Ban.state.in_(CURRENT_BAN_STATES), ban_school)) or 0
        unknown = session.scalar(select(func.count()).select_from(Device).where(
            Device.status == "unknown", _school(Device.site_id, site_id))) or 0
        tests = session.execute(select(AuditEntry.action, func.count()).where(
            AuditEntry.actor == "self-test", AuditEntry.ts >= start, AuditEntry.ts < end, audited)
            .group_by(AuditEntry.action)).all()
        safeguarding = safeguarding_lines(session, start, end, site_id)
        failed_lists = session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "list.refresh_failed", AuditEntry.ts >= start, AuditEntry.ts < end, audited)) or 0
    week = f"{start.astimezone(LONDON):%d %b %Y} to {end.astimezone(LONDON):%d %b %Y}"
    test_counts = dict(tests)
    return Report(
        subject=f"schoolgate weekly report{f', {school}' if school else ''}, {week}",
        sections=(
            ("Traffic", (f"{total} requests recorded, {blocked} blocked",
                         f"{automatic_count} automatic lookups by devices answered apart (not counted as blocked)")),
            ("Blocked, by category", tuple(f"{name or 'rule made by staff'}: {n}" for name, n in categories)),
            ("Most blocked sites", tuple(f"{host}: {n}" for host, n in hosts)),
            ("Signs of getting round the filter", tuple(f"{name}: {n}" for name, n in signals)),
            ("Bans", (f"{len(bans)} new this week, {active_bans} in force",
                      *(f"ban #{b.id}: {b.person or 'device #' + str(b.device_id)}, {b.state}, {b.reason}"
                        for b in bans))),
            ("Safeguarding concerns (counts only; the DSL reads each one in the admin web)", safeguarding),
            ("Needs the ICT technician", (f"{unknown} unknown devices to name and place in a group",
                                          f"{failed_lists} list refreshes failed")),
            ("Nightly self-test", (f"{test_counts.get('self_test.pass', 0)} passed, "
                                   f"{test_counts.get('self_test.fail', 0)} failed",)),
        ),
    )


def weekly_report(db: Database, state_dir: Path, mail: MailSettings = NO_MAIL,
                  now: datetime | None = None) -> list[Path]:
    """Write each school's report (text and HTML) under state_dir/reports, and email it when mail is configured."""
    moment = now or utcnow()
    with db.session(read_only=True) as session:
        with_groups = set(session.scalars(select(Group.site_id).distinct()))
        schools = {i: name for i, name in site_names(session).items() if i in with_groups}
    paths: list[Path] = []
    for site_id, name in schools.items():
        paths += _school_report(db, state_dir, mail, moment, site_id, name)
    return paths


def _school_report(db: Database, state_dir: Path, mail: MailSettings, moment: datetime, site_id: int,
                   name: str) -> list[Path]:
    default = site_id == DEFAULT_SITE_ID
    report = build_report(db, moment, site_id, None if default else name)
    folder = state_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"weekly-{moment.astimezone(LONDON):%Y-%m-%d}" + ("" if default else f"-{name}")
    paths = [folder / f"{stem}.txt", folder / f"{stem}.html"]
    paths[0].write_text(report.text(), encoding="utf-8")
    paths[1].write_text(report.html(), encoding="utf-8")
    emailed = False
    if mail.enabled:
        with db.session(read_only=True) as session:
            people = [u.email for role in ("headteacher", "dsl") for u in accounts_with(session, role, site_id)]
        try:
            send(mail, report_message(report, mail, people))
            emailed = True
        except MailError:
            pass  # logged with the reason; the report is on disk either way
    log.info("weekly report written to %s%s", paths[0], " and emailed" if emailed else "")
    return paths


def report_message(report: Report, mail: MailSettings, people: list[str] | None = None) -> EmailMessage:
    """The report as a text email with the HTML version as its alternative, to `[smtp] to` and `people` (the
    school's headteacher and DSL accounts)."""
    message = EmailMessage()
    message["Subject"] = report.subject
    message["From"] = mail.from_address
    message["To"] = ", ".join(dict.fromkeys([*mail.to, *(people or ())]))
    message.set_content(report.text())
    message.add_alternative(report.html(), subtype="html")
    return message
