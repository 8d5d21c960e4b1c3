"""A cursor over the access log that reads every event once, even when ids commit out of order.

SQLite hands out ids in commit order, but PostgreSQL does not: the DNS and proxy writers each take ids from
one sequence and commit when their batch is written, so a reader that only asks for ids above the last one
it saw can pass over a batch that commits a moment later. The cursor remembers the ids it has not seen
below the highest one it has (the gaps) for `SETTLE_SECONDS` and asks for them again each read; a gap that
is still empty then was a rolled-back insert or a skipped sequence value.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rules.store.models import AccessEvent, Concern

SETTLE_SECONDS = 30.0
# A writer's batch (`rules.store.event_drain`, up to 20,000 events in one COPY) takes its ids when it starts and
# commits when it is done, so a run of missing ids as long as a whole batch is a batch still committing; a
# longer run is a sequence jump. A trust has several writers (each gateway's DNS and proxy) at once.
MAX_GAP_RUN = 20_000
MAX_GAPS = 100_000
GAP_QUERY = 2_000  # ids asked for in one IN list
START_BACK_SECONDS = 60.0


class EventCursor:
    """Where the concern watcher is in the access log."""

    def __init__(self) -> None:
        self.last_id: int | None = None
        self.gaps: dict[int, float] = {}

    def start(self, session: Session) -> None:
        """Begin with the last minute's events (so events written while the scheduler started are read), but
        after the last event that raised a concern (so a restart does not raise it again)."""
        since = datetime.fromtimestamp(time.time() - START_BACK_SECONDS, UTC)
        first = session.scalar(select(func.min(AccessEvent.id)).where(AccessEvent.ts >= since))
        last = session.scalar(select(func.max(AccessEvent.id))) or 0
        raised = session.scalar(select(func.max(Concern.event_id))) or 0
        start = (first - 1) if first is not None else last
        self.last_id = max(start, min(raised, last))

    def read(self, session: Session, batch: int) -> list[AccessEvent]:
        """The next events (and any that filled a gap), in id order."""
        if self.last_id is None:
            self.start(session)
        assert self.last_id is not None
        now = time.monotonic()
        late: list[AccessEvent] = []
        if self.gaps:
            wanted = sorted(self.gaps)
            for i in range(0, len(wanted), GAP_QUERY):
                late += session.scalars(select(AccessEvent).where(AccessEvent.id.in_(wanted[i:i + GAP_QUERY])))
            for event in late:
                self.gaps.pop(event.id, None)
            self.gaps = {gap: seen for gap, seen in self.gaps.items() if now - seen < SETTLE_SECONDS}
        fresh = list(session.scalars(select(AccessEvent).where(AccessEvent.id > self.last_id)
                                     .order_by(AccessEvent.id).limit(batch)))
        previous = self.last_id
        for event in fresh:
            if 1 < event.id - previous <= MAX_GAP_RUN and len(self.gaps) < MAX_GAPS:
                for missing in range(previous + 1, event.id):
                    self.gaps[missing] = now
            previous = event.id
        if fresh:
            self.last_id = fresh[-1].id
        return sorted(late, key=lambda e: e.id) + fresh
