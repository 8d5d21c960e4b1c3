"""The retention job: delete access events older than the configured number of days, in batches."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from rules.store.db import Database
from rules.store.models import AccessEvent, utcnow

log = logging.getLogger(__name__)
PURGE_BATCH = 10_000


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
