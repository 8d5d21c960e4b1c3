"""The consent record on SQLite and PostgreSQL: what is in force on a day, what may be recorded, the class view."""

from __future__ import annotations

import json
import threading
from datetime import date

import pytest
from sqlalchemy import select

from rules.consent.class_view import class_consent, classes, search
from rules.consent.records import Change, ConsentError, Entry, history, record_consent, record_many, view_pupil
from rules.consent.status import Media, consent_on
from rules.store.db import Database
from rules.store.models import AuditEntry, ConsentRecord, Pupil

OFFICE = "olive.office@school.test"
CLASS_4B = [("A1", "Sam Jones"), ("A2", "Bea Smith"), ("A3", "Kit Cole"), ("A4", "Ali Khan")]


@pytest.fixture
def ids(db: Database) -> dict[str, int]:
    with db.session() as session:
        rows = [Pupil(mis_id=m, name=n, class_name="4B", year_group="Year 4") for m, n in CLASS_4B]
        rows.append(Pupil(mis_id="B1", name="Zed Left", class_name="4B", year_group="Year 4", on_roll=False))
        rows.append(Pupil(mis_id="C1", name="Eve Other", class_name="5A", year_group="Year 5"))
        session.add_all(rows)
        session.flush()
        return {p.mis_id: p.id for p in rows}


def add(db: Database, pupil_id: int, change: Change, images: bool, videos: bool, effective_on: date, *,
        year: int = 2026, on: date = date(2026, 11, 27), given_by: str = "Mrs Jones") -> ConsentRecord:
    with db.session() as session:
        return record_consent(session, Entry(pupil_id, change, images, videos, given_by, effective_on),
                              academic_year=year, actor=OFFICE, on=on)


def in_force(db: Database, pupil_id: int, day: date) -> tuple[bool, bool, str | None]:
    with db.session(read_only=True) as session:
        found = consent_on(session, [pupil_id], day)[pupil_id]
    return found.allows(Media.IMAGES), found.allows(Media.VIDEOS), found.change


def test_withdrawal_dated_in_the_past_is_honoured_from_that_date(db: Database, ids: dict[str, int]) -> None:
    sam = ids["A1"]
    add(db, sam, Change.GIVEN, True, True, date(2026, 9, 3), on=date(2026, 9, 3))
    assert in_force(db, sam, date(2026, 11, 10)) == (True, True, "given")
    # the letter arrived on 10 November; it is recorded on 27 November
    add(db, sam, Change.WITHDRAWN, False, False, date(2026, 11, 10))
    assert in_force(db, sam, date(2026, 11, 9)) == (True, True, "given")
    assert in_force(db, sam, date(2026, 11, 10)) == (False, False, "withdrawn")
    assert in_force(db, sam, date(2026, 11, 27)) == (False, False, "withdrawn")


def test_amendment_images_yes_videos_no(db: Database, ids: dict[str, int]) -> None:
    bea = ids["A2"]
    add(db, bea, Change.GIVEN, True, True, date(2026, 9, 4))
    add(db, bea, Change.AMENDED, True, False, date(2026, 10, 1))
    assert in_force(db, bea, date(2026, 9, 30)) == (True, True, "given")
    assert in_force(db, bea, date(2026, 10, 1)) == (True, False, "amended")


def test_the_academic_year_ends_on_31_august(db: Database, ids: dict[str, int]) -> None:
    kit = ids["A3"]
    add(db, kit, Change.GIVEN, True, True, date(2025, 9, 2), year=2025)
    assert in_force(db, kit, date(2026, 8, 31)) == (True, True, "given")
    assert in_force(db, kit, date(2026, 9, 1)) == (False, False, None)  # a new year: nothing recorded yet
    add(db, kit, Change.GIVEN, False, True, date(2026, 9, 1), year=2026)
    assert in_force(db, kit, date(2026, 9, 1)) == (False, True, "given")
    assert in_force(db, kit, date(2026, 8, 31)) == (True, True, "given")  # last year's answer is unchanged


