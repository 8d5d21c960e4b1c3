"""The annual review pack the headteacher prints for the academy council: what the filter did over a period,
in counts and dates, naming no child.

The period defaults to the day after the last recorded review up to today, or, with no review recorded, the 12
months up to today. Every text the pack shows has been through the `Redactor`; the sections themselves never
select a person, a device's name or a pupil's row (see `sections`). Building the pack is a view of records
about children in aggregate, so it is audited (`review_pack.view`) in the same transaction as the reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from rules.consent.academic_year import label as year_label
from rules.localtime import end_of_london_day, start_of_london_day
from rules.review import sections
from rules.review.policy_review import last_review_date, next_review_date
from rules.review.redact import Redactor
from rules.school_dates import show
from rules.store.audit import audit
from rules.store.models import utcnow


class PeriodError(ValueError):
    """The period asked for cannot be used; the message says why."""


@dataclass(frozen=True)
class Period:
    """London days, both included."""

    start: date
    end: date

    @property
    def span(self) -> sections.Span:
        return sections.Span(start_of_london_day(self.start), end_of_london_day(self.end))

    def words(self) -> str:
        return f"{show(self.start)} to {show(self.end)}"


def default_period(session: Session, today: date, site_id: int | None = None) -> Period:
    """Since the school's last recorded review (the day after it), else the 12 months up to today."""
    last = last_review_date(session, site_id)
    if last is not None and last < today:
        return Period(last + timedelta(days=1), today)
    try:
        start = today.replace(year=today.year - 1) + timedelta(days=1)
    except ValueError:  # 29 February
        start = today.replace(year=today.year - 1, day=28) + timedelta(days=1)
    return Period(start, today)


def checked_period(start: date | None, end: date | None, default: Period, today: date) -> Period:
    period = Period(start or default.start, end or (default.end if start is None else today))
    if period.start > period.end:
        raise PeriodError(f"the period starts ({show(period.start)}) after it ends ({show(period.end)})")
    return period


@dataclass(frozen=True)
class Pack:
    period: Period
    made_at: datetime
    next_review_on: date | None
    last_review_on: date | None
    categories: list[sections.CategoryRow]
    rules: list[sections.RuleRow]
    rules_total: int
    requests: list[sections.RequestRow]
    reports: list[sections.ReportRow]
    exceptions: sections.Exceptions
    bans: sections.Bans
    self_tests: sections.SelfTests
    concerns: list[tuple[str, int, int]]
    accounts: list[sections.AccountRow]
    consent_day: date
    consent_year: str
    consent: list[sections.ClassConsent]

    def count(self, rows: list[object], attr: str, value: str) -> int:
        return sum(1 for row in rows if getattr(row, attr) == value)


def build_pack(session: Session, actor: str, period: Period, today: date, site_id: int | None = None) -> Pack:
    """Gather school `site_id`'s pack (None: the whole trust's) for `period` and audit the view
    (`review_pack.view`) in the caller's transaction."""
    redactor = Redactor.from_store(session)
    span = period.span
    consent_day = min(period.end, today)
    site = site_id  # every section: the school's rows, with the trust's own categories and rules
    rules = sections.rules_added(session, span, redactor, site)
    pack = Pack(period=period, made_at=utcnow(), next_review_on=next_review_date(session, site),
                last_review_on=last_review_date(session, site),
                categories=sections.categories(session, redactor, site), rules=rules[:sections.MAX_ROWS],
                rules_total=len(rules), requests=sections.access_requests(session, span, redactor, site),
                reports=sections.content_reports(session, span, site),
                exceptions=sections.exceptions(session, span, redactor, site), bans=sections.bans(session, span, site),
                self_tests=sections.self_tests(session, span, site),
                concerns=sections.concern_counts(session, span, site),
                accounts=sections.school_accounts(session, span, redactor, site), consent_day=consent_day,
                consent_year=year_label(sections.academic_year(consent_day)),
                consent=sections.consent_coverage(session, consent_day, site))
    audit(session, actor, "review_pack.view", "annual review pack",
          after={"from": period.start.isoformat(), "to": period.end.isoformat()}, site_id=site_id)
    return pack
