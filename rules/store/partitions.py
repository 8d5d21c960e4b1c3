"""The day partitions of `access_events` on PostgreSQL: make them ahead, make one on demand, drop old ones.

On PostgreSQL `access_events` is partitioned by RANGE (ts), one partition a UTC day, named
`access_events_pYYYYMMDD` (migration 0010). A day's events are then one table: retention drops it whole
(no row-by-row delete, no bloat, no vacuum), and a log page bounded in time reads only its days.

Partitions are made by the scheduler a week ahead (`make_ahead`, the `partitions` job), and by the
COPY path on demand before it writes a batch holding a day it has not seen a partition for
(`rules.store.event_sink`, through `ensure_days`). Behind both, a DEFAULT partition (`access_events_default`)
takes any row no day partition does (an INSERT from elsewhere, a clock far off, a race), so no event is ever
refused. It is meant to stay empty: when a day's partition is made while the default holds rows of that
day, they are moved into it in the same transaction (`create_days`), and retention deletes its old rows.

SQLite has no partitions: every function here is a no-op there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, Engine, text

PARENT = "access_events"
PREFIX = f"{PARENT}_p"
DEFAULT = f"{PARENT}_default"
NAME = re.compile(rf"^{PREFIX}(\d{{8}})$")
AHEAD_DAYS = 7
# One advisory lock key (any constant) serialises the makers: two writers that both miss a day must not race
# to create it ("relation already exists" from the loser's catalogue insert).
_MAKER_LOCK = 0x5C600E57


def partition_name(day: date) -> str:
    return f"{PREFIX}{day:%Y%m%d}"


def is_partitioned(conn: Connection) -> bool:
    """Whether this database keeps access events in partitions (PostgreSQL after migration 0010)."""
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.scalar(text("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table p JOIN pg_class c "
                                 "ON c.oid = p.partrelid WHERE c.relname = :name "
                                 "AND c.relnamespace = current_schema()::regnamespace)"), {"name": PARENT}))


def existing_days(conn: Connection) -> list[date]:
    """The days that have a partition, oldest first."""
    names = conn.scalars(text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                              "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :name "
                              "AND p.relnamespace = current_schema()::regnamespace"), {"name": PARENT})
    days = []
    for name in names:
        found = NAME.match(name)
        if found:
            days.append(datetime.strptime(found.group(1), "%Y%m%d").date())
    return sorted(days)


def create_days(conn: Connection, days: Iterable[date]) -> list[str]:
    """Create the partitions of `days` that are missing, inside the caller's transaction; return their names."""
    wanted = sorted(set(days))
    if not wanted:
        return []
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MAKER_LOCK})
    have = set(existing_days(conn))
    made = []
    for day in wanted:
        if day in have:
            continue
        name = partition_name(day)
        bounds = f"FROM ('{day.isoformat()}') TO ('{(day + timedelta(days=1)).isoformat()}')"
        in_day = f"ts >= '{day.isoformat()}' AND ts < '{(day + timedelta(days=1)).isoformat()}'"
        stray = has_default(conn) and conn.scalar(text(f"SELECT EXISTS (SELECT 1 FROM {DEFAULT} WHERE {in_day})"))
        if not stray:
            conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {PARENT} FOR VALUES {bounds}")
        else:  # the default holds rows of this day: take it out, make the day, move them, put it back
            conn.exec_driver_sql(f"ALTER TABLE {PARENT} DETACH PARTITION {DEFAULT}")
            conn.exec_driver_sql(f"CREATE TABLE {name} PARTITION OF {PARENT} FOR VALUES {bounds}")
            conn.exec_driver_sql(f"INSERT INTO {PARENT} SELECT * FROM {DEFAULT} WHERE {in_day}")
            conn.exec_driver_sql(f"DELETE FROM {DEFAULT} WHERE {in_day}")
            conn.exec_driver_sql(f"ALTER TABLE {PARENT} ATTACH PARTITION {DEFAULT} DEFAULT")
        made.append(name)
    return made


def has_default(conn: Connection) -> bool:
    return bool(conn.scalar(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": DEFAULT}))


def ensure_days(engine: Engine, days: Iterable[date]) -> list[str]:
    """Make the partitions of `days` that are missing, in their own transaction (the writer's on-demand path)."""
    with engine.begin() as conn:
        if not is_partitioned(conn):
            return []
        return create_days(conn, days)


def make_ahead(engine: Engine, today: date | None = None, ahead: int = AHEAD_DAYS) -> list[str]:
    """The scheduler's job: partitions for today and the next `ahead` days; return the names made."""
    start = today or datetime.now(UTC).date()
    return ensure_days(engine, (start + timedelta(days=i) for i in range(ahead + 1)))


@dataclass(frozen=True)
class Dropped:
    partitions: int
    rows: int  # the planner's estimate (pg_class.reltuples) once analysed: counting a trust's day takes minutes


def drop_before(engine: Engine, cutoff: datetime) -> Dropped:
    """Drop every partition whose whole day ends at or before `cutoff` (a naive or aware UTC instant), and
    delete the default partition's rows older than it (it holds few or none).

    The day that holds the cutoff stays until it has wholly passed: an event is kept up to a day longer
    than the period, never a day less."""
    limit = cutoff.astimezone(UTC).replace(tzinfo=None) if cutoff.tzinfo else cutoff
    count = rows = 0
    with engine.connect() as conn:
        if not is_partitioned(conn):
            return Dropped(0, 0)
        old = [d for d in existing_days(conn) if datetime.combine(d + timedelta(days=1), datetime.min.time()) <= limit]
        conn.rollback()
    for day in old:
        name = partition_name(day)
        with engine.begin() as conn:
            estimate = conn.scalar(text("SELECT reltuples FROM pg_class WHERE relname = :n "
                                        "AND relnamespace = current_schema()::regnamespace"), {"n": name})
            if estimate is None or estimate < 0:  # never analysed: a small or new partition, cheap to count
                estimate = conn.scalar(text(f"SELECT count(*) FROM {name}"))
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        count += 1
        rows += int(estimate or 0)
    with engine.begin() as conn:
        if has_default(conn):
            rows += conn.execute(text(f"DELETE FROM {DEFAULT} WHERE ts < :cutoff"), {"cutoff": limit}).rowcount
    return Dropped(count, rows)
