"""Taking pupils' names out of the review pack's text: it is printed for the academy council and names no child.

Free text such as a rule's reason or a headteacher's reasons for a decision can name a pupil ("opened for Sam
Pupil's project"). Every name the store knows a child by is replaced with "[pupil]" wherever the pack shows
text: each pupil on the consent record (on roll or not), the person of every device outside the staff group,
and the person of every ban and every safeguarding concern. Names are found as `rules.privacy.terms` finds
them (whole words; a one-word name never as a label of a host name), the whole name in any case; and each part
of a name (a forename alone, "Sam asked for ...") when written with its capital, as names are, so that a pupil
called May does not take the month out of every sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.privacy.terms import Kind, Term
from rules.store.models import Ban, Concern, Device, Group, Pupil

REPLACEMENT = "[pupil]"
STAFF_GROUP = "staff"  # as `rules.safeguarding.routing`: devices in it are staff's
MIN_PART = 2  # a one-letter initial is not redacted on its own


def child_names(session: Session) -> set[str]:
    """Every name the store knows a child by (and every ban's and concern's person, who is usually one)."""
    names = set(session.scalars(select(Pupil.name)))
    names |= set(session.scalars(select(Device.person).outerjoin(Group, Device.group_id == Group.id)
                                 .where(Device.person.is_not(None))
                                 .where((Group.name.is_(None)) | (Group.name != STAFF_GROUP))))
    names |= set(session.scalars(select(Ban.person).where(Ban.person.is_not(None))))
    names |= set(session.scalars(select(Concern.person).where(Concern.person.is_not(None))))
    return {name.strip() for name in names if name and name.strip()}


class Redactor:
    """Replaces the given names in any text with "[pupil]"; built once per pack."""

    def __init__(self, names: Iterable[str]) -> None:
        whole: dict[str, re.Pattern[str]] = {}
        parts: dict[str, re.Pattern[str]] = {}
        for name in names:
            whole.setdefault(name.casefold(), Term(name, Kind.NAME, REPLACEMENT).pattern)
            for part in name.split():
                part = part.strip(".,;:()\"")
                if len(part) >= MIN_PART and part[0].isalpha():
                    written = part[0].upper() + part[1:]
                    # the same whole-word boundaries as the full name, but as written: "May", not "may"
                    parts.setdefault(written, re.compile(Term(written, Kind.NAME, REPLACEMENT).pattern.pattern))
        # longest first, so that "Sam Pupil" goes before "Sam"
        self._patterns = [whole[k] for k in sorted(whole, key=len, reverse=True)] + \
                         [parts[k] for k in sorted(parts, key=len, reverse=True)]

    def text(self, value: str | None) -> str:
        """`value` without any of the names (an empty string for None)."""
        result = value or ""
        for pattern in self._patterns:
            result = pattern.sub(REPLACEMENT, result)
        return result

    @classmethod
    def from_store(cls, session: Session) -> Redactor:
        return cls(child_names(session))