@pytest.mark.parametrize(("entry", "year", "message"), [
    (Entry(0, Change.GIVEN, True, True, "Mrs Jones", date(2026, 11, 28)), 2026, "is in the future"),
    (Entry(0, Change.GIVEN, True, True, "Mrs Jones", date(2026, 8, 31)), 2026, "is not in the academic year 2026/27"),
    (Entry(0, Change.GIVEN, True, True, "Mrs Jones", date(2026, 9, 1)), 2025, "is not in the academic year 2025/26"),
    (Entry(0, Change.GIVEN, True, True, "   ", date(2026, 9, 1)), 2026, "say who gave it"),
    (Entry(0, Change.GIVEN, True, True, "x" * 129, date(2026, 9, 1)), 2026, "at most 128 characters"),
    (Entry(0, Change.AMENDED, True, False, "Mrs Jones", date(2026, 9, 9)), 2026, "nothing to amend"),
    (Entry(0, Change.WITHDRAWN, False, False, "Mrs Jones", date(2026, 9, 9)), 2026, "nothing to withdraw"),
    (Entry(0, Change.WITHDRAWN, True, False, "Mrs Jones", date(2026, 9, 9)), 2026, "a withdrawal leaves no consent"),
])
def test_what_cannot_be_recorded(db: Database, ids: dict[str, int], entry: Entry, year: int, message: str) -> None:
    bad = Entry(ids["A1"], entry.change, entry.images, entry.videos, entry.given_by, entry.effective_on)
    with pytest.raises(ConsentError, match=message), db.session() as session:
        record_consent(session, bad, academic_year=year, actor=OFFICE, on=date(2026, 11, 27))
    with db.session(read_only=True) as session:
        assert history(session, ids["A1"]) == []
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "consent.record")).all() == []


def test_given_twice_is_an_amendment_and_a_withdrawal_before_the_consent_is_refused(db: Database,
                                                                                   ids: dict[str, int]) -> None:
    add(db, ids["A1"], Change.GIVEN, True, True, date(2026, 9, 10))
    with pytest.raises(ConsentError, match="already recorded: amend or withdraw it"):
        add(db, ids["A1"], Change.GIVEN, True, False, date(2026, 9, 12))
    with pytest.raises(ConsentError, match="nothing to withdraw"):
        add(db, ids["A1"], Change.WITHDRAWN, False, False, date(2026, 9, 9))


def test_each_change_is_audited_with_before_and_after_never_a_name(db: Database, ids: dict[str, int]) -> None:
    sam = ids["A1"]
    add(db, sam, Change.GIVEN, True, True, date(2026, 9, 3))
    add(db, sam, Change.AMENDED, True, False, date(2026, 10, 3), given_by="Mr Jones")
    with db.session(read_only=True) as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "consent.record")
                                       .order_by(AuditEntry.id)))
        rows = history(session, sam)
    assert [e.target for e in entries] == [f"pupil #{sam}"] * 2 and {e.actor for e in entries} == {OFFICE}
    assert json.loads(entries[1].before or "")["images"] is True and json.loads(entries[1].before or "")["videos"]
    after = json.loads(entries[1].after or "")
    assert (after["change"], after["images"], after["videos"], after["effective_on"]) == ("amended", True, False,
                                                                                           "2026-10-03")
    assert all("Jones" not in f"{e.before}{e.after}" for e in entries)
    assert [(r.change, r.given_by, r.recorded_by) for r in rows] == [("given", "Mrs Jones", OFFICE),
                                                                     ("amended", "Mr Jones", OFFICE)]


def test_viewing_a_pupil_is_audited(db: Database, ids: dict[str, int]) -> None:
    add(db, ids["A2"], Change.GIVEN, True, False, date(2026, 9, 3))
    with db.session() as session:
        pupil, found, rows = view_pupil(session, ids["A2"], "dan.dpo@school.test", on=date(2026, 11, 27))
    assert pupil.name == "Bea Smith" and (found.images, found.videos) == (True, False) and len(rows) == 1
    with db.session(read_only=True) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "consent.view")).one()
    assert (entry.actor, entry.target) == ("dan.dpo@school.test", f"pupil #{ids['A2']}")


