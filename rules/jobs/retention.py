"""The retention job: delete personal data once each retention period has passed, in batches.

What is kept, and for how long (`[retention]`, see docs/configuration.md):

- access events: `access_log_days` (90 days by default);
- a closed ban (lifted, expired: any state but the current ones), with its evidence and supervised sessions:
  `ban_days` after it ended (365 by default);
- a closed safeguarding concern (no concern, record made, escalated), with its frozen context and notes:
  `audit_days` after it was closed (the safeguarding record period); an open concern is never deleted, and
  its context is a copy, so deleting the access events it was copied from takes nothing from it;
- audit entries: `audit_days` (six years by default, the usual safeguarding record period); but the person
  an access-log view or export was filtered on (a pupil's name, in the entry's "person") is removed once the
  entry is `access_log_days` old, because it says whose log was read and needs no longer than the log itself;
  and the evidence (copies of access events) an alert's entry holds, or a ban's entry made before bans kept
  it to themselves, goes once the entry is `ban_days` old and its ban is gone, as the ban's own evidence does;
- weekly report files under the state folder's reports/: `access_log_days` (they summarise access events and
  name banned pupils); subject access exports under exports/: `EXPORT_DAYS` (they are copies for handing
  over; the law gives a month to answer).

Every delete runs in batches of `PURGE_BATCH` rows a transaction, so a large purge never holds the database's
write lock for long. One run writes one audit entry saying what it removed, only when it removed something.
"""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, and_, delete, func, select, update
from sqlalchemy.orm import Session

from rules.monitoring.states import CURRENT_BAN_STATES
from rules.safeguarding.states import CLOSED_STATES
from rules.store import partitions
from rules.store.audit import audit
from rules.store.db import Database, bump_policy_version
from rules.store.models import (
    AccessEvent,
    AuditEntry,
    Ban,
    Concern,
    ConcernEvent,
    ConcernNote,
    SupervisedSession,
    utcnow,
)

log = logging.getLogger(__name__)
PURGE_BATCH = 10_000
ACTOR = "retention"
EXPORT_DAYS = 30
REPORTS_FOLDER = "reports"
EXPORTS_FOLDER = "exports"
# The audit entries that record an access-log filter (`rules.store.access_log.LogFilter.describe()`), and what
# the person filed on becomes once the entry is older than the access log.
FILTER_ACTIONS_PREFIX = "access_log."
PERSON_KEY = "person"
PERSON_REMOVED = "[removed]"
# Audit entries that may hold a copy of a ban's or an alert's evidence under "evidence" (a JSON list).
EVIDENCE_ACTIONS = ("ban.create", "circumvention.alert")
EVIDENCE_KEY = "evidence"


@dataclass(frozen=True)
class RetentionPeriods:
    """The `[retention]` settings, in days: plain values, so the job never reads the configuration itself."""

    access_log_days: int = 90
    ban_days: int = 365
    audit_days: int = 2190


@dataclass
class PurgeResult:
    """What one run removed, by kind."""

    access_events: int = 0
    bans: int = 0
    supervised_sessions: int = 0
    concerns: int = 0
    concern_events: int = 0
    concern_notes: int = 0
    audit_entries: int = 0
    person_filters: int = 0
    audit_evidence: int = 0
    report_files: int = 0
    export_files: int = 0

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))

    def counts(self) -> dict[str, int]:
        return asdict(self)

    def __str__(self) -> str:
        """The total first (what `schoolgate scheduler --run purge_events` prints), then each kind removed."""
        parts = [f"{n} {name.replace('_', ' ')}" for name, n in self.counts().items() if n]
        return f"{self.total} ({', '.join(parts)})" if parts else "0"


