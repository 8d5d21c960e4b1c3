"""The frozen context of a concern: copies of that device's events before and after it (`ConcernEvent`).

Copies, because access-log retention deletes access events after `[retention] access_log_days` while a
concern stays open (and is then kept for the safeguarding record period). The 20 events before are copied
when the concern is raised; the 20 after are copied by the watcher as they arrive, and the context is
complete when 20 are in or `AFTER_SECONDS` have passed.

A device's own automatic lookups (connectivity checks, resolver probes) are left out: a quiet iPad makes
hundreds, and the DSL reads the context to see what the person did.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from rules.automatic import is_automatic_lookup
from rules.store.models import AccessEvent, Concern, ConcernEvent, utcnow

EVENTS = 20
AFTER_SECONDS = 1800
_READ = 400  # events read at a time to find 20 that are not automatic lookups


def path_of(url: str | None) -> str | None:
    if not url:
        return None
    rest = url.split("://", 1)[-1]
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else None


def is_automatic(event: AccessEvent) -> bool:
    """A device's own lookup, which says nothing about what its person did."""
    return is_automatic_lookup(event.host, path_of(event.url))


def _same_device(concern: Concern) -> ColumnElement[bool]:
    if concern.device_id is not None:
        return AccessEvent.device_id == concern.device_id
    # An unregistered device is known by its address within its school: two schools may use the same addresses.
    return ((AccessEvent.client_ip == (concern.client_ip or "")) & AccessEvent.device_id.is_(None)
            & (AccessEvent.site_id == concern.site_id))


def _copy(concern: Concern, position: int, event: AccessEvent) -> ConcernEvent:
    return ConcernEvent(concern_id=concern.id, position=position, event_id=event.id, ts=event.ts,
                        source=event.source, host=event.host, url=event.url, action=event.action,
                        category=event.category, search_term=event.search_term)


def freeze_before(session: Session, concern: Concern, trigger: AccessEvent | None) -> int:
    """Copy the trigger (position 0) and the device's `EVENTS` events before it (-20..-1); how many before."""
    if concern.device_id is None and not concern.client_ip:
        return 0
    query = select(AccessEvent).where(_same_device(concern))
    if trigger is not None:
        session.add(_copy(concern, 0, trigger))
        query = query.where(AccessEvent.id < trigger.id)
    else:
        query = query.where(AccessEvent.ts <= concern.opened_at)
    before = [e for e in session.scalars(query.order_by(AccessEvent.id.desc()).limit(_READ))
              if not is_automatic(e)][:EVENTS]
    for position, event in enumerate(reversed(before), start=-len(before)):
        session.add(_copy(concern, position, event))
    return len(before)


def fill_after(session: Session, concern: Concern, now: datetime | None = None) -> int:
    """Copy the device's events since the last one frozen, up to `EVENTS` after the trigger; mark the context
    complete when they are all in or the time is up. Returns how many were added."""
    now = now or utcnow()
    have, last = session.execute(select(func.count(ConcernEvent.id), func.max(ConcernEvent.event_id))
                                 .where(ConcernEvent.concern_id == concern.id, ConcernEvent.position > 0)).one()
    have = int(have or 0)
    last = last or concern.event_id
    added = 0
    if (concern.device_id is not None or concern.client_ip) and have < EVENTS:
        query = select(AccessEvent).where(_same_device(concern))
        query = query.where(AccessEvent.id > last) if last is not None else query.where(
            AccessEvent.ts > concern.opened_at)
        fresh = [e for e in session.scalars(query.order_by(AccessEvent.id).limit(_READ)) if not is_automatic(e)]
        for event in fresh[:EVENTS - have]:
            added += 1
            session.add(_copy(concern, have + added, event))
    if have + added >= EVENTS or now - concern.opened_at >= timedelta(seconds=AFTER_SECONDS):
        concern.context_complete = True
    return added
