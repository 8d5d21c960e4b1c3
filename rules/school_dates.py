"""Dates as a school writes them: read in any of the forms people type, shown one way.

The policy writes its review date "23/09/26"; a date input sends "2026-09-23"; staff type "23/09/2026". All
three are read here, once, at the edge, and every screen and mail shows DD/MM/YYYY, so that nobody has to guess
whether 03/04 is March or April. Two-digit years are this century's: nothing schoolgate records is older.
"""

from __future__ import annotations

import re
from datetime import date

FIRST_DAY = date(2000, 1, 1)  # as `admin_web.params`: nothing schoolgate holds is older or newer
LAST_DAY = date(2099, 12, 31)
FORMS = "DD/MM/YY, DD/MM/YYYY or YYYY-MM-DD"
_SLASHED = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


class DateError(ValueError):
    """Not a date in one of the accepted forms, or not a real day; the message says what is expected."""


def parse_school_date(text: str) -> date:
    """The day `text` names, written DD/MM/YY, DD/MM/YYYY or YYYY-MM-DD (surrounding spaces ignored)."""
    raw = (text or "").strip()
    if slashed := _SLASHED.fullmatch(raw):
        day, month, year = (int(part) for part in slashed.groups())
        if len(slashed.group(3)) == 2:
            year += 2000
    elif iso := _ISO.fullmatch(raw):
        year, month, day = (int(part) for part in iso.groups())
    else:
        raise DateError(f"write the date as {FORMS} (for example 23/09/26)")
    try:
        found = date(year, month, day)
    except ValueError:
        raise DateError(f"{raw} is not a day of the calendar") from None
    if not FIRST_DAY <= found <= LAST_DAY:
        raise DateError(f"choose a day from {show(FIRST_DAY)} to {show(LAST_DAY)}")
    return found


def show(day: date | str | None) -> str:
    """DD/MM/YYYY for a day (or a stored YYYY-MM-DD); an em dash for none."""
    if day is None or day == "":
        return "—"
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return day.strftime("%d/%m/%Y")
