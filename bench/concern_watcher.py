"""Bench for the scheduler's concern watcher: a normal school day through it, on a real SQLite database.

Every event of tests/fixtures/school_day.py (about 300,000: DNS lookups and proxy requests of 320 devices,
08:15 to 15:45, the devices' own automatic lookups among them), plus the day's searches and pages of
tests/fixtures/school_searches.py as proxy events, are written to a fresh database; then the watcher reads
them all as it would (polls of up to 2,000 events). Reported: the matching cost per event (the watcher's
`findings`, no database), the whole poll's cost per event (reading, matching, writing concerns and their
context), and what the day raised, by severity: a normal day should raise a handful of low concerns at most.

Usage: python bench/concern_watcher.py [--events N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from rules.safeguarding.watcher import ConcernWatcher  # noqa: E402
from rules.store import schema  # noqa: E402
from rules.store.db import Database  # noqa: E402
from rules.store.models import AccessEvent, Concern  # noqa: E402
from tests.fixtures.school_day import school_day  # noqa: E402
from tests.fixtures.school_searches import REQUESTS, SEARCHES  # noqa: E402


def day_rows(limit: int | None) -> list[dict[str, object]]:
    """The day as access-event rows, searches and pages spread through it."""
    events = school_day()[:limit] if limit else school_day()
    rows: list[dict[str, object]] = [
        {"ts": datetime.fromtimestamp(e.ts, UTC), "client_ip": e.client_ip, "device_id": None, "device": None,
         "source": e.source, "host": e.host, "url": None, "action": e.action, "category": e.category,
         "signal": e.signal} for e in events]
    step = max(1, len(rows) // (len(SEARCHES) + len(REQUESTS) + 1))
    extra: list[dict[str, object]] = []
    for term in SEARCHES:
        extra.append({"host": "www.google.com", "url": f"http://www.google.com/search?q={term}", "search_term": term})
    for host, path in REQUESTS:
        extra.append({"host": host, "url": f"http://{host}{path}", "search_term": None})
    for n, item in enumerate(extra):
        base = rows[min(n * step, len(rows) - 1)]
        rows.append({**base, "source": "proxy", "action": "allow", "category": None, "signal": None, **item})
    rows.sort(key=lambda r: r["ts"])  # type: ignore[arg-type, return-value]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=0, help="Only the first N events of the day (0: all).")
    args = parser.parse_args()
    rows = day_rows(args.events or None)
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{folder}/bench.db")
        schema.upgrade(db)
        schema.seed(db)
        watcher = ConcernWatcher(db)
        watcher.poll_once()
        with db.session() as session:
            for i in range(0, len(rows), 10_000):
                session.execute(insert(AccessEvent), rows[i:i + 10_000])
        with db.session(read_only=True) as session:
            events = list(session.scalars(select(AccessEvent)))
        watcher.refresh()
        started = time.perf_counter()
        for event in events:
            watcher.findings(event)
        matching = (time.perf_counter() - started) / len(events) * 1e6
        watcher._hosts.clear()
        watcher.cursor.last_id = 0
        started = time.perf_counter()
        read = 0
        while (result := watcher.poll_once()).events:
            read += result.events
        polling = (time.perf_counter() - started) / max(read, 1) * 1e6
        with db.session(read_only=True) as session:
            raised = list(session.scalars(select(Concern)))
        db.dispose()
    print(json.dumps({
        "events": read, "match_us_per_event": round(matching, 2), "poll_us_per_event": round(polling, 2),
        "concerns": len(raised), "by_severity": dict(Counter(c.severity for c in raised)),
        "raised": [f"{c.severity} {c.category}: {c.matched} ({c.phrase})" for c in raised]}, indent=1))


if __name__ == "__main__":
    main()
