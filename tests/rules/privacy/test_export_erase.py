"""Subject access and erasure on SQLite and PostgreSQL: everything about Sam Pupil is exported, then nothing is left.

After the erasure every table is read back through the database's own catalogue (not the models), every text
value of every row is looked at, and none may hold Sam's name, his devices' names or their MACs; Bea Pupil's
rows, and Tom Teacher's, come through as they were.
"""

from __future__ import annotations

import json
import re
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, func, select

from rules.privacy import erasure as erasure_module
from rules.privacy.erasure import ErasureError, erase, preview
from rules.privacy.export import NothingHeld, export_person
from rules.privacy.subject import SubjectError
from rules.privacy.terms import ERASED
from rules.store.db import Database
from rules.store.event_writer import EventRecord, EventWriter
from rules.store.models import (
    AccessEvent,
    AccessRequest,
    AuditEntry,
    Ban,
    ContentReport,
    Device,
    DeviceAddress,
    SupervisedSession,
    User,
)
from tests.rules.privacy.people import BEA, BEA_DEVICE, HOSTILE, SAM, SAM_DEVICES, TOM, School, populate

SAM_STRINGS = [SAM, *SAM_DEVICES, *(mac for _, mac in SAM_DEVICES.values()), "sam+pupil"]


def every_text(db: Database) -> list[tuple[str, str, str]]:
    """(table, column, value) for every text value in every table the database has."""
    found = []
    meta = MetaData()
    meta.reflect(bind=db.engine)
    with db.engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(table.select()).mappings():
                found += [(table.name, column, value) for column, value in row.items() if isinstance(value, str)]
    return found


def holding(db: Database, strings: list[str]) -> list[tuple[str, str, str]]:
    wanted = [s.casefold() for s in strings]
    return [(t, c, v) for t, c, v in every_text(db) if any(w in v.casefold() for w in wanted)]


@pytest.fixture
def school(db: Database, tmp_path: Path) -> School:
    return populate(db, tmp_path / "state")


def test_the_export_holds_every_item_about_the_pupil_and_nothing_of_another(db: Database, school: School,
                                                                          tmp_path: Path) -> None:
    state = tmp_path / "state"
    exported = export_person(db, "  sam PUPIL ", state / "exports", "ann.head@school.test", state)
    json_path, html_path = exported.paths
    assert stat.S_IMODE((state / "exports").stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in exported.paths)
    text = json_path.read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)

    assert data["subject_access"]["person"] == "sam PUPIL"
    assert exported.counts == data["subject_access"]["counts"]
    assert {(d["name"], d["mac"], d["person"]) for d in data["devices"]} == {
        (name, mac, SAM) for name, (_, mac) in SAM_DEVICES.items()}
    assert sorted(a["ip"] for d in data["devices"] for a in d["addresses"]) == ["10.0.0.17", "10.0.0.18"]
    assert len(data["access_events"]) == school.sam_events == exported.counts["access_events"] == 5
    assert {e["host"] for e in data["access_events"]} == {HOSTILE, "www.bbc.co.uk", "203.0.113.5"}
    [ban] = data["bans"]
    assert ban["id"] == school.sam_ban and ban["person"] == SAM
    assert [e["host"] for e in ban["evidence"]] == [HOSTILE, "cloudflare-dns.com"]  # parsed, not a JSON string
    assert [s["id"] for s in ban["supervised_sessions"]] == [school.sam_session]
    assert [r["id"] for r in data["content_reports"]] == [school.sam_report]
    assert [r["id"] for r in data["access_requests"]] == [school.request]
    assert data["accounts"] == []
    assert sorted(f["file"] for f in data["report_files"]) == sorted(p.name for p in school.report_files)
    assert all(any(SAM in line for line in f["lines"]) for f in data["report_files"])
    audit = {(e["action"], e["target"]) for e in data["audit_entries"]}
    assert {("ban.create", f"ban #{school.sam_ban}"), ("report.file", f"content report #{school.sam_report}"),
            ("request.file", f"access request #{school.request}"), ("access_log.view", "access log"),
            *(("device.register", f"device #{i}") for i in school.sam_devices)} <= audit
    viewed = [e["after"] for e in data["audit_entries"] if e["action"] == "access_log.view"]
    assert viewed == [{"person": SAM, "action": "block"}]  # parsed; Bea's view is not about Sam
    assert ("ban.create", f"ban #{school.bea_ban}") not in audit
    assert ("report.file", f"content report #{school.bea_report}") not in audit
    assert BEA not in text and BEA_DEVICE[0] not in text and "password_hash" not in text

    page = html_path.read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;.example" in page and "<img" not in page
    for expected in (SAM, *SAM_DEVICES, "cloudflare-dns.com", "10.0.0.17"):
        assert expected.replace("'", "&#x27;") in page
    assert BEA not in page

    with db.session(read_only=True) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "data.export")).one()
    assert entry.actor == "ann.head@school.test" and entry.target == "sam PUPIL"
    assert json.loads(entry.after or "")["files"] == [json_path.name, html_path.name]


