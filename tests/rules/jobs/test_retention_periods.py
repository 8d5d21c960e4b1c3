"""One purge run on SQLite and PostgreSQL: every kind of personal data past its period goes, nothing younger.

Rows are placed either side of each period's boundary (a row exactly at the boundary is not older, so it
stays), and the audit entry of the run must report exactly what went.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from rules.jobs.retention import PERSON_REMOVED, PurgeResult, RetentionPeriods, purge
from rules.monitoring.states import BanState
from rules.store.db import Database
from rules.store.models import AccessEvent, AuditEntry, Ban, Device, PolicyState, SupervisedSession
from tests.conftest import Cli

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PERIODS = RetentionPeriods(access_log_days=90, ban_days=365, audit_days=2190)
SECOND = timedelta(seconds=1)


def ago(days: int, extra: timedelta = timedelta(0)) -> datetime:
    return NOW - timedelta(days=days) - extra


def add_events(db: Database) -> None:
    rows = [("old.example", ago(90, SECOND)), ("older.example", ago(400)),
            ("boundary.example", ago(90)), ("young.example", ago(89))]
    with db.session() as session:
        session.execute(insert(AccessEvent), [{"ts": ts, "client_ip": "198.18.1.10", "source": "dns", "host": host,
                                               "action": "allow"} for host, ts in rows])


def add_bans(db: Database) -> dict[str, int]:
    """Bans named by what should happen to them."""
    specs = {
        "lifted_long_ago": dict(state=BanState.LIFTED, created_at=ago(800), lifted_at=ago(365, SECOND)),
        "expired_long_ago": dict(state=BanState.EXPIRED, created_at=ago(900), ends_at=ago(366)),
        "keep_lifted_recently": dict(state=BanState.LIFTED, created_at=ago(800), lifted_at=ago(364)),
        "keep_expired_at_boundary": dict(state=BanState.EXPIRED, created_at=ago(800), ends_at=ago(365)),
        "keep_lifted_recently_after_old_end": dict(state=BanState.LIFTED, created_at=ago(900), ends_at=ago(500),
                                                   lifted_at=ago(10)),
        "keep_active_for_years": dict(state=BanState.ACTIVE, created_at=ago(1000)),
        "keep_confirmed_end_passed": dict(state=BanState.CONFIRMED, created_at=ago(900), ends_at=ago(400)),
    }
    with db.session() as session:
        device = Device(name="Class 5 iPad 03", person="Sam Pupil")
        session.add(device)
        session.flush()
        bans = {name: Ban(device_id=device.id, person="Sam Pupil", reason=name,
                          evidence=json.dumps([{"kind": "doh", "host": "dns.example"}]), **spec)
                for name, spec in specs.items()}
        session.add_all(bans.values())
        session.flush()
        for name in ("lifted_long_ago", "keep_lifted_recently"):
            session.add(SupervisedSession(ban_id=bans[name].id, staff_name="Tom Teacher", starts_at=ago(790),
                                          ends_at=ago(790) + timedelta(minutes=50)))
        return {name: ban.id for name, ban in bans.items()}


def add_audit(db: Database) -> None:
    entries = [
        ("ancient", "ban.lift", ago(2190, SECOND), None),
        ("at the audit boundary", "ban.lift", ago(2190), None),
        ("old view of a pupil's log", "access_log.view", ago(91), {"person": "Sam Pupil", "action": "block"}),
        ("old export of a pupil's log", "access_log.export", ago(90, SECOND), {"person": "Sam Pupil"}),
        ("old view without a person", "access_log.view", ago(91), {"host": "example.com"}),
        ("view at the log boundary", "access_log.view", ago(90), {"person": "Bea Pupil"}),
        ("young view", "access_log.view", ago(3), {"person": "Bea Pupil"}),
        ("old device registration", "device.register", ago(100), {"name": "Class 5 iPad 03", "person": "Sam Pupil"}),
    ]
    with db.session() as session:
        session.execute(insert(AuditEntry), [
            {"ts": ts, "actor": "dee.dsl@school.test", "action": action, "target": target, "reason": "",
             "after": None if after is None else json.dumps(after, sort_keys=True)}
            for target, action, ts, after in entries])


def add_files(state: Path) -> None:
    for folder, name, days in (("reports", "weekly-2026-08-24.txt", 91), ("reports", "weekly-2026-08-27.html", 89),
                               ("exports", "subject-access-old.json", 31), ("exports", "subject-access-new.json", 29)):
        path = state / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("ban #1: Sam Pupil, active\n")
        stamp = ago(days).timestamp()
        os.utime(path, (stamp, stamp))
    kept_outside = state / "elsewhere.txt"
    kept_outside.write_text("not a report")
    link = state / "reports" / "old-link.txt"
    link.symlink_to(kept_outside)
    os.utime(link, (ago(200).timestamp(), ago(200).timestamp()), follow_symlinks=False)
    (state / "reports" / "archive").mkdir()


def test_one_run_removes_exactly_what_is_past_each_period(db: Database, tmp_path: Path) -> None:
    state = tmp_path / "state"
    add_events(db)
    ban_ids = add_bans(db)
    add_audit(db)
    add_files(state)
    with db.session(read_only=True) as session:
        version_before = session.scalar(select(PolicyState.version))
        audit_before = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))

    result = purge(db, PERIODS, state, now=NOW, batch=2)

    assert result == PurgeResult(access_events=2, bans=2, supervised_sessions=1, audit_entries=1, person_filters=2,
                                 report_files=2, export_files=1)
    with db.session(read_only=True) as session:
        assert sorted(session.scalars(select(AccessEvent.host))) == ["boundary.example", "young.example"]
        left = set(session.scalars(select(Ban.reason)))
        assert left == {name for name in ban_ids if name.startswith("keep_")}
        assert [s.ban_id for s in session.scalars(select(SupervisedSession))] == [ban_ids["keep_lifted_recently"]]
        assert session.scalar(select(PolicyState.version)) > version_before  # bans are policy data
        entries = {e.target: e for e in session.scalars(select(AuditEntry).where(AuditEntry.id <= audit_before))}
        assert "ancient" not in entries and "at the audit boundary" in entries
        for target in ("old view of a pupil's log", "old export of a pupil's log"):
            after = json.loads(entries[target].after or "")
            assert after["person"] == PERSON_REMOVED and "Sam Pupil" not in (entries[target].after or "")
        assert json.loads(entries["old view of a pupil's log"].after or "")["action"] == "block"  # the rest stays
        assert json.loads(entries["old view without a person"].after or "") == {"host": "example.com"}
        assert json.loads(entries["view at the log boundary"].after or "")["person"] == "Bea Pupil"
        assert json.loads(entries["young view"].after or "")["person"] == "Bea Pupil"
        assert json.loads(entries["old device registration"].after or "")["person"] == "Sam Pupil"  # a change record
        record = session.scalars(select(AuditEntry).where(AuditEntry.action == "retention.purge")).one()
    assert record.actor == "retention"
    assert json.loads(record.after or "") == {"access_events": 2, "bans": 2, "supervised_sessions": 1,
                                              "concerns": 0, "concern_events": 0, "concern_notes": 0,
                                              "audit_entries": 1, "person_filters": 2, "audit_evidence": 0,
                                              "report_files": 2, "export_files": 1}
    assert sorted(p.name for p in (state / "reports").iterdir()) == ["archive", "weekly-2026-08-27.html"]
    assert sorted(p.name for p in (state / "exports").iterdir()) == ["subject-access-new.json"]
    assert (state / "elsewhere.txt").read_text() == "not a report"  # a link goes, never what it points to

    again = purge(db, PERIODS, state, now=NOW)
    assert again.total == 0 and str(again) == "0"
    with db.session(read_only=True) as session:
        assert len(session.scalars(select(AuditEntry).where(AuditEntry.action == "retention.purge")).all()) == 1


def test_the_periods_come_from_the_configuration(db: Database, tmp_path: Path) -> None:
    """Shorter periods reach younger rows: the job reads the settings it is given, not fixed numbers."""
    add_events(db)
    add_bans(db)
    result = purge(db, RetentionPeriods(access_log_days=1, ban_days=1, audit_days=5000), None, now=NOW)
    assert result.access_events == 4 and result.bans == 5 and result.audit_entries == 0
    assert str(result).startswith("11 (4 access events, 5 bans, 2 supervised sessions")


def test_the_scheduler_job_purges_the_state_folder_of_the_configuration(initialised_cli: Cli, tmp_path: Path) -> None:
    reports = tmp_path / "var" / "reports"
    reports.mkdir(parents=True)
    old = reports / "weekly-2020-01-06.txt"
    old.write_text("ban #3: Sam Pupil, active")
    stamp = (datetime.now(UTC) - timedelta(days=91)).timestamp()
    os.utime(old, (stamp, stamp))
    (tmp_path / "schoolgate.toml").write_text(
        (tmp_path / "schoolgate.toml").read_text() + "[retention]\naccess_log_days = 90\nban_days = 30\n")
    out = initialised_cli("scheduler", "--run", "purge_events").stdout
    assert out.strip() == "purge_events: 1 (1 report files)"
    assert not old.exists()


def test_evidence_copied_into_the_audit_log_goes_when_the_ban_would(db: Database, tmp_path: Path) -> None:
    """A ban's entry (as the watcher wrote it) and an alert's held the evidence: copies of access events that
    outlived the ban by the six years of the audit log. They go once `ban_days` old and the ban is gone."""
    ban_ids = add_bans(db)
    evidence = [{"kind": "doh", "host": "dns.example", "client_ip": "198.18.1.10", "ts": 1.0}]
    entries = [
        (f"ban #{ban_ids['lifted_long_ago']}", "ban.create", ago(800), "purged ban"),
        (f"ban #{ban_ids['keep_active_for_years']}", "ban.create", ago(1000), "ban still held"),
        (f"ban #{ban_ids['keep_lifted_recently']}", "ban.create", ago(800), "closed ban not yet due"),
        ("device #1", "circumvention.alert", ago(365, SECOND), "old alert"),
        ("device #1", "circumvention.alert", ago(365), "alert at the boundary"),
    ]
    with db.session() as session:
        session.execute(insert(AuditEntry), [
            {"ts": ts, "actor": "detector", "action": action, "target": target, "reason": why,
             "after": json.dumps({"device": "Class 5 iPad 03", "evidence": evidence, "person": "Sam Pupil"},
                                 sort_keys=True)} for target, action, ts, why in entries])

    result = purge(db, PERIODS, None, now=NOW)

    assert result.audit_evidence == 2 and result.bans == 2
    with db.session(read_only=True) as session:
        after = {e.reason: json.loads(e.after or "") for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action.in_(["ban.create", "circumvention.alert"])))}
    assert after["purged ban"]["evidence"] == PERSON_REMOVED and after["old alert"]["evidence"] == PERSON_REMOVED
    assert after["purged ban"]["device"] == "Class 5 iPad 03"  # the record of what happened stays
    for kept in ("ban still held", "closed ban not yet due", "alert at the boundary"):
        assert after[kept]["evidence"] == evidence, kept
