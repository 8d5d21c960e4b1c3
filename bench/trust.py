"""Bench for a trust's access events on one PostgreSQL: the write rate of N gateways, the size, the log at scale.

1. Write rate: N gateway writer processes (one school each, site_id 1..N) record generated events as DNS does
   (a plain tuple appended to `EventWriter.record`), and each process's `EventWriter` thread writes them in
   batches through `rules.store.event_sink.write_events` (COPY into the day partitions): the real write path.
   They run flat out for `--seconds`; reported: events/s sustained (rows the database gained over a window of
   `--seconds` - 10 s from 2 s after the first rows arrive, counted by the database), and the database's size
   per million events written.
2. The log at scale: `--rows` events loaded fast on the server (generate_series, one day at a time into a table
   then attached as that day's partition, which builds its indexes once), spread over `--days` days before
   today and `--schools` schools (500 devices each). Then, through `rules.store.access_log.page`: the newest
   page, a page from a cursor in the middle of the period, one device's newest page, one school's newest page
   (median of 5 after a warm-up each); and the time to drop the oldest day's partition (the retention job's
   `rules.store.partitions.drop_before`).

It makes its own database (`--database`, default sgbench; dropped at the end unless --keep): disk matters,
50M rows take about 10 GB.

Usage: python bench/trust.py [--writers 4] [--seconds 60] [--rows 50000000] [--days 90] [--schools 50]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402

from rules.store import partitions, schema  # noqa: E402
from rules.store.access_log import LogFilter, page  # noqa: E402
from rules.store.db import Database  # noqa: E402
from rules.store.event_writer import EventWriter  # noqa: E402

SERVER = "postgresql://postgres@127.0.0.1:5432"
HOSTS = [f"www.site{i}.example" for i in range(2000)]
DEVICES_PER_SCHOOL = 500


def gateway(url: str, site_id: int, seconds: float, spool: str) -> None:
    """One gateway's writer: events for its school's 500 devices, as fast as its EventWriter takes them."""
    db = Database(url)
    writer = EventWriter(db, Path(spool) / f"site{site_id}", interval=0.2).start()
    record = writer.record
    first_device = (site_id - 1) * DEVICES_PER_SCHOOL + 1
    end = time.time() + seconds
    i = 0
    while True:
        now = time.time()
        if now >= end:
            break
        if writer.pending() > 200_000:  # the queue's bound would spool to disk: let the thread catch up
            time.sleep(0.01)
            continue
        for _ in range(1000):
            device = first_device + i % DEVICES_PER_SCHOOL
            record((now, f"10.{site_id}.{device % 250}.{i % 250}", device, f"ipad-{device}", None, "dns", "A",
                    HOSTS[i % 2000], None, "block" if i % 10 == 0 else "allow", "games" if i % 10 == 0 else None,
                    None, "category" if i % 10 == 0 else None, None, None, "udp", None))
            i += 1
    writer.stop()
    db.dispose()


def count(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.scalar(text("SELECT count(*) FROM access_events")) or 0)


def total_size(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.scalar(text("SELECT sum(pg_total_relation_size(relid)) FROM "
                                    "pg_partition_tree('access_events')")) or 0)


def write_rate(url: str, writers: int, seconds: float, spool: str) -> tuple[float, float, int]:
    db = Database(url)
    before, size_before = count(db), total_size(db)
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=gateway, args=(url, site, seconds, spool)) for site in range(1, writers + 1)]
    for proc in procs:
        proc.start()
    while count(db) == before:  # the processes start (imports take seconds on a busy machine)
        time.sleep(0.2)
    time.sleep(2)  # and reach a steady state; the database is measured over the window after, while all write
    start_rows, start = count(db), time.monotonic()
    time.sleep(max(seconds - 10, 1))
    end_rows, end = count(db), time.monotonic()
    for proc in procs:
        proc.join()
    total = count(db) - before
    size = total_size(db) - size_before
    db.dispose()
    return (end_rows - start_rows) / (end - start), size / max(total, 1) * 1_000_000, total


LOAD_DAY = """
INSERT INTO {table} (id, site_id, ts, client_ip, device_id, device, mac, source, qtype, host, url, action,
                     category, rule, reason, search_term, signal, transport, port)
SELECT {base} + g, 1 + g % {schools}, timestamp '{day}' + g * interval '{step} microseconds',
       '10.' || (1 + g % {schools}) || '.' || (g % 250) || '.' || (g / 250 % 250),
       1 + g % {devices}, 'ipad-' || (1 + g % {devices}), NULL, 'dns', 'A', 'www.site' || (g % 2000) || '.example',
       NULL, CASE WHEN g % 10 = 0 THEN 'block' ELSE 'allow' END, CASE WHEN g % 10 = 0 THEN 'games' END, NULL,
       CASE WHEN g % 10 = 0 THEN 'category' END, NULL, NULL, 'udp', NULL