def purge(db: Database, periods: RetentionPeriods, state_dir: Path | None = None, now: datetime | None = None,
          batch: int = PURGE_BATCH) -> PurgeResult:
    """Remove everything past its period (files only when `state_dir` is given); audit what went, if anything."""
    moment = now or utcnow()
    result = PurgeResult()
    result.access_events = purge_access_events(db, periods.access_log_days, moment, batch)
    result.bans, result.supervised_sessions = purge_closed_bans(db, periods.ban_days, moment, batch)
    result.concerns, result.concern_events, result.concern_notes = purge_closed_concerns(
        db, periods.audit_days, moment, batch)
    result.audit_entries = purge_audit_entries(db, periods.audit_days, moment, batch)
    result.person_filters = remove_person_filters(db, periods.access_log_days, moment, batch)
    result.audit_evidence = remove_copied_evidence(db, periods.ban_days, moment, batch)
    if state_dir is not None:
        result.report_files = purge_files(state_dir / REPORTS_FOLDER, periods.access_log_days, moment)
        result.export_files = purge_files(state_dir / EXPORTS_FOLDER, EXPORT_DAYS, moment)
    if result.total:
        with db.session() as session:
            audit(session, ACTOR, "retention.purge", "personal data", after=result.counts(),
                  reason=f"access_log_days={periods.access_log_days}, ban_days={periods.ban_days}, "
                         f"audit_days={periods.audit_days}, export_days={EXPORT_DAYS}")
        log.info("retention purge removed %s", result)
    return result


def _delete_older(db: Database, model: type[AccessEvent] | type[AuditEntry], cutoff: datetime, batch: int) -> int:
    """Delete rows of an append-only log with `ts` before `cutoff`, `batch` rows a transaction (never one huge
    lock on a table DNS and the proxy keep writing to)."""
    total = 0
    while True:
        with db.session() as session:
            ids = list(session.scalars(select(model.id).where(model.ts < cutoff).order_by(model.id).limit(batch)))
            if ids:
                session.execute(delete(model).where(model.id.in_(ids)))
        total += len(ids)
        if len(ids) < batch:
            return total


