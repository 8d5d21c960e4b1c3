"""When the headteacher is reminded of the policy review: 30 days before the date, on the day, and after it
("overdue"). One rule, read by the home page and by the mail job, so that they never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from rules.school_dates import show

NOTICE_DAYS = 30


class ReminderKind(StrEnum):
    """The two reminders mailed for each review date (`ReviewReminder.kind`)."""

    THIRTY_DAYS = "thirty_days"
    DUE = "due"


@dataclass(frozen=True)
class ReviewStatus:
    """Where today stands against the next review date."""

    next_review_on: date | None
    today: date

    @property
    def days_left(self) -> int | None:
        return None if self.next_review_on is None else (self.next_review_on - self.today).days

    @property
    def date_set(self) -> bool:
        return self.next_review_on is not None

    @property
    def upcoming(self) -> bool:
        """Within the 30 days before the date: shown on the home page, mailed once."""
        return self.days_left is not None and 0 < self.days_left <= NOTICE_DAYS

    @property
    def due_today(self) -> bool:
        return self.days_left == 0

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0

    @property
    def shown(self) -> bool:
        """Worth a line on the headteacher's home page: no date, or from 30 days before on."""
        return not self.date_set or self.upcoming or self.due_today or self.overdue

    def mail_due(self) -> list[ReminderKind]:
        """The reminders that should have gone by today (a missed day is caught up; the 30-day one only while
        still before the date, since after it the "due" one says more)."""
        if self.days_left is None:
            return []
        if self.days_left <= 0:
            return [ReminderKind.DUE]
        if self.days_left <= NOTICE_DAYS:
            return [ReminderKind.THIRTY_DAYS]
        return []

    def words(self) -> str:
        """One sentence for the page and the mail."""
        if self.next_review_on is None:
            return "No date is set for the next review of the social media policy."
        when = show(self.next_review_on)
        left = self.days_left or 0
        if self.overdue:
            return (f"The social media policy's review is overdue: it was due on {when} "
                    f"({-left} day{'s' if left != -1 else ''} ago).")
        if self.due_today:
            return f"The social media policy is due for review today ({when})."
        return f"The social media policy is due for review on {when}, in {left} day{'s' if left != 1 else ''}."