def test_class_view_answers_who_may_appear(db: Database, ids: dict[str, int]) -> None:
    add(db, ids["A1"], Change.GIVEN, True, True, date(2026, 9, 3))
    add(db, ids["A2"], Change.GIVEN, True, True, date(2026, 9, 3))
    add(db, ids["A2"], Change.AMENDED, True, False, date(2026, 10, 1))
    add(db, ids["A3"], Change.GIVEN, True, True, date(2026, 9, 3))
    add(db, ids["A3"], Change.WITHDRAWN, False, False, date(2026, 11, 1))
    add(db, ids["B1"], Change.GIVEN, True, True, date(2026, 9, 3))  # off roll: not in the class any more
    with db.session(read_only=True) as session:
        answer = class_consent(session, "4B", 2026, date(2026, 11, 27))
        last_year = class_consent(session, "4B", 2025, date(2026, 11, 27))
        september = class_consent(session, "4B", 2026, date(2026, 9, 20))
    got = {r.pupil.name: (r.images, r.videos, r.recorded) for r in answer.rows}
    assert got == {"Ali Khan": (False, False, False), "Bea Smith": (True, False, True),
                   "Kit Cole": (False, False, True), "Sam Jones": (True, True, True)}
    assert [r.pupil.name for r in answer.rows] == ["Ali Khan", "Bea Smith", "Kit Cole", "Sam Jones"]
    assert (answer.images, answer.videos, answer.not_recorded, answer.day) == (2, 1, 1, date(2026, 11, 27))
    assert last_year.day == date(2026, 8, 31) and last_year.not_recorded == 4
    assert (september.images, september.videos) == (3, 3)


def test_bulk_records_all_or_none(db: Database, ids: dict[str, int]) -> None:
    good = Entry(ids["A1"], Change.GIVEN, True, True, "Mrs Jones", date(2026, 9, 5))
    bad = Entry(ids["A2"], Change.GIVEN, True, False, "", date(2026, 9, 5))
    with pytest.raises(ConsentError, match="Bea Smith: say who gave it"), db.session() as session:
        record_many(session, [good, bad], academic_year=2026, actor=OFFICE, on=date(2026, 9, 6))
    with db.session(read_only=True) as session:
        assert session.scalars(select(ConsentRecord)).all() == []
    ok = Entry(ids["A2"], Change.GIVEN, True, False, "Mr Smith", date(2026, 9, 5))
    with db.session() as session:
        assert len(record_many(session, [good, ok], academic_year=2026, actor=OFFICE, on=date(2026, 9, 6))) == 2


def test_classes_and_search(db: Database, ids: dict[str, int]) -> None:
    with db.session(read_only=True) as session:
        assert classes(session) == [("4B", "Year 4", 4), ("5A", "Year 5", 1)]
        assert [p.name for p in search(session, "smith bea")] == ["Bea Smith"]
        assert [p.name for p in search(session, "LEFT")] == ["Zed Left"]  # off roll pupils are found too
        assert search(session, "%") == [] and search(session, "_") == []


def test_two_people_recording_the_same_form_at_once_make_one_record(db: Database, ids: dict[str, int]) -> None:
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def give(given_by: str) -> None:
        barrier.wait()  # both start together (SQLite queues the second writer; PostgreSQL runs both)
        try:
            add(db, ids["A1"], Change.GIVEN, True, True, date(2026, 9, 3), given_by=given_by)
            outcomes.append("given")
        except ConsentError as exc:
            outcomes.append(f"refused: {exc}")

    threads = [threading.Thread(target=give, args=(who,)) for who in ("Mrs Jones", "Mr Jones")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(o.split(":")[0] for o in outcomes) == ["given", "refused"], outcomes
    with db.session(read_only=True) as session:
        assert len(history(session, ids["A1"])) == 1
