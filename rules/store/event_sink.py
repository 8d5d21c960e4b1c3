"""Write one batch of access events to the database: COPY on PostgreSQL, executemany on SQLite.

This is the one place a batch of events meets the database, whoever holds the batch: the event writer
(`rules.store.event_drain`, in its own process for the services) writes inside its own transaction, which also
records how far each spool segment is stored, so it calls `write_events_in(conn, rows, site_id)`; tools and the
bench call `write_events(engine, rows, site_id)`, which is the same in a transaction of its own.

- `rows`: `EventRecord`s, or plain tuples in `EventRecord._fields` order (`ts` a float of Unix seconds).
- `site_id`: the gateway's school, added to every row as a constant column (the hot path never carries it).
- One transaction per call: every row is written or none is; on failure the exception propagates and the
  caller keeps the batch (the writer spools it to disk).

On PostgreSQL the rows go through `COPY ... FROM STDIN` (psycopg 3), which costs a fraction of an INSERT a
row, and land in the day partitions of `access_events` (`rules.store.partitions`). The scheduler makes them
a week ahead; before a batch holding a day this process has not yet seen a partition for (a clock far off,
a scheduler that has not run), that day's partition is made first. Were that to fail, the DEFAULT
partition would take the rows: an event is never refused for its day.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine

from rules.store import partitions
from rules.store.event_record import EventRecord, EventRow

log = logging.getLogger(__name__)
TABLE = "access_events"
COLUMNS = (*EventRecord._fields, "site_id")
EPOCH_DAY = date(1970, 1, 1)
# The days each database (by URL) is known to have a partition for, in this process: a set lookup a batch.
_known_days: dict[str, set[int]] = {}


def write_events(engine: Engine, rows: Sequence[EventRow], site_id: int = 1) -> int:
    """Write `rows` for school `site_id` in one transaction; return how many were written."""
    if not rows:
        return 0
    with engine.begin() as conn:
        return write_events_in(conn, rows, site_id)


def write_events_in(conn: Connection, rows: Sequence[EventRow], site_id: int = 1) -> int:
    """Write `rows` for school `site_id` inside the caller's transaction on `conn`; return how many.

    A day's missing partition is made first in a transaction of its own (on the engine), so the caller's
    transaction holds no DDL lock and a failure there never undoes the caller's other work."""
    if not rows:
        return 0
    days: set[int] = set()
    encoded = encode(rows, site_id, days)
    if conn.dialect.name == "sqlite":
        marks = ", ".join("?" * len(COLUMNS))
        conn.exec_driver_sql(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({marks})", encoded)
        return len(encoded)
    engine = conn.engine
    known = _known_days.setdefault(str(engine.url), set())
    if not days <= known:
        try:
            partitions.ensure_days(engine, (EPOCH_DAY + timedelta(days=day) for day in days - known))
            known |= days
        except Exception as exc:  # the default partition takes the rows; the next batch tries again
            log.warning("cannot make access-event partitions (%s)", str(exc).splitlines()[0])
    savepoint = conn.begin_nested()
    try:
        _copy(conn, encoded)
    except (psycopg.DataError, UnicodeEncodeError) as exc:
        # A value PostgreSQL's text cannot hold (a NUL, a lone surrogate), from what a client sent (a search for
        # "%00"): refused as it is, the batch would be refused on every retry and the log would stop behind it.
        savepoint.rollback()
        log.warning("access events with characters PostgreSQL cannot store (%s); stored with them replaced",
                    str(exc).splitlines()[0])
        savepoint = conn.begin_nested()
        _copy(conn, [tuple(storable(value) for value in row) for row in encoded])
    savepoint.commit()
    return len(encoded)


def storable(value: Any) -> Any:
    """`value` as PostgreSQL's text can hold it: a NUL and anything not UTF-8 (a lone surrogate) replaced."""
    if not isinstance(value, str):
        return value
    return value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def encode(rows: Sequence[EventRow], site_id: int, days: set[int] | None = None) -> list[tuple[Any, ...]]:
    """The rows as the database takes them: the time as UTC text (formatted once a second, not once an event:
    this runs for every query DNS answers), the school's id last. SQLite stores SQLAlchemy's text form of a
    naive UTC datetime, which is this text; PostgreSQL parses it as a timestamp in COPY's text format.
    The UTC days the rows fall on (days since 1970-01-01) are added to `days` when it is given."""
    out: list[tuple[Any, ...]] = []
    append = out.append
    second, prefix = -1, ""
    for item in rows:
        ts = float(item[0])  # type: ignore[arg-type]  # a plain tuple from the DNS fast path has no names
        whole = int(ts // 1)
        if whole != second:
            second = whole
            prefix = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%d %H:%M:%S")
            if days is not None:
                days.add(whole // 86400)
        append((f"{prefix}.{int((ts - whole) * 1_000_000):06d}", *item[1:], site_id))
    return out


def _copy(conn: Connection, encoded: list[tuple[Any, ...]]) -> None:
    """COPY the encoded rows through the psycopg connection under SQLAlchemy's, in its open transaction."""
    statement = f"COPY {TABLE} ({', '.join(COLUMNS)}) FROM STDIN"
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        write_row = copy.write_row
        for row in encoded:
            write_row(row)
