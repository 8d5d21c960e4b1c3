"""Reading the access log for people: filters, keyset pages, CSV rows and the dashboard's counts.

Pages are keyed on (ts, id), newest first, so page 10,000 costs what page 1 costs (an index range scan
on ix_access_events_ts_id), never an OFFSET over tens of millions of rows. Each page is read in time
windows going back from its cursor (a day, a week, a month, then the rest; `PAGE_WINDOWS`), each a
bounded ts range, so on PostgreSQL, where access events are partitioned by day (`rules.store.partitions`),
the planner reads only the days in the window instead of planning and probing all ninety.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, not_, or_, select, tuple_
from sqlalchemy.orm import Session

from rules.automatic import AUTOMATIC_NAMES, CONNECTIVITY_PATHS
from rules.store.models import AccessEvent, Device, utcnow

ACTIONS = ("allow", "block", "ban")
CSV_HEADER = ("time_utc", "client_ip", "device", "source", "action", "host", "url", "category", "rule", "reason")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class LogFilter:
    """What the person asked to see; every field optional. `site_ids`: the schools whose events are read (None:
    every school), set by the caller from who is reading, never from what they asked."""

    device_id: int | None = None
    person: str = ""
    group_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    action: str = ""
    category: str = ""
    host: str = ""
    site_ids: Collection[int] | None = None  # (ix_access_events_site_ts_id on PostgreSQL)

    def describe(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "") and k != "site_ids"}


def filtered(flt: LogFilter) -> Select[AccessEvent]:
    query = select(AccessEvent)
    if flt.site_ids is not None:
        query = query.where(AccessEvent.site_id.in_(sorted(flt.site_ids)))
    if flt.device_id is not None:
        query = query.where(AccessEvent.device_id == flt.device_id)
    if flt.person:
        query = query.where(AccessEvent.device_id.in_(select(Device.id).where(Device.person == flt.person)))
    if flt.group_id is not None:
        query = query.where(AccessEvent.device_id.in_(select(Device.id).where(Device.group_id == flt.group_id)))
    if flt.since is not None:
        query = query.where(AccessEvent.ts >= flt.since)
    if flt.until is not None:
        query = query.where(AccessEvent.ts < flt.until)
    if flt.action:
        query = query.where(AccessEvent.action == flt.action)
    if flt.category:
        query = query.where(AccessEvent.category == flt.category)
    if flt.host:
        host = flt.host.strip().lower().rstrip(".")
        query = query.where((AccessEvent.host == host) | AccessEvent.host.endswith("." + host))
    return query


@dataclass(frozen=True)
class Page:
    events: list[AccessEvent]
    next_cursor: str | None  # "ts_iso|id" of the last row, when there may be more


MAX_EVENT_ID = 2**63 - 1  # the BigInteger id column's largest value


def parse_cursor(text: str | None) -> tuple[datetime, int] | None:
    """The (ts, id) of a cursor `page` wrote ("ts_iso|id"), or None for anything else: a time that is not a UTC
    instant the database can hold, or an id outside the column's range, would fail in the query instead."""
    if not text or "|" not in text:
        return None
    ts_text, _, id_text = text.partition("|")
    if not (id_text.isascii() and id_text.isdigit()) or len(id_text) > 19 or int(id_text) > MAX_EVENT_ID:
        return None
    try:
        ts = datetime.fromisoformat(ts_text)
        ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    if not 1970 <= ts.year <= 9998:
        return None
    return ts, int(id_text)


# How far back each successive query of a page reaches from its cursor (None: to the beginning). A busy log
# fills a page from the first day; a sparse filter (one device, one category) reaches back further.
PAGE_WINDOWS: tuple[timedelta | None, ...] = (timedelta(days=1), timedelta(days=7), timedelta(days=31), None)