def test_after_erasure_no_table_holds_the_pupil_and_the_audit_keeps_only_the_fact(db: Database, school: School,
                                                                                 tmp_path: Path) -> None:
    state = tmp_path / "state"
    export_person(db, SAM, state / "exports", "ann.head@school.test", state)
    assert holding(db, SAM_STRINGS)  # the test can see them before
    assert preview(db, SAM) == {"access_events": 5, "bans": 1, "supervised_sessions": 1, "devices": 2,
                                "accounts": 0, "access_requests": 1, "content_reports": 1, "pupils": 0,
                                "consent_records": 0, "consent_given": 0, "abuse_log": 0}

    done = erase(db, "SAM PUPIL", "ann.head@school.test", state)

    assert re.fullmatch(r"E-\d{8}-[0-9a-f]{6}", done.reference)
    assert holding(db, SAM_STRINGS) == []
    with db.session(read_only=True) as session:
        record = session.scalars(select(AuditEntry).where(AuditEntry.action == "data.erase")).one()
        assert (record.actor, record.target) == ("ann.head@school.test", done.reference)
        counts = json.loads(record.after or "")
        assert counts["access_events"] == 5 and counts["bans"] == 1 and counts["devices"] == 2
        assert "Sam" not in (record.after or "") + record.reason
        devices = {d.id: d for d in session.scalars(select(Device))}
        for device_id in school.sam_devices:
            assert (devices[device_id].name, devices[device_id].mac, devices[device_id].person) == (
                f"Device #{device_id}", None, None)
        assert session.scalar(select(func.count()).select_from(DeviceAddress)
                              .where(DeviceAddress.device_id.in_(school.sam_devices))) == 0
        assert session.get(Ban, school.sam_ban) is None and session.get(SupervisedSession, school.sam_session) is None
        report = session.get(ContentReport, school.sam_report)
        assert report is not None and report.individual == ERASED and report.reporter_name == TOM[1]
        assert report.nature == f"{ERASED} was sent this"
        request = session.get(AccessRequest, school.request)
        assert request is not None and request.device_id == school.sam_devices[0]
        library = session.scalars(select(AccessEvent).where(AccessEvent.device_id == school.library_device)).one()
        assert library.search_term == f"{ERASED} is a" and library.host == "www.google.com"

        # Bea, and what belongs to the school, are as they were.
        bea = devices[school.bea_device]
        assert (bea.name, bea.mac, bea.person) == BEA_DEVICE[::2] + (BEA,)
        assert session.scalar(select(func.count()).select_from(AccessEvent)
                              .where(AccessEvent.device_id == school.bea_device)) == 2
        bea_ban = session.get(Ban, school.bea_ban)
        assert bea_ban is not None and HOSTILE in bea_ban.evidence
        bea_report = session.get(ContentReport, school.bea_report)
        assert bea_report is not None and bea_report.individual == BEA
        views = [json.loads(e.after or "") for e in session.scalars(select(AuditEntry).where(
            AuditEntry.action == "access_log.view"))]
        assert {"person": BEA} in views
        created = session.scalars(select(AuditEntry).where(AuditEntry.target == f"ban #{school.sam_ban}")).one()
        assert json.loads(created.after or "")["evidence"] == ERASED  # the copy of his events went with them
    for path in school.report_files:
        text = path.read_text(encoding="utf-8")
        assert SAM not in text and ERASED in text and BEA in text
    assert list((state / "exports").iterdir()) == []  # the earlier export of him went too


