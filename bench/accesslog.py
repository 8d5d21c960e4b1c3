"""Bench: the access log's pages at scale (keyset pagination must stay fast at tens of millions of
rows). Fills a SQLite database with N events (default 5 million; --rows 20000000 for more),
then times, median of 5 runs each, what the admin web asks: the newest page, a page deep in the log
(keyset cursor in the middle), one device's timeline (newest and deep), and filtered pages.

Usage: python bench/accesslog.py [--rows 5000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rules.store import schema  # noqa: E402
from rules.store.access_log import LogFilter, page  # noqa: E402
from rules.store.db import Database  # noqa: E402
from rules.store.event_drain import write_events  # noqa: E402
from rules.store.event_record import EventRecord  # noqa: E402

HOSTS = [f"www.site{i}.example.org" for i in range(5000)] + ["www.facebook.com", "www.tiktok.com", "nordvpn.com"]


def store(db: Database, batch: list[EventRecord]) -> None:
    with db.engine.begin() as conn:
        write_events(conn, batch, 1)


def fill(db: Database, rows: int, folder: Path) -> None:
    rnd = random.Random(1)
    start = time.time() - 90 * 86400
    step = 90 * 86400 / rows
    batch: list[EventRecord] = []
    for i in range(rows):
        host = rnd.choice(HOSTS)
        blocked = host in ("www.facebook.com", "www.tiktok.com", "nordvpn.com")
        device = rnd.randrange(1, 600)
        batch.append(EventRecord(
            ts=start + i * step, client_ip=f"10.0.{device // 250}.{device % 250}", device_id=device,
            device=f"Device {device}", mac=None, source="dns", qtype="A", host=host, url=None,
            action="block" if blocked else "allow", category="social_media" if blocked else None, rule=None,
            reason="category" if blocked else "default", search_term=None, signal=None, transport="udp", port=None))
        if len(batch) == 50_000:
            store(db, batch)
            batch = []
    if batch:
        store(db, batch)


def timed(fn, runs: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--keep", help="a folder to keep the database in (reused if it exists)")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="sg-bench-log-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = Database(f"sqlite:///{folder}/log.db")
    schema.upgrade(db)
    with db.session(read_only=True) as session:
        have = session.execute(schema_count()).scalar() or 0
    if have < args.rows:
        started = time.perf_counter()
        fill(db, args.rows - have, folder)
        print(f"filled {args.rows - have:,} events in {time.perf_counter() - started:.0f} s")
    with db.session(read_only=True) as session:
        middle = session.execute(schema_middle(args.rows)).one()
    cursor = f"{middle[0].isoformat()}|{middle[1]}"
    cases = {
        "newest page (100 rows)": (LogFilter(), None),
        "page in the middle of the log": (LogFilter(), cursor),
        "one device, newest": (LogFilter(device_id=42), None),
        "one device, middle": (LogFilter(device_id=42), cursor),
        "blocked only, newest": (LogFilter(action="block"), None),
        "one site, newest": (LogFilter(host="facebook.com"), None),
        "last 7 days, category": (LogFilter(category="social_media",
                                            since=datetime.now(UTC) - timedelta(days=7)), None),
    }
    print(f"{'query':<34} {'ms (median of 5)':>16}")
    for name, (flt, after) in cases.items():
        def run(flt: LogFilter = flt, after: str | None = after) -> None:
            with db.session(read_only=True) as session:
                assert page(session, flt, after).events
        print(f"{name:<34} {timed(run):>16.1f}")
    print(f"rows: {args.rows:,}; database: {(folder / 'log.db').stat().st_size / 1e9:.1f} GB")


def schema_count():  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from rules.store.models import AccessEvent

    return select(func.max(AccessEvent.id))


def schema_middle(rows: int):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from rules.store.models import AccessEvent

    return select(AccessEvent.ts, AccessEvent.id).where(AccessEvent.id == rows // 2)


if __name__ == "__main__":
    main()
