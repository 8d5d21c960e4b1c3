"""Which consent is in force for a pupil on a day: the one question the post approval and the class view ask.

The consent record keeps every change as a row (`ConsentRecord`). What is in force on a day is the latest row of
that day's academic year whose `effective_on` (the date the written notice arrived) is on or before the day, the
later-recorded row winning a tie. So a withdrawal recorded today but dated last week is honoured from last week,
and consent given for last year says nothing about this year.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.consent.academic_year import academic_year_of
from rules.store.models import ConsentRecord


class Media(StrEnum):
    """The two kinds of processing the consent form asks about separately."""

    IMAGES = "images"
    VIDEOS = "videos"


@dataclass(frozen=True, slots=True)
class ConsentInForce:
    """A pupil's consent on one day; `record_id` None means nothing is recorded for that academic year."""

    pupil_id: int
    images: bool = False
    videos: bool = False
    record_id: int | None = None
    change: str | None = None  # given | amended | withdrawn
    effective_on: str | None = None

    def allows(self, media: Media) -> bool:
        return self.images if media is Media.IMAGES else self.videos


def consent_on(session: Session, pupil_ids: Iterable[int], day: date) -> dict[int, ConsentInForce]:
    """Consent in force on `day` for each pupil asked about (every id is in the answer; no record: no consent)."""
    wanted = sorted(set(pupil_ids))
    found = {pupil_id: ConsentInForce(pupil_id) for pupil_id in wanted}
    if not wanted:
        return found
    rows = session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.pupil_id.in_(wanted), ConsentRecord.academic_year == academic_year_of(day),
               ConsentRecord.effective_on <= day.isoformat())
        .order_by(ConsentRecord.pupil_id, ConsentRecord.effective_on, ConsentRecord.id)
    )
    for row in rows:  # ascending, so the last one seen for a pupil is the one in force
        found[row.pupil_id] = ConsentInForce(row.pupil_id, row.images, row.videos, row.id, row.change,
                                             row.effective_on)
    return found