FROM generate_series(0, {per_day} - 1) AS g
"""


def bulk_load(url: str, rows: int, days: int, schools: int) -> float:
    """Load `rows` events over the `days` days before today, one day a table attached as its partition."""
    today = datetime.now(UTC).date()
    per_day = rows // days
    step = 86_400_000_000 // per_day
    started = time.monotonic()
    raw = url.replace("+psycopg", "")
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")
        found = conn.execute("SELECT coalesce(max(id), 0) FROM access_events").fetchone()
        base = int(found[0] if found else 0) + 1  # ids after the written ones; the sequence is moved past them
        for n in range(days):
            day = today - timedelta(days=days - n)
            name = partitions.partition_name(day)
            conn.execute(f"DROP TABLE IF EXISTS {name}")
            conn.execute(f"CREATE TABLE {name} (LIKE access_events INCLUDING DEFAULTS)")
            conn.execute(LOAD_DAY.format(table=name, base=base + n * per_day, schools=schools,
                                         day=day.isoformat(), step=step, devices=schools * DEVICES_PER_SCHOOL,
                                         per_day=per_day))
            # The CHECK lets ATTACH skip its scan of the rows; it builds the partitioned indexes once, sorted.
            conn.execute(f"ALTER TABLE {name} ADD CONSTRAINT {name}_day CHECK (ts >= '{day}' AND "
                         f"ts < '{day + timedelta(days=1)}')")
            conn.execute(f"ALTER TABLE access_events ATTACH PARTITION {name} FOR VALUES FROM ('{day}') "
                         f"TO ('{day + timedelta(days=1)}')")
            conn.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_day")
            conn.execute(f"ANALYZE {name}")
            if n % 10 == 9:
                print(f"  loaded {(n + 1) * per_day:,} rows ({time.monotonic() - started:.0f} s)", flush=True)
        conn.execute("SELECT setval(pg_get_serial_sequence('access_events', 'id'), %s)", (base + days * per_day,))
        conn.execute("ANALYZE access_events")
    return time.monotonic() - started


def timed(action: Callable[[], object], repeat: int = 5) -> float:
    action()  # warm-up: the first read of a page brings its index pages into memory
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def page_times(url: str, days: int, schools: int) -> dict[str, float]:
    db = Database(url)
    device = schools * DEVICES_PER_SCHOOL // 2 + 71  # 4321 with 50 schools
    school = schools // 3 + 1  # 17 with 50 schools
    middle = datetime.now(UTC) - timedelta(days=days / 2)
    cursor = f"{middle.isoformat()}|{2**62}"

    def read(flt: LogFilter, after: str | None = None) -> Callable[[], object]:
        def run() -> object:
            with db.session(read_only=True) as session:
                result = page(session, flt, after)
                assert result.events, "an empty page measures nothing"
                return result
        return run

    figures = {
        "newest page": timed(read(LogFilter())),
        "a cursor in the middle": timed(read(LogFilter(), cursor)),
        "one device's newest page": timed(read(LogFilter(device_id=device))),
        "one device, a cursor in the middle": timed(read(LogFilter(device_id=device), cursor)),
        "one school's newest page": timed(read(LogFilter(site_ids=(school,)))),
    }
    db.dispose()
    return figures


def drop_oldest(url: str) -> tuple[float, int]:
    db = Database(url)
    with db.engine.connect() as conn:
        oldest = partitions.existing_days(conn)[0]
    start = time.perf_counter()
    dropped = partitions.drop_before(db.engine, datetime.combine(oldest + timedelta(days=1), datetime.min.time()))
    elapsed = time.perf_counter() - start
    db.dispose()
    assert dropped.partitions == 1
    return elapsed * 1000, dropped.rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--schools", type=int, default=50)
    parser.add_argument("--database", default="sgbench")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--skip-load", action="store_true", help="only the write rate")
    args = parser.parse_args()
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{args.database}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{args.database}"')
    try:
        db = Database(url)
        schema.upgrade(db)
        db.dispose()
        spool = f"/tmp/sgbench-spool-{args.database}"
        rate, per_million, written = write_rate(url, args.writers, args.seconds, spool)
        print(f"write: {args.writers} gateway writers, {args.seconds:.0f} s: {rate:,.0f} events/s sustained "
              f"({written:,} written); {per_million / 2**20:,.0f} MiB per million events (table and indexes)",
              flush=True)
        if args.skip_load:
            return
        loaded = bulk_load(url, args.rows, args.days, args.schools)
        db = Database(url)
        total, size = count(db), total_size(db)
        db.dispose()
        print(f"loaded {args.rows:,} rows in {loaded:.0f} s: {total:,} rows, {size / 2**30:.1f} GiB "
              f"({size / total * 1_000_000 / 2**20:,.0f} MiB per million)", flush=True)
        for name, ms in page_times(url, args.days, args.schools).items():
            print(f"page ({name}): {ms:.1f} ms", flush=True)
        ms, rows = drop_oldest(url)
        print(f"drop the oldest day's partition ({rows:,} rows): {ms:.0f} ms", flush=True)
    finally:
        if not args.keep:
            with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
