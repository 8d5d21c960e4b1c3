"""The expiry job: record exceptions and supervised sessions whose time is up, end bans whose end passed.

It runs once for the whole trust (every school's rows, by their own times); each audit entry names the row's
school."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.monitoring.states import CURRENT_BAN_STATES, BanState
from rules.store.audit import audit
from rules.store.db import Database, bump_policy_version
from rules.store.models import AuditEntry, Ban, Rule, SupervisedSession, utcnow

log = logging.getLogger(__name__)
ACTOR = "scheduler"


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
                      after={"domain": rule.domain, "action": rule.action, "expires_at": rule.expires_at},
                      site_id=rule.site_id)
                result.rules.append(rule.id)
        ended = list(session.scalars(select(SupervisedSession).where(SupervisedSession.ends_at <= moment)))
        done = _audited(session, "supervised_session.ended", [f"supervised session #{s.id}" for s in ended])
        for sess in ended:
            if f"supervised session #{sess.id}" not in done:
                audit(session, ACTOR, "supervised_session.ended", f"supervised session #{sess.id}",
                      after={"ban_id": sess.ban_id, "staff_name": sess.staff_name, "ends_at": sess.ends_at},
                      site_id=session.scalar(select(Ban.site_id).where(Ban.id == sess.ban_id)))
                result.sessions.append(sess.id)
        for ban in session.scalars(select(Ban).where(Ban.state.in_(CURRENT_BAN_STATES),
                                                     Ban.ends_at.is_not(None), Ban.ends_at <= moment)):
            audit(session, ACTOR, "ban.expired", f"ban #{ban.id}", before={"state": ban.state},
                  after={"state": BanState.EXPIRED, "ends_at": ban.ends_at}, site_id=ban.site_id)
            ban.state = BanState.EXPIRED
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
