"""London time, the school's clock: the one `LONDON` zone and the day boundaries people type.

Times are stored in UTC; people read and type them in Europe/London (dates in forms, school hours,
the dates in reports and notices).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def start_of_london_day(day: date) -> datetime:
    """Midnight at the start of `day` in London, as a UTC instant (people type dates in London time)."""
    return datetime.combine(day, time(0, 0), tzinfo=LONDON).astimezone(UTC)


def end_of_london_day(day: date) -> datetime:
    """The instant `day` ends in London: an exception "until" that date is open all that day."""
    return start_of_london_day(day + timedelta(days=1))