def purge_access_events(db: Database, days: int, now: datetime | None = None, batch: int = PURGE_BATCH) -> int:
    """Delete access events older than `days`.

    On PostgreSQL the events live in day partitions (`rules.store.partitions`): a day's partition is dropped
    whole once all of it is past the period (never a row-by-row delete of a trust's 250M events a day), so an
    event may be kept up to a day longer; the count is then the planner's estimate. SQLite deletes in batches."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    with db.engine.connect() as conn:
        partitioned = partitions.is_partitioned(conn)
    if partitioned:
        dropped = partitions.drop_before(db.engine, cutoff)
        if dropped.partitions:
            log.info("dropped %d access-event day partitions (about %d events) older than %d days",
                     dropped.partitions, dropped.rows, days)
        return dropped.rows
    total = _delete_older(db, AccessEvent, cutoff, batch)
    if total:
        log.info("purged %d access events older than %d days", total, days)
    return total


def ban_ended_at() -> ColumnElement[datetime]:
    """When a closed ban ended, as SQL: lifted, else its end date (expired), else (no record of either) its start."""
    return func.coalesce(Ban.lifted_at, Ban.ends_at, Ban.created_at)


def purge_closed_bans(db: Database, days: int, now: datetime, batch: int = PURGE_BATCH) -> tuple[int, int]:
    """Delete bans no longer current that ended more than `days` ago, with their supervised sessions.

    A ban in force is never touched, however old. Bans are policy data, so the version is bumped with the
    delete (bulk deletes do not pass through the flush hook)."""
    cutoff = now - timedelta(days=days)
    bans = sessions = 0
    while True:
        with db.session() as session:
            ids = list(session.scalars(select(Ban.id).where(Ban.state.not_in(CURRENT_BAN_STATES),
                                                            ban_ended_at() < cutoff)
                                       .order_by(Ban.id).limit(batch)))
            if ids:
                in_bans = SupervisedSession.ban_id.in_(ids)
                sessions += session.scalar(select(func.count()).select_from(SupervisedSession).where(in_bans)) or 0
                session.execute(delete(SupervisedSession).where(in_bans))
                session.execute(delete(Ban).where(Ban.id.in_(ids)))
                bump_policy_version(session)
        bans += len(ids)
        if len(ids) < batch:
            break
    return bans, sessions


def purge_closed_concerns(db: Database, days: int, now: datetime, batch: int = PURGE_BATCH) -> tuple[int, int, int]:
    """Delete closed concerns closed more than `days` ago, with their frozen context and notes; an open
    concern is kept however old. Returns (concerns, context events, notes) deleted."""
    cutoff = now - timedelta(days=days)
    closed = func.coalesce(Concern.closed_at, Concern.last_seen_at)
    concerns = events = notes = 0
    while True:
        with db.session() as session:
            ids = list(session.scalars(select(Concern.id).where(Concern.state.in_([s.value for s in CLOSED_STATES]),
                                                                closed < cutoff)
                                       .order_by(Concern.id).limit(batch)))
            if ids:
                events += session.scalar(select(func.count()).select_from(ConcernEvent)
                                         .where(ConcernEvent.concern_id.in_(ids))) or 0
                notes += session.scalar(select(func.count()).select_from(ConcernNote)
                                        .where(ConcernNote.concern_id.in_(ids))) or 0
                session.execute(delete(ConcernEvent).where(ConcernEvent.concern_id.in_(ids)))
                session.execute(delete(ConcernNote).where(ConcernNote.concern_id.in_(ids)))
                session.execute(delete(Concern).where(Concern.id.in_(ids)))
        concerns += len(ids)
        if len(ids) < batch:
            break
    return concerns, events, notes


def purge_audit_entries(db: Database, days: int, now: datetime, batch: int = PURGE_BATCH) -> int:
    """Delete audit entries older than `days`."""
    return _delete_older(db, AuditEntry, now - timedelta(days=days), batch)


def _rewrite_audit_after(db: Database, where: ColumnElement[bool],
                         rewrite: Callable[[Session, AuditEntry], str | None], batch: int) -> int:
    """Rewrite the recorded values (`after`) of the audit entries matching `where`, `batch` a transaction, paged by
    id; `rewrite` gives the new text, or None to leave an entry as it is. Returns how many were rewritten."""
    rewritten = 0
    last_id = 0
    while True:
        with db.session() as session:
            rows = list(session.scalars(select(AuditEntry).where(AuditEntry.id > last_id, where)
                                        .order_by(AuditEntry.id).limit(batch)))
            for entry in rows:
                scrubbed = rewrite(session, entry)
                if scrubbed is not None:
                    session.execute(update(AuditEntry).where(AuditEntry.id == entry.id).values(after=scrubbed))
                    rewritten += 1
        if len(rows) < batch:
            return rewritten
        last_id = rows[-1].id


def remove_person_filters(db: Database, days: int, now: datetime, batch: int = PURGE_BATCH) -> int:
    """In access-log view and export entries older than `days`, replace the person filtered on with PERSON_REMOVED.

    The entry stays (who read the log, when, with which other filters) until `audit_days`."""
    where = and_(AuditEntry.ts < now - timedelta(days=days),
                 AuditEntry.action.startswith(FILTER_ACTIONS_PREFIX, autoescape=True),
                 AuditEntry.after.contains(f'"{PERSON_KEY}": ', autoescape=True))
    return _rewrite_audit_after(db, where, lambda _session, entry: _without_person(entry.after), batch)


def remove_copied_evidence(db: Database, days: int, now: datetime, batch: int = PURGE_BATCH) -> int:
    """In ban and alert entries older than `days`, replace the copied evidence with PERSON_REMOVED, unless the
    entry is about a ban still held (its evidence goes with it); the entry itself stays until `audit_days`."""
    where = and_(AuditEntry.ts < now - timedelta(days=days), AuditEntry.action.in_(EVIDENCE_ACTIONS),
                 AuditEntry.after.contains(f'"{EVIDENCE_KEY}": [', autoescape=True))

    def rewrite(session: Session, entry: AuditEntry) -> str | None:
        ban_id = _ban_id(entry.target) if entry.action == "ban.create" else None
        if ban_id is not None and session.get(Ban, ban_id) is not None:
            return None
        return _without_evidence(entry.after)

    return _rewrite_audit_after(db, where, rewrite, batch)


def _ban_id(target: str) -> int | None:
    number = target.removeprefix("ban #")
    return int(number) if number != target and number.isdigit() and len(number) < 12 else None


def _without_evidence(text: str | None) -> str | None:
    try:
        data = json.loads(text or "")
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get(EVIDENCE_KEY), list):
        return None
    data[EVIDENCE_KEY] = PERSON_REMOVED
    return json.dumps(data, default=str, sort_keys=True)


def _without_person(text: str | None) -> str | None:
    """The filter JSON with its person replaced, or None when there is no person left to remove."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get(PERSON_KEY) in (None, "", PERSON_REMOVED):
        return None
    data[PERSON_KEY] = PERSON_REMOVED
    return json.dumps(data, default=str, sort_keys=True)


def purge_files(folder: Path, days: int, now: datetime) -> int:
    """Delete the files (and links; never what a link points to) directly in `folder` last written over `days` ago."""
    cutoff = (now - timedelta(days=days)).timestamp()
    removed = 0
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return 0
    for path in entries:
        try:
            info = path.lstat()
            if (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)) and info.st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
