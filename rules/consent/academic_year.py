"""The academic year in England: 1 September to 31 August, named by the year it starts (2026 is 2026/27)."""

from __future__ import annotations

from datetime import date

FIRST_MONTH = 9


def academic_year_of(day: date) -> int:
    """The academic year a day falls in: 31 August 2026 is in 2025 (2025/26), 1 September 2026 in 2026."""
    return day.year if day.month >= FIRST_MONTH else day.year - 1


def label(year: int) -> str:
    """How schools write it: 2026 -> "2026/27"."""
    return f"{year}/{(year + 1) % 100:02d}"


def bounds(year: int) -> tuple[date, date]:
    """The first and last day of the academic year."""
    return date(year, FIRST_MONTH, 1), date(year + 1, FIRST_MONTH - 1, 31)
