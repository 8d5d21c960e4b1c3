"""`import_pupil_file` on SQLite and PostgreSQL: added, updated, unchanged, off roll; a broken file changes nothing."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from rules.consent.pupil_file import PupilFileError
from rules.consent.pupils_import import ImportCounts, import_pupil_file
from rules.consent.records import Change, Entry, record_consent
from rules.store.db import Database
from rules.store.models import AuditEntry, ConsentRecord, Pupil

FIRST = ("UPN,Forename,Surname,Reg Group,Year Group\n"
         "A1,Sam,Jones,4B,Year 4\nA2,Bea,Smith,4B,Year 4\nA3,Kit,Cole,5A,Year 5\n")
# a year on: Sam moved up to 5B, Bea left, Kit's name is unchanged, Ali joined
SECOND = ("UPN;Forename;Surname;Reg Group;Year Group\n"
          "A1;Sam;Jones;5B;Year 5\nA3;Kit;Cole;5A;Year 5\nA4;Ali;Khan;4B;Year 4\n")


def write(tmp_path: Path, text: str, name: str = "pupils.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def pupils(db: Database) -> dict[str, tuple[str, str, str, bool]]:
    with db.session(read_only=True) as session:
        return {p.mis_id: (p.name, p.class_name, p.year_group, p.on_roll) for p in session.scalars(select(Pupil))}


def test_import_then_reimport_updates_adds_and_takes_off_roll(db: Database, tmp_path: Path) -> None:
    assert import_pupil_file(db, write(tmp_path, FIRST), "cli:office") == ImportCounts(added=3)
    assert pupils(db) == {"A1": ("Sam Jones", "4B", "Year 4", True), "A2": ("Bea Smith", "4B", "Year 4", True),
                          "A3": ("Kit Cole", "5A", "Year 5", True)}
    with db.session() as session:
        bea = session.scalars(select(Pupil).where(Pupil.mis_id == "A2")).one()
        record_consent(session, Entry(bea.id, Change.GIVEN, True, False, "Mrs Smith", date(2025, 9, 4)),
                       academic_year=2025, actor="olive.office@school.test", on=date(2025, 9, 10))

    counts = import_pupil_file(db, write(tmp_path, SECOND), "cli:office")
    assert counts == ImportCounts(added=1, updated=1, unchanged=1, off_roll=1)
    assert counts.summary() == "1 added, 1 updated, 1 unchanged, 1 off roll"
    assert pupils(db) == {"A1": ("Sam Jones", "5B", "Year 5", True), "A2": ("Bea Smith", "4B", "Year 4", False),
                          "A3": ("Kit Cole", "5A", "Year 5", True), "A4": ("Ali Khan", "4B", "Year 4", True)}
    with db.session(read_only=True) as session:  # Bea is off roll, not deleted: her consent history stays
        assert session.scalar(select(func.count()).select_from(ConsentRecord)) == 1

    # the same file again changes nothing; Bea coming back puts her on roll again
    assert import_pupil_file(db, write(tmp_path, SECOND), "cli:office") == ImportCounts(unchanged=3)
    back = SECOND + "A2;Bea;Smith;5B;Year 5\n"
    assert import_pupil_file(db, write(tmp_path, back), "cli:office") == ImportCounts(updated=1, unchanged=3)
    assert pupils(db)["A2"] == ("Bea Smith", "5B", "Year 5", True)

    with db.session(read_only=True) as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "pupils.import")
                                       .order_by(AuditEntry.id)))
    assert [json.loads(e.after or "{}") for e in entries][1] == {"added": 1, "updated": 1, "unchanged": 1,
                                                                 "off_roll": 1, "rows": 3}
    assert all(e.actor == "cli:office" for e in entries)
    for entry in entries:  # counts only: no pupil's name, no id from the MIS
        text = f"{entry.target} {entry.before} {entry.after} {entry.reason}"
        assert not any(word in text for word in ("Sam", "Jones", "Bea", "Smith", "Kit", "Ali", "A1", "A2"))


@pytest.mark.parametrize("broken", [
    "A9,Zed Zed,4B,4\n",  # no header
    "UPN,Name,Class,Year\nA1,Sam Jones,4B,4\nA1,Other,4B,4\n",  # duplicate id
    "UPN,Name,Class,Year\nA1,Sam Jones,4B,4\nA5,,4B,4\n",  # empty name
    "UPN,Name,Class,Year\nA1,Sam Jones,4B,4\nA5," + "x" * 200 + ",4B,4\n",  # over-long
])
def test_a_broken_file_changes_nothing(db: Database, tmp_path: Path, broken: str) -> None:
    import_pupil_file(db, write(tmp_path, FIRST), "cli:office")
    before = pupils(db)
    with pytest.raises(PupilFileError):
        import_pupil_file(db, write(tmp_path, broken, "broken.csv"), "cli:office")
    assert pupils(db) == before
    with db.session(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "pupils.import")) == 1


def test_binary_file_is_refused(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "pupils.xlsx"
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    with pytest.raises(PupilFileError, match="binary file"):
        import_pupil_file(db, path, "cli:office")
    assert pupils(db) == {}