def test_a_member_of_staff_found_by_email_is_anonymised_and_keeps_the_school_record(db: Database, school: School,
                                                                                   tmp_path: Path) -> None:
    done = erase(db, TOM[0].upper(), "ann.head@school.test", tmp_path / "state")
    assert holding(db, list(TOM)) == []
    with db.session(read_only=True) as session:
        tom = session.get(User, school.tom)
        assert tom is not None
        assert (tom.email, tom.name, tom.password_hash, tom.active) == (f"erased-user-{tom.id}", ERASED, "", False)
        assert tom.session_epoch >= 1
        report = session.get(ContentReport, school.sam_report)
        assert report is not None and report.reporter_name == ERASED and report.individual == SAM
        request = session.get(AccessRequest, school.request)
        assert request is not None and request.requester_name == ERASED and request.full_url.startswith("https://")
        filed = session.scalars(select(AuditEntry).where(AuditEntry.action == "report.file")).all()
        assert {e.actor for e in filed} == {f"erased-user-{tom.id}"}
        supervised = session.get(SupervisedSession, school.sam_session)
        assert supervised is not None and supervised.staff_name == ERASED
        assert session.get(Ban, school.sam_ban) is not None  # Sam's ban is not Tom's to lose
    assert done.counts["accounts"] == 1 and done.counts["bans"] == 0