def page(session: Session, flt: LogFilter, after: str | None = None, size: int = 100,
         now: datetime | None = None) -> Page:
    """One page, newest first, starting after the cursor of the previous page."""
    query = filtered(flt).order_by(AccessEvent.ts.desc(), AccessEvent.id.desc())
    cursor = parse_cursor(after)
    anchor = now or utcnow()
    # The newest page reaches a day past now (a clock a little ahead still shows), not into the week of empty
    # partitions made ahead.
    upper: datetime | None = anchor + timedelta(days=1)
    if cursor is not None:
        # The row comparison is the keyset; the plain bound on ts is what the planner prunes partitions by.
        query = query.where(tuple_(AccessEvent.ts, AccessEvent.id) < tuple_(cursor[0], cursor[1]),
                            AccessEvent.ts <= cursor[0])
        anchor = cursor[0]
        upper = None
    rows: list[AccessEvent] = []
    for window in PAGE_WINDOWS:
        lower = anchor - window if window is not None else None
        if flt.since is not None and (lower is None or lower <= flt.since):
            lower = None  # the filter's own lower bound (in `filtered`) ends the search
        part = query
        if lower is not None:
            part = part.where(AccessEvent.ts >= lower)
        if upper is not None:
            part = part.where(AccessEvent.ts < upper)
        rows += session.scalars(part.limit(size + 1 - len(rows)))
        if len(rows) > size or lower is None:
            break
        upper = lower
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = f"{rows[-1].ts.isoformat()}|{rows[-1].id}" if more and rows else None
    return Page(rows, next_cursor)


def neutralise(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text: a leading =, +, -, @ or tab gets a quote in front."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_rows(session: Session, flt: LogFilter, limit: int = 1_000_000) -> Iterator[list[str]]:
    """The export: the header, then the filtered events newest first, every cell neutralised."""
    yield list(CSV_HEADER)
    query = filtered(flt).order_by(AccessEvent.ts.desc(), AccessEvent.id.desc()).limit(limit)
    for e in session.scalars(query.execution_options(yield_per=2000)):
        yield [neutralise(v) for v in (e.ts.isoformat(), e.client_ip, e.device, e.source, e.action, e.host, e.url,
                                       e.category, e.rule, e.reason)]


@dataclass(frozen=True)
class Dashboard:
    """The dashboard's counts. Blocked attempts are what people did: lookups devices make on their own
    (`rules.automatic`) are counted apart, in `automatic` (every such lookup, allowed or not, in the period)
    and `top_automatic`, so that a quiet class of iPads does not fill "Top blocked sites"."""

    blocked_by_day: list[tuple[str, int]]
    top_categories: list[tuple[str, int]]
    top_hosts: list[tuple[str, int]]
    top_devices: list[tuple[str, int]]
    automatic: int = 0
    top_automatic: list[tuple[str, int]] = field(default_factory=list)


def automatic_lookup() -> ColumnElement[bool]:
    """SQL for `rules.automatic.is_automatic_lookup` over access events: the name or a name under it, or a
    connectivity-check path with no query string on any host (http(s)://host/path, as the proxy records it)."""
    names = sorted(AUTOMATIC_NAMES)
    host = AccessEvent.host
    by_name = or_(host.in_(names), *(host.endswith("." + name) for name in names))
    url = func.lower(AccessEvent.url)
    by_path = or_(*(url == literal(scheme) + host + path for scheme in ("http://", "https://")
                    for path in sorted(CONNECTIVITY_PATHS)))
    return or_(by_name, and_(AccessEvent.url.isnot(None), by_path))


def dashboard(session: Session, days: int = 14, now: datetime | None = None,
              site_ids: Collection[int] | None = None) -> Dashboard:
    """Blocked attempts a day, and the top categories, sites and devices, over the last `days` days; automatic
    lookups apart. Only the events of the schools `site_ids` (None: every school)."""
    end = now or utcnow()
    start = (end - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    start_and_school: ColumnElement[bool] = AccessEvent.ts >= start
    if site_ids is not None:
        start_and_school = start_and_school & AccessEvent.site_id.in_(sorted(site_ids))
    automatic = automatic_lookup()
    blocked = AccessEvent.action.in_(("block", "ban"))
    recent = start_and_school & blocked & not_(automatic)
    day = func.date(AccessEvent.ts)
    per_day = {str(d): n for d, n in session.execute(select(day, func.count()).where(recent).group_by(day))}
    series = [((start + timedelta(days=i)).date().isoformat(), 0) for i in range(days)]
    series = [(d, per_day.get(d, 0)) for d, _ in series]

    def top(column: Any, where: ColumnElement[bool] = recent, limit: int = 8) -> list[tuple[str, int]]:
        count = func.count().label("n")
        rows = session.execute(select(column, count).where(where, column.isnot(None))
                               .group_by(column).order_by(count.desc(), column).limit(limit))
        return [(str(k), int(n)) for k, n in rows]

    lookups = start_and_school & automatic
    total = session.scalar(select(func.count()).select_from(AccessEvent).where(lookups)) or 0
    return Dashboard(series, top(AccessEvent.category), top(AccessEvent.host), top(AccessEvent.device),
                     automatic=int(total), top_automatic=top(AccessEvent.host, lookups, 5))
