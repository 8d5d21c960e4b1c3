"""Pupils are people the school holds data on: subject access includes their row and consent history, erasure
removes them (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sqlalchemy import select

from rules.consent.records import Change, Entry, record_consent, view_pupil
from rules.privacy.erasure import erase, preview
from rules.privacy.export import export_person
from rules.store.db import Database
from rules.store.models import AuditEntry, ConsentRecord, Pupil
from tests.rules.privacy.test_export_erase import holding

POPPY = "Poppy Pupil"


def school(db: Database) -> dict[str, int]:
    with db.session() as session:
        poppy = Pupil(mis_id="A1", name=POPPY, class_name="4B", year_group="Year 4")
        bea = Pupil(mis_id="A2", name="Bea Other", class_name="4B", year_group="Year 4")
        session.add_all([poppy, bea])
        session.flush()
        for pupil, given_by in ((poppy, "Mrs Parent"), (bea, "Mr Other")):
            record_consent(session, Entry(pupil.id, Change.GIVEN, True, True, given_by, date(2026, 9, 3)),
                           academic_year=2026, actor="olive.office@school.test", on=date(2026, 11, 27))
        record_consent(session, Entry(poppy.id, Change.AMENDED, True, False, "Mrs Parent", date(2026, 10, 3)),
                       academic_year=2026, actor="olive.office@school.test", on=date(2026, 11, 27))
        view_pupil(session, poppy.id, "dan.dpo@school.test")
        return {"poppy": poppy.id, "bea": bea.id}


def test_export_holds_the_pupil_and_their_consent_history(db: Database, tmp_path: Path) -> None:
    ids = school(db)
    exported = export_person(db, "poppy pupil", tmp_path / "out", "cli:root", None)
    data = json.loads(exported.paths[0].read_text(encoding="utf-8"))
    assert data["subject_access"]["matched_by"] == [f"pupil #{ids['poppy']} (the consent record)"]
    [pupil] = data["pupils"]
    assert (pupil["name"], pupil["class_name"], pupil["mis_id"]) == (POPPY, "4B", "A1")
    assert [(r["change"], r["images"], r["videos"], r["given_by"]) for r in pupil["consent_records"]] == [
        ("given", True, True, "Mrs Parent"), ("amended", True, False, "Mrs Parent")]
    actions = sorted(e["action"] for e in data["audit_entries"])
    assert actions == ["consent.record", "consent.record", "consent.view"]  # by "pupil #N": Bea's are not here
    assert exported.counts["pupils"] == 1
    assert "Pupil record and consent history" in exported.paths[1].read_text(encoding="utf-8")


def test_erasure_removes_the_pupil_and_their_consent(db: Database) -> None:
    ids = school(db)
    assert preview(db, POPPY)["pupils"] == 1 and preview(db, POPPY)["consent_records"] == 2
    done = erase(db, POPPY, "cli:root")
    assert (done.counts["pupils"], done.counts["consent_records"]) == (1, 2)
    assert holding(db, ["Poppy"]) == []
    with db.session(read_only=True) as session:
        assert session.get(Pupil, ids["poppy"]) is None
        assert [r.pupil_id for r in session.scalars(select(ConsentRecord))] == [ids["bea"]]
        assert session.get(Pupil, ids["bea"]).name == "Bea Other"  # type: ignore[union-attr]
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "data.erase")).one()
        assert "Poppy" not in f"{entry.target}{entry.after}"


def test_the_parent_who_gave_consent_is_a_subject_too(db: Database, tmp_path: Path) -> None:
    ids = school(db)
    exported = export_person(db, "Mrs Parent", tmp_path / "out", "cli:root", None)
    data = json.loads(exported.paths[0].read_text(encoding="utf-8"))
    assert [(r["pupil_id"], r["change"]) for r in data["consent_given"]] == [(ids["poppy"], "given"),
                                                                            (ids["poppy"], "amended")]
    assert data["pupils"] == []  # the child's own record is the child's
    erase(db, "mrs parent", "cli:root")
    with db.session(read_only=True) as session:
        given = {(r.pupil_id, r.change): r.given_by for r in session.scalars(select(ConsentRecord))}
    # the consent stays in force as recorded; who gave it is no longer known
    assert given == {(ids["poppy"], "given"): "[erased]", (ids["poppy"], "amended"): "[erased]",
                     (ids["bea"], "given"): "Mr Other"}
    assert holding(db, ["Mrs Parent"]) == []