def test_a_failure_half_way_leaves_nothing_erased(db: Database, school: School, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    before = holding(db, SAM_STRINGS)

    def broken(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(erasure_module, "scrub_tables", broken)
    with pytest.raises(RuntimeError):
        erase(db, SAM, "ann.head@school.test", tmp_path / "state")
    assert holding(db, SAM_STRINGS) == before
    with db.session(read_only=True) as session:
        assert session.get(Ban, school.sam_ban) is not None
        erasures = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "data.erase")
        assert session.scalar(erasures) == 0
    assert all(SAM in p.read_text(encoding="utf-8") for p in school.report_files)


def test_a_name_nobody_has_and_a_blank_name_are_refused_and_nobody_erases_themselves(db: Database,
                                                                                  school: School) -> None:
    with pytest.raises(NothingHeld, match="nothing is held about 'Sam Pupi'"):
        preview(db, "Sam Pupi")  # the whole name, never a part of one
    with pytest.raises(NothingHeld):
        erase(db, "Nobody Here", "ann.head@school.test")
    with pytest.raises(SubjectError, match="give the person's name"):
        export_person(db, "   ", Path("/nonexistent"), "x", None)
    with pytest.raises(ErasureError, match="you cannot erase your own account"):
        erase(db, TOM[1], TOM[0], actor_user_id=school.tom)
    assert holding(db, [TOM[0]])


def test_rows_written_while_the_logs_are_searched_are_erased_too(db: Database, school: School, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The logs are searched before the erasure's transaction; what arrives meanwhile is found inside it."""
    real_find_rows = erasure_module.find_rows

    def then_more_arrive(session: Any, terms: Any, site_ids: Any = None) -> Any:
        found = real_find_rows(session, terms, site_ids)
        with db.session() as other:
            other.add(AccessEvent(ts=datetime.now(UTC), client_ip="10.0.0.99", device_id=school.library_device,
                                  source="proxy", host="www.google.com", action="allow", search_term="sam pupil again"))
            other.add(AuditEntry(actor="dee.dsl@school.test", action="access_log.view", target="access log",
                                 after=json.dumps({"person": SAM})))
        return found

    monkeypatch.setattr(erasure_module, "find_rows", then_more_arrive)
    erase(db, SAM, "ann.head@school.test", tmp_path / "state")
    assert holding(db, SAM_STRINGS) == []
    with db.session(read_only=True) as session:
        assert f"{ERASED} again" in session.scalars(select(AccessEvent.search_term)).all()


def test_events_spooled_while_the_database_was_down_do_not_bring_the_pupil_back(db: Database, school: School,
                                                                                tmp_path: Path) -> None:
    """DNS spools its events to disk while the database is unreachable and replays them when it answers. An erasure
    that left the spool alone was undone by the replay: Sam's laptop, its MAC and his name were back in the log."""
    state = tmp_path / "state"
    spool = state / "spool" / "dns"
    now = datetime.now(UTC).timestamp()
    laptop, (ip, mac) = next(iter(SAM_DEVICES.items()))
    down = Database(f"sqlite:///{tmp_path}/no-such-folder/schoolgate.db")  # the database cannot be reached
    offline = EventWriter(down, spool)
    offline.record(EventRecord(now, ip, school.sam_devices[0], laptop, mac, "dns", "A", "spooled.example", None,
                               "allow", None, None, None, None, None, "udp", None))
    offline.record(EventRecord(now, "10.0.0.99", school.library_device, "Library PC 1", "aa:bb:cc:00:00:99", "proxy",
                               None, "www.google.com", "https://www.google.com/search?q=sam+pupil+again", "allow",
                               None, None, None, "sam pupil again", None, "tcp", None))
    offline.flush()
    down.dispose()
    assert offline.stats.spooled == 2 and list(spool.glob("events-*.jsonl"))

    done = erase(db, SAM, "ann.head@school.test", state)
    assert done.counts["spooled_events"] == 1

    EventWriter(db, spool).flush()  # the database answers again: the spool is replayed
    assert holding(db, SAM_STRINGS) == []
    with db.session(read_only=True) as session:
        replayed = session.scalars(select(AccessEvent).where(AccessEvent.device_id == school.library_device,
                                                             AccessEvent.search_term.contains("again"))).one()
        assert replayed.search_term == f"{ERASED} again"  # another device's event stays, without his name
        assert session.scalar(select(func.count()).select_from(AccessEvent)
                              .where(AccessEvent.host == "spooled.example")) == 0


def test_every_access_event_naming_him_is_in_the_export(db: Database, school: School, tmp_path: Path) -> None:
    """Someone at the library PC searched "sam pupil is a": the erasure rewrote that event, but the export (what the
    school holds about Sam) left it out. It is there now, without the library PC, its address or MAC."""
    state = tmp_path / "state"
    exported = export_person(db, SAM, state / "exports", "ann.head@school.test", state)
    data = json.loads(exported.paths[0].read_text(encoding="utf-8"))
    naming = data["access_events_naming_them"]
    assert [e["search_term"] for e in naming] == ["sam pupil is a"]
    assert "Library PC 1" not in json.dumps(naming) and "10.0.0.99" not in json.dumps(naming)
    assert data["subject_access"]["counts"]["access_events_naming_them"] == 1
    with db.session(read_only=True) as session:  # every event that holds his name or MAC, read from the table
        holding_him = {e.id for e in session.scalars(select(AccessEvent))
                       if any(s.casefold() in " ".join(str(v) for v in (e.device, e.mac, e.host, e.url, e.search_term)
                                                       ).casefold() for s in SAM_STRINGS)}
    assert holding_him == {e["id"] for e in data["access_events"]} | {e["id"] for e in naming}
    assert "sam pupil is a" in exported.paths[1].read_text(encoding="utf-8")  # the page a person reads
