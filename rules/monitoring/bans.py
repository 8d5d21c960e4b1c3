"""The headteacher's decisions on bans (confirm, lift), reading a ban's evidence, and supervised access.

A ban's evidence (what the device did, when, its points) is read through `read_evidence`, which writes the
audit entry in the same transaction: there is no way to show it without the record of who looked.

The detector that creates bans is elsewhere; these functions change Ban rows, which are policy data,
so DNS and the proxy see each change within seconds.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from rules.localtime import LONDON
from rules.monitoring.signals import describe, weight
from rules.monitoring.states import CURRENT_BAN_STATES, BanState
from rules.store.audit import audit
from rules.store.models import Ban, SupervisedSession, User, utcnow

MAX_SUPERVISED_MINUTES = 240


class BanError(ValueError):
    """The change cannot be made; the message says why."""


def current_bans(session: Session, site_ids: Collection[int] | None = None) -> list[Ban]:
    """The bans in force, newest first, of the schools `site_ids` (None: every school)."""
    query = select(Ban).options(selectinload(Ban.device)).where(Ban.state.in_(CURRENT_BAN_STATES))
    if site_ids is not None:
        query = query.where(Ban.site_id.in_(sorted(site_ids)))
    return list(session.scalars(query.order_by(Ban.created_at.desc())))


def get_ban(session: Session, ban_id: int) -> Ban:
    ban = session.get(Ban, ban_id)
    if ban is None:
        raise LookupError(ban_id)
    return ban


EVIDENCE_COLUMNS = ["When", "What the device did", "Site or address", "Seen by", "Points", "Its own?"]
# Whether the device itself surely sent it (see `rules.monitoring.detector.Signal.proof`); a ban needs at least one.
PROOFS = {"connection": "Yes: a completed connection", "mac": "Yes: from its own MAC address"}
NO_PROOF = "Not proven: a single packet, whose sender address could be borrowed"
SOURCES = {"dns": "DNS (name look-up)", "proxy": "Web filter", "gateway": "Gateway firewall"}


def evidence_table(ban: Ban) -> tuple[list[str], list[list[str]]]:
    """The evidence JSON as columns and rows of text a headteacher can read.

    The detector's signals (objects with a "kind", see `rules.monitoring.detector.Signal.as_evidence`) become one row
    each: London time, what the kind means in words, the host, where it was seen, its points. Anything else
    is shown as it is, one column per key."""
    try:
        data = json.loads(ban.evidence or "[]")
    except ValueError:
        return ["evidence"], [[ban.evidence]]
    items = data if isinstance(data, list) else [data]
    if items and all(isinstance(item, dict) and "kind" in item for item in items):
        return EVIDENCE_COLUMNS, [_signal_row(item) for item in items]
    columns: list[str] = []
    for item in items:
        for key in item if isinstance(item, dict) else ["value"]:
            if key not in columns:
                columns.append(str(key))
    rows = []
    for item in items:
        record = item if isinstance(item, dict) else {"value": item}
        rows.append(["" if record.get(c) is None else str(record.get(c)) for c in columns])
    return columns, rows


def read_evidence(session: Session, ban_id: int, reader: User) -> tuple[Ban, list[str], list[list[str]]]:
    """The ban and its evidence table, recording in the audit log that `reader` looked at it."""
    ban = get_ban(session, ban_id)
    columns, rows = evidence_table(ban)
    audit(session, reader.email, "ban.evidence_view", f"ban #{ban.id}", site_id=ban.site_id)
    return ban, columns, rows


def _signal_row(item: dict[str, object]) -> list[str]:
    kind = str(item.get("kind"))
    ts = item.get("ts")
    try:
        when = datetime.fromtimestamp(float(ts), UTC).astimezone(LONDON).strftime("%d %b %Y %H:%M:%S")  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        when = "" if ts is None else str(ts)
    source = item.get("source")
    return [when, describe(kind), "" if item.get("host") is None else str(item.get("host")),
            SOURCES.get(str(source), "" if source is None else str(source)),
            str(item.get("weight", weight(kind))),
            PROOFS.get(str(item.get("proof")), NO_PROOF) if "proof" in item else "Not recorded"]


def _state(ban: Ban) -> dict[str, object]:
    return {"state": ban.state, "ends_at": ban.ends_at, "false_positive": ban.false_positive}


def confirm_ban(session: Session, ban_id: int, user: User, ends_at: datetime, reason: str) -> Ban:
    ban = get_ban(session, ban_id)
    if ban.state not in CURRENT_BAN_STATES:
        raise BanError(f"this ban is {ban.state}; only a current ban can be confirmed")
    if ends_at <= utcnow():
        raise BanError("the end date must be in the future")
    before = _state(ban)
    ban.state = BanState.CONFIRMED
    ban.ends_at = ends_at
    audit(session, user.email, "ban.confirm", f"ban #{ban.id}", before=before, after=_state(ban), reason=reason,
          site_id=ban.site_id)
    return ban


def lift_ban(session: Session, ban_id: int, user: User, reason: str, false_positive: bool) -> Ban:
    ban = get_ban(session, ban_id)
    if ban.state not in CURRENT_BAN_STATES:
        raise BanError(f"this ban is already {ban.state}")
    if not reason.strip():
        raise BanError("give the reason for lifting the ban")
    before = _state(ban)
    ban.state = BanState.LIFTED
    ban.lifted_at = utcnow()
    ban.lifted_by = user.email
    ban.lift_reason = reason.strip()
    ban.false_positive = false_positive
    audit(session, user.email, "ban.lift", f"ban #{ban.id}", before=before, after=_state(ban), reason=reason,
          site_id=ban.site_id)
    return ban


def supervise(session: Session, ban_id: int, user: User, staff_name: str, minutes: int) -> SupervisedSession:
    """Open supervised access for a banned device for `minutes`, in the supervising member of staff's name."""
    ban = get_ban(session, ban_id)
    if ban.state not in CURRENT_BAN_STATES:
        raise BanError("this ban is no longer in force")
    if not 1 <= minutes <= MAX_SUPERVISED_MINUTES:
        raise BanError(f"supervised access lasts from 1 to {MAX_SUPERVISED_MINUTES} minutes")
    if not staff_name.strip():
        raise BanError("name the member of staff who supervises")
    now = utcnow()
    row = SupervisedSession(ban_id=ban.id, staff_name=staff_name.strip(), starts_at=now,
                            ends_at=now + timedelta(minutes=minutes), created_by=user.email)
    session.add(row)
    session.flush()
    audit(session, user.email, "ban.supervise", f"ban #{ban.id}",
          after={"staff_name": row.staff_name, "minutes": minutes, "ends_at": row.ends_at}, site_id=ban.site_id)
    return row


def open_sessions(session: Session, ban_ids: list[int]) -> dict[int, SupervisedSession]:
    now = utcnow()
    rows = session.scalars(select(SupervisedSession).where(SupervisedSession.ban_id.in_(ban_ids),
                                                           SupervisedSession.ends_at > now))
    return {row.ban_id: row for row in rows}
