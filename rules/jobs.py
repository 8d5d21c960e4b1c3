"""The scheduler's jobs, each a plain function of the database and its settings, testable alone.

`deploy.scheduler` runs them on a timetable in one process only, so each runs once. A job that changes
what is filtered bumps the policy version in the same transaction, which is how DNS and the proxy learn
about it (an exception that expired at 15:00 stops applying at the next compile, not at the next restart).
The weekly report and the self-test live in `rules.jobs_report` and `rules.jobs_selftest`.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from rules.audit import audit
from rules.db import Database, bump_policy_version
from rules.jobs_fetch import FetchError, fetch
from rules.leases import LeaseReport
from rules.leases_sync import SyncResult, read_sightings, sync_devices
from rules.listfile import ListFileError, ParseReport, parse_list
from rules.lists import replace_source_entries
from rules.models import AccessEvent, AuditEntry, Ban, Category, ListEntry, ListSource, Rule, SupervisedSession, utcnow

log = logging.getLogger(__name__)
ACTOR = "scheduler"
PURGE_BATCH = 10_000
BUILTIN_LOCATION = "schoolgate"


@dataclass
class ExpiryResult:
    rules: list[int] = field(default_factory=list)
    sessions: list[int] = field(default_factory=list)
    bans: list[int] = field(default_factory=list)


def expire(db: Database, now: datetime | None = None) -> ExpiryResult:
    """Record exceptions and supervised sessions whose time is up (once each), end bans whose end passed.

    An expired rule stays enabled (it is the record of what was approved); the compiler leaves it out.
    """
    moment = now or utcnow()
    result = ExpiryResult()
    with db.session() as session:
        rules = list(session.scalars(select(Rule).where(Rule.enabled.is_(True), Rule.expires_at.is_not(None),
                                                        Rule.expires_at <= moment)))
        done = _audited(session, "rule.expired", [f"rule #{r.id}" for r in rules])
        for rule in rules:
            if f"rule #{rule.id}" not in done:
                audit(session, ACTOR, "rule.expired", f"rule #{rule.id}",
                      after={"domain": rule.domain, "action": rule.action, "expires_at": rule.expires_at})
                result.rules.append(rule.id)
        ended = list(session.scalars(select(SupervisedSession).where(SupervisedSession.ends_at <= moment)))
        done = _audited(session, "supervised_session.ended", [f"supervised session #{s.id}" for s in ended])
        for sess in ended:
            if f"supervised session #{sess.id}" not in done:
                audit(session, ACTOR, "supervised_session.ended", f"supervised session #{sess.id}",
                      after={"ban_id": sess.ban_id, "staff_name": sess.staff_name, "ends_at": sess.ends_at})
                result.sessions.append(sess.id)
        for ban in session.scalars(select(Ban).where(Ban.state.in_(("active", "confirmed")),
                                                     Ban.ends_at.is_not(None), Ban.ends_at <= moment)):
            audit(session, ACTOR, "ban.expired", f"ban #{ban.id}", before={"state": ban.state},
                  after={"state": "expired", "ends_at": ban.ends_at})
            ban.state = "expired"
            result.bans.append(ban.id)
        if result.rules or result.sessions:
            bump_policy_version(session)  # the ban change bumps by itself (policy data)
    if result.rules or result.sessions or result.bans:
        log.info("expired rules %s, supervised sessions %s, bans %s", result.rules, result.sessions, result.bans)
    return result


def _audited(session: Session, action: str, targets: Sequence[str]) -> set[str]:
    if not targets:
        return set()
    return set(session.scalars(select(AuditEntry.target).where(AuditEntry.action == action,
                                                               AuditEntry.target.in_(targets))))


def purge_access_events(db: Database, days: int, now: datetime | None = None, batch: int = PURGE_BATCH) -> int:
    """Delete access events older than `days`, `batch` rows a transaction (never one huge lock)."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    total = 0
    while True:
        with db.session() as session:
            ids = list(session.scalars(select(AccessEvent.id).where(AccessEvent.ts < cutoff)
                                       .order_by(AccessEvent.id).limit(batch)))
            if ids:
                session.execute(delete(AccessEvent).where(AccessEvent.id.in_(ids)))
        total += len(ids)
        if len(ids) < batch:
            break
    if total:
        log.info("purged %d access events older than %d days", total, days)
    return total


def sync_devices_job(db: Database, lease_files: Sequence[str], interfaces: Sequence[str],
                     after: Callable[[LeaseReport], object] | None = None) -> SyncResult:
    """Read leases and the neighbour table, then update the registry in one transaction; then `after` with
    what was read (the gateway refreshes its address-to-MAC sets there)."""
    report = read_sightings(lease_files, interfaces)
    with db.session() as session:
        result = sync_devices(session, report.sightings)
    if after is not None:
        after(report)
    for line in result.discovered:
        log.info("new device: %s", line)
    for line in result.moved:
        log.info("device moved: %s", line)
    return result


@dataclass
class RefreshResult:
    refreshed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def refresh_lists(db: Database, fetcher: Callable[[str], bytes] = fetch) -> RefreshResult:
    """Re-read every list source from its file or URL; a failed refresh keeps the last good copy in force."""
    result = RefreshResult()
    with db.session(read_only=True) as session:
        sources = [(s.id, s.name, s.location, s.format) for s in session.scalars(select(ListSource))
                   if s.location and s.location != BUILTIN_LOCATION]
    for source_id, name, location, fmt in sources:
        label = f"{name} ({location})"
        try:
            domains, report, chosen = _read_source(location, fmt, fetcher)
        except (FetchError, ListFileError, OSError) as exc:
            result.failed[label] = str(exc)
            log.warning("list %s not refreshed, the last good copy stays in force: %s", label, exc)
            with db.session() as session:
                audit(session, ACTOR, "list.refresh_failed", f"list source #{source_id}", reason=str(exc),
                      after={"location": location})
            continue
        with db.session() as session:
            source = session.get(ListSource, source_id)
            if source is None:
                continue
            current = set(session.scalars(select(ListEntry.domain).where(ListEntry.source_id == source_id)))
            if current == set(domains):
                result.unchanged.append(label)
                continue
            category = session.get_one(Category, source.category_id)
            count = replace_source_entries(session, category, name, location, chosen, domains,
                                           skipped=report.skipped_total)
            audit(session, ACTOR, "list.refreshed", f"list source #{source_id}",
                  before={"entries": len(current)}, after={"entries": count, "location": location})
            result.refreshed.append(label)
    return result


def _read_source(location: str, fmt: str, fetcher: Callable[[str], bytes]) -> tuple[list[str], ParseReport, str]:
    report = ParseReport()
    if urlsplit(location).scheme in ("http", "https"):
        body = fetcher(location)
        with tempfile.TemporaryDirectory(prefix="schoolgate-list-") as folder:
            path = Path(folder) / "list.txt"
            path.write_bytes(body)
            domains = list(dict.fromkeys(parse_list(path, fmt, report)))  # "auto": each line in its syntax
    else:
        path = Path(location)
        if "://" in location:
            raise FetchError(f"refused {location!r}: only http:// and https:// URLs are fetched")
        domains = list(dict.fromkeys(parse_list(path, fmt, report)))
    if not domains:
        raise FetchError(f"{location} holds no usable entries ({report.skipped_total} lines skipped)")
    return domains, report, fmt
