"""The expiry job, called as a plain function: exceptions, supervised sessions and bans whose time is up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from rules.jobs.expiry import expire
from rules.monitoring.states import BanState
from rules.policy.compile import read_version
from rules.store.db import Database
from rules.store.models import AuditEntry, Ban, Rule, SupervisedSession

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def audits(db: Database, action: str) -> list[AuditEntry]:
    with db.session(read_only=True) as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_expiry_records_each_rule_and_session_once(db: Database) -> None:
    with db.session() as session:
        past = Rule(action="allow", domain="youtube.com", expires_at=NOW - timedelta(minutes=1), reason="trip")
        future = Rule(action="allow", domain="vimeo.com", expires_at=NOW + timedelta(days=1))
        ban = Ban(person="Pupil A", reason="VPN", ends_at=NOW - timedelta(seconds=1))
        session.add_all([past, future, ban])
        session.flush()
        session.add(SupervisedSession(ban_id=ban.id, staff_name="Ms Smith", starts_at=NOW - timedelta(hours=1),
                                      ends_at=NOW - timedelta(minutes=5)))
    version = read_version(db)
    first = expire(db, NOW)
    assert first.rules == [past.id] and len(first.sessions) == 1 and first.bans == [ban.id]
    assert read_version(db) > version
    version = read_version(db)
    second = expire(db, NOW + timedelta(minutes=1))
    assert second.rules == [] and second.sessions == [] and second.bans == []
    assert read_version(db) == version  # nothing new: no recompile
    assert [a.target for a in audits(db, "rule.expired")] == [f"rule #{past.id}"]
    assert len(audits(db, "supervised_session.ended")) == 1 and len(audits(db, "ban.expired")) == 1
    with db.session(read_only=True) as session:
        assert session.get_one(Rule, past.id).enabled is True  # the record stays
        assert session.get_one(Ban, ban.id).state == BanState.EXPIRED
