"""The class view: "who in 4B may appear in a photo this year", and in a video, answered from the record.

For a class and an academic year, each pupil on roll in that class now, with images yes/no and videos yes/no
as in force on the day asked about (today in the current year; the year's last day for a past year), and the
counts. A pupil with nothing recorded for the year is "no consent recorded", which means no.
Also here: the classes with their sizes, and the search by name, for the pupil list.

Pupils are of a school (`Pupil.site_id`) and two schools may both have a 4B: each function takes the schools to
look in (`site_ids`; None: every school).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session

from rules.consent.academic_year import academic_year_of, bounds
from rules.consent.status import ConsentInForce, Media, consent_on
from rules.store.models import Pupil

MAX_SEARCH = 128
SEARCH_LIMIT = 200


@dataclass(frozen=True, slots=True)
class PupilConsent:
    pupil: Pupil
    consent: ConsentInForce

    @property
    def recorded(self) -> bool:
        return self.consent.record_id is not None

    @property
    def images(self) -> bool:
        return self.consent.allows(Media.IMAGES)

    @property
    def videos(self) -> bool:
        return self.consent.allows(Media.VIDEOS)


@dataclass(frozen=True, slots=True)
class ClassConsent:
    """The answer for one class: the rows in name order, the day it holds for, and the counts."""

    class_name: str
    academic_year: int
    day: date
    rows: list[PupilConsent]

    @property
    def images(self) -> int:
        return sum(1 for r in self.rows if r.images)

    @property
    def videos(self) -> int:
        return sum(1 for r in self.rows if r.videos)

    @property
    def not_recorded(self) -> int:
        return sum(1 for r in self.rows if not r.recorded)


def day_for(academic_year: int, today: date) -> date:
    """The day a year's answer holds for: today within the current year, else the year's last (or first) day."""
    first, last = bounds(academic_year)
    return min(max(today, first), last)


def _in(site_ids: Collection[int] | None) -> ColumnElement[bool]:
    return true() if site_ids is None else Pupil.site_id.in_(sorted(site_ids))


def class_consent(session: Session, class_name: str, academic_year: int, today: date,
                  site_ids: Collection[int] | None = None) -> ClassConsent:
    """Each pupil on roll in `class_name` (in these schools) with the consent in force (see `day_for`)."""
    day = day_for(academic_year, today)
    pupils = list(session.scalars(select(Pupil).where(Pupil.class_name == class_name, Pupil.on_roll.is_(True),
                                                      _in(site_ids))
                                  .order_by(Pupil.name, Pupil.id)))
    found = consent_on(session, [p.id for p in pupils], day)
    return ClassConsent(class_name, academic_year, day, [PupilConsent(p, found[p.id]) for p in pupils])


def natural(text: str) -> list[tuple[int, int, str]]:
    """Sort key: "Year 10" after "Year 9", "10B" after "4B"."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part.casefold()) for part in re.split(r"(\d+)", text)]


def classes(session: Session, site_ids: Collection[int] | None = None) -> list[tuple[str, str, int]]:
    """(class, year group, pupils on roll) for every class of these schools, in school order."""
    rows = session.execute(select(Pupil.class_name, func.min(Pupil.year_group), func.count())
                           .where(Pupil.on_roll.is_(True), _in(site_ids)).group_by(Pupil.class_name)).all()
    return sorted(((c, y or "", n) for c, y, n in rows), key=lambda r: (natural(r[1]), natural(r[0])))


def search(session: Session, text: str, site_ids: Collection[int] | None = None) -> list[Pupil]:
    """Pupils (on roll or not, of these schools) whose name holds every word typed, in any case; at most
    `SEARCH_LIMIT`."""
    words = text.split()[:8]
    if not words:
        return []
    query = select(Pupil).where(_in(site_ids))
    for word in words:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Pupil.name.ilike(f"%{escaped}%", escape="\\"))
    return list(session.scalars(query.order_by(Pupil.on_roll.desc(), Pupil.name, Pupil.id).limit(SEARCH_LIMIT)))


def years_to_choose(today: date) -> list[int]:
    """The academic years a person may look at or record in: the current one and the one before."""
    current = academic_year_of(today)
    return [current, current - 1]
