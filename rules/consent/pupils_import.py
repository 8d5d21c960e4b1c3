"""`schoolgate pupils import`: the MIS's export made the school's list of pupils, in one transaction.

Pupils are matched by `mis_id`. A pupil in the file and not in the database is added; one whose name, class or
year changed is updated; one the file no longer lists is marked off roll (`on_roll = false`), never deleted, so
their consent history stays (it is the record of what was allowed when a post was made). A pupil who comes
back onto the roll is listed again. The file is parsed completely before anything is written, and the whole
import is one transaction with its audit entry (`pupils.import`, counts only: never a name).

A roll is one school's (`site_id`): pupils are matched by `mis_id` within it, and another school's pupils are
never marked off roll by this school's export.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rules.consent.pupil_file import PupilFileError, PupilRow, read_pupil_file
from rules.sites import DEFAULT_SITE_ID
from rules.store.audit import audit
from rules.store.db import Database
from rules.store.models import Pupil, utcnow


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """What an import did: every pupil of the file is added, updated or unchanged; `off_roll` left the roll."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    off_roll: int = 0

    def summary(self) -> str:
        return (f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.off_roll} off roll")


def import_pupil_file(db: Database, path: Path, actor: str, site_id: int = DEFAULT_SITE_ID) -> ImportCounts:
    """Parse `path` (raising `PupilFileError` before any write) and apply it as the roll of the school `site_id`."""
    rows = read_pupil_file(path)
    try:
        with db.session() as session:
            return apply_rows(session, rows, actor, site_id)
    except IntegrityError:  # PostgreSQL: another import added the same pupil meanwhile, and committed first
        raise PupilFileError("another import of pupils ran at the same time; run this one again") from None


def apply_rows(session: Session, rows: list[PupilRow], actor: str, site_id: int = DEFAULT_SITE_ID) -> ImportCounts:
    """Make the school's pupils match `rows` (its whole roll), in the caller's transaction, audited."""
    now = utcnow()
    existing = {pupil.mis_id: pupil for pupil in session.scalars(select(Pupil).where(Pupil.site_id == site_id))}
    added = updated = unchanged = 0
    for row in rows:
        pupil = existing.pop(row.mis_id, None)
        if pupil is None:
            session.add(Pupil(site_id=site_id, mis_id=row.mis_id, name=row.name, class_name=row.class_name,
                              year_group=row.year_group, on_roll=True, created_at=now, updated_at=now))
            added += 1
            continue
        wanted = {"name": row.name, "class_name": row.class_name, "year_group": row.year_group, "on_roll": True}
        if all(getattr(pupil, key) == value for key, value in wanted.items()):
            unchanged += 1
            continue
        for key, value in wanted.items():
            setattr(pupil, key, value)
        pupil.updated_at = now
        updated += 1
    off_roll = 0
    for pupil in existing.values():  # on the roll before, not in this export: they have left
        if pupil.on_roll:
            pupil.on_roll = False
            pupil.updated_at = now
            off_roll += 1
    counts = ImportCounts(added, updated, unchanged, off_roll)
    session.flush()
    audit(session, actor, "pupils.import", "pupils", after={**asdict(counts), "rows": len(rows)}, site_id=site_id)
    return counts
