"""The retention job, called as a plain function: access events past the retention period, in batches."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from rules.jobs.retention import purge_access_events
from rules.store.db import Database
from rules.store.models import AccessEvent

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_purge_deletes_old_events_in_batches(sqlite_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"ts": NOW - timedelta(days=91, minutes=i), "client_ip": "198.18.1.10", "source": "dns",
             "host": f"old{i}.example", "action": "allow"} for i in range(25)]
    rows += [{"ts": NOW - timedelta(days=89), "client_ip": "198.18.1.10", "source": "dns",
              "host": f"new{i}.example", "action": "block"} for i in range(5)]
    with sqlite_db.session() as session:
        session.execute(insert(AccessEvent), rows)
    transactions = []
    real_session = sqlite_db.session

    @contextmanager
    def counting(read_only: bool = False) -> Iterator[Session]:
        transactions.append(read_only)
        with real_session(read_only) as session:
            yield session

    monkeypatch.setattr(sqlite_db, "session", counting)
    assert purge_access_events(sqlite_db, 90, NOW, batch=10) == 25
    assert transactions == [False, False, False]  # 10 + 10 + 5
    with real_session(read_only=True) as session:
        hosts = sorted(session.scalars(select(AccessEvent.host)))
    assert hosts == [f"new{i}.example" for i in range(5)]
