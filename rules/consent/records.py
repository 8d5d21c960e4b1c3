"""Recording consent: a new `ConsentRecord` row per change (given, amended, withdrawn), never an edit.

Who may: the headteacher, the office manager and the DPO (the web checks the role; the policy makes the DPO
responsible for keeping the record up to date). What is checked, so the history stays one that makes sense:

- the date the written notice arrived (`effective_on`) is not after today (London) and lies in the academic
  year chosen: consent is given per academic year;
- "given" only when nothing is recorded for that pupil and year yet (a second form is an amendment);
- "amended" and "withdrawn" only when a record is in force on that date (there must be something to change);
- a withdrawal leaves neither images nor videos; an amendment says which of the two it keeps;
- who gave it (the person with parental responsibility, or the pupil) is named.

Every record and every view of a pupil's consent is audited (`consent.record` with before and after,
`consent.view`); the audit names the pupil by row ("pupil #12"), never by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from rules.consent.academic_year import academic_year_of, bounds, label
from rules.consent.status import ConsentInForce, consent_on
from rules.localtime import LONDON
from rules.store.audit import audit
from rules.store.models import ConsentRecord, Pupil

MAX_GIVEN_BY = 128
MAX_NOTE = 2000
READERS = ("headteacher", "office_manager", "dpo")  # who sees and keeps the consent record (children's data)


class Change(StrEnum):
    """What a consent record says happened."""

    GIVEN = "given"
    AMENDED = "amended"
    WITHDRAWN = "withdrawn"


CHANGE_LABELS = {Change.GIVEN: "Consent given", Change.AMENDED: "Consent amended",
                 Change.WITHDRAWN: "Consent withdrawn"}


VERBS = {Change.GIVEN: "give", Change.AMENDED: "amend", Change.WITHDRAWN: "withdraw"}


class ConsentError(ValueError):
    """The consent cannot be recorded as asked; the message says why. Nothing was recorded."""


class PupilNotFound(LookupError):
    """No pupil with that id."""


def today() -> date:
    """The school's today (London), the latest day a written notice can have arrived."""
    return datetime.now(LONDON).date()


def reference(pupil_id: int) -> str:
    """How the audit log names a pupil: by row, never by name (`rules.privacy.subject` finds it by this too)."""
    return f"pupil #{pupil_id}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One consent to record, as the form gave it."""

    pupil_id: int
    change: Change
    images: bool
    videos: bool
    given_by: str
    effective_on: date
    note: str = ""


def _summary(found: ConsentInForce) -> dict[str, object]:
    return {"record_id": found.record_id, "change": found.change, "images": found.images, "videos": found.videos,
            "effective_on": found.effective_on}


def record_consent(session: Session, entry: Entry, *, academic_year: int, actor: str,
                   on: date | None = None) -> ConsentRecord:
    """Check and add one record in the caller's transaction, with its `consent.record` audit entry."""
    day = on or today()
    # The pupil's row locked (PostgreSQL; SQLite's writers queue already) so two people saving at once cannot both
    # record the year's "given": the second waits, then sees the first's row.
    pupil = session.get(Pupil, entry.pupil_id, with_for_update=True)
    if pupil is None:
        raise PupilNotFound(entry.pupil_id)
    given_by = " ".join(entry.given_by.split())
    note = entry.note.strip()
    _check(session, entry, pupil, academic_year, day, given_by, note)
    before = consent_on(session, [pupil.id], entry.effective_on)[pupil.id]
    row = ConsentRecord(pupil_id=pupil.id, academic_year=academic_year, images=entry.images, videos=entry.videos,
                        change=entry.change.value, given_by=given_by, effective_on=entry.effective_on.isoformat(),
                        note=note, recorded_by=actor)
    session.add(row)
    session.flush()
    after = consent_on(session, [pupil.id], entry.effective_on)[pupil.id]
    audit(session, actor, "consent.record", reference(pupil.id),
          before={"academic_year": academic_year, **_summary(before)},
          after={"academic_year": academic_year, **_summary(after)}, site_id=pupil.site_id)
    return row


def record_many(session: Session, entries: list[Entry], *, academic_year: int, actor: str,
                on: date | None = None) -> list[ConsentRecord]:
    """Record several (the class's forms in September) in the caller's one transaction: all or none."""
    if not entries:
        raise ConsentError("choose at least one pupil")
    if len({e.pupil_id for e in entries}) != len(entries):
        raise ConsentError("a pupil is listed twice")
    rows = []
    for entry in entries:
        try:
            rows.append(record_consent(session, entry, academic_year=academic_year, actor=actor, on=on))
        except ConsentError as exc:
            pupil = session.get(Pupil, entry.pupil_id)
            raise ConsentError(f"{pupil.name if pupil else reference(entry.pupil_id)}: {exc}") from None
    return rows


def _check(session: Session, entry: Entry, pupil: Pupil, year: int, day: date, given_by: str, note: str) -> None:
    first, last = bounds(year)
    if entry.effective_on > day:
        raise ConsentError(f"the date the written notice arrived ({entry.effective_on:%d %b %Y}) is in the future")
    if not first <= entry.effective_on <= last:
        raise ConsentError(f"the date the written notice arrived ({entry.effective_on:%d %b %Y}) is not in the "
                           f"academic year {label(year)} ({first:%d %b %Y} to {last:%d %b %Y})")
    if not given_by:
        raise ConsentError("say who gave it (the person with parental responsibility, or the pupil)")
    if len(given_by) > MAX_GIVEN_BY:
        raise ConsentError(f"who gave it is at most {MAX_GIVEN_BY} characters")
    if len(note) > MAX_NOTE:
        raise ConsentError(f"the note is at most {MAX_NOTE} characters")
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in given_by + note):
        raise ConsentError("the text holds a control character")
    if entry.change is Change.WITHDRAWN and (entry.images or entry.videos):
        raise ConsentError("a withdrawal leaves no consent: record an amendment to keep images or videos")
    recorded = session.scalar(select(exists().where(ConsentRecord.pupil_id == pupil.id,
                                                    ConsentRecord.academic_year == year)))
    if entry.change is Change.GIVEN and recorded:
        raise ConsentError(f"consent for {label(year)} is already recorded: amend or withdraw it instead")
    if entry.change is not Change.GIVEN:
        in_force = consent_on(session, [pupil.id], entry.effective_on)[pupil.id]
        if in_force.record_id is None:
            raise ConsentError(f"no consent for {label(year)} is recorded on or before "
                               f"{entry.effective_on:%d %b %Y}, so there is nothing to {VERBS[entry.change]}; "
                               "record the consent given first")


def history(session: Session, pupil_id: int) -> list[ConsentRecord]:
    """Every record of the pupil, newest academic year first, each year in the order the changes took effect."""
    return list(session.scalars(select(ConsentRecord).where(ConsentRecord.pupil_id == pupil_id).order_by(
        ConsentRecord.academic_year.desc(), ConsentRecord.effective_on, ConsentRecord.id)))


def view_pupil(session: Session, pupil_id: int, actor: str, *, on: date | None = None) -> tuple[
        Pupil, ConsentInForce, list[ConsentRecord]]:
    """A pupil's consent page: the pupil, this year's consent in force today, the history; audited as a view."""
    day = on or today()
    pupil = session.get(Pupil, pupil_id)
    if pupil is None:
        raise PupilNotFound(pupil_id)
    in_force = consent_on(session, [pupil.id], day)[pupil.id]
    audit(session, actor, "consent.view", reference(pupil.id), after={"academic_year": academic_year_of(day)},
          site_id=pupil.site_id)
    return pupil, in_force, history(session, pupil.id)
