"""The weekly report's safeguarding section: counts only, never a name, a device or a search term.

The weekly report is emailed to `[smtp] to` as well as read by the DSL, so it says how many concerns there
were and of what kind; who and what are on the concern pages, behind sign-in.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from rules.safeguarding.states import ConcernState, category_label
from rules.store.models import Concern

SEVERITIES = ("high", "medium", "low")


def _by_severity(counts: Counter[str]) -> str:
    return ", ".join(f"{counts.get(s, 0)} {s}" for s in SEVERITIES)


def safeguarding_lines(session: Session, start: datetime, end: datetime,
                       site_id: int | None = None) -> tuple[str, ...]:
    """Concerns opened and closed in [start, end), by category, severity and outcome, and how many are open (of
    the school `site_id`, when given)."""
    school = true() if site_id is None else Concern.site_id == site_id
    opened = session.execute(select(Concern.category, Concern.severity, func.count())
                             .where(Concern.opened_at >= start, Concern.opened_at < end, school)
                             .group_by(Concern.category, Concern.severity)).all()
    closed = dict(session.execute(select(Concern.state, func.count())
                                  .where(Concern.closed_at >= start, Concern.closed_at < end,
                                         Concern.state != ConcernState.OPEN, school)
                                  .group_by(Concern.state)).all())
    still_open = Counter(dict(session.execute(select(Concern.severity, func.count())
                                              .where(Concern.state == ConcernState.OPEN, school)
                                              .group_by(Concern.severity)).all()))
    severities: Counter[str] = Counter()
    categories: dict[str, Counter[str]] = {}
    for category, severity, n in opened:
        severities[severity] += n
        categories.setdefault(category, Counter())[severity] += n
    lines = [f"{sum(severities.values())} concerns opened this week ({_by_severity(severities)})"]
    lines += [f"  {category_label(name)}: {_by_severity(counts)}" for name, counts in
              sorted(categories.items(), key=lambda item: (-sum(item[1].values()), item[0]))]
    lines.append(f"{sum(closed.values())} closed this week: {closed.get(ConcernState.NO_CONCERN, 0)} no concern, "
                 f"{closed.get(ConcernState.RECORD_MADE, 0)} record made, {closed.get(ConcernState.ESCALATED, 0)} "
                 "escalated")
    lines.append(f"{sum(still_open.values())} open now ({_by_severity(still_open)})")
    return tuple(lines)
