"""Access events at trust scale on PostgreSQL: day partitions made in place, ahead and on demand; COPY; whole days
dropped by retention; log pages that read only the days they need. And the same migration on SQLite, unchanged."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, insert, select, text

from rules.jobs.retention import purge_access_events
from rules.store import partitions, schema
from rules.store.access_log import LogFilter, page
from rules.store.db import Database
from rules.store.event_sink import write_events
from rules.store.event_writer import event as make_event
from rules.store.models import AccessEvent

TODAY = datetime.now(UTC).date()


def old_rows(days: int = 5, per_day: int = 60) -> list[dict[str, object]]:
    """Events a school wrote before the upgrade: `per_day` a day over the last `days` days, three devices."""
    rows = []
    for d in range(days):
        for i in range(per_day):
            ts = datetime.combine(TODAY - timedelta(days=d), datetime.min.time()) + timedelta(minutes=i * 7)
            rows.append({"ts": ts, "client_ip": f"198.18.0.{i % 3 + 1}", "device_id": i % 3 + 1, "source": "dns",
                         "host": f"d{d}-{i}.example", "action": "block" if i % 4 == 0 else "allow"})
    return rows


def read_all_pages(db: Database, flt: LogFilter, size: int = 37) -> list[int]:
    ids: list[int] = []
    cursor = None
    with db.session(read_only=True) as session:
        while True:
            result = page(session, flt, cursor, size=size)
            ids += [e.id for e in result.events]
            if result.next_cursor is None:
                return ids
            cursor = result.next_cursor


def test_an_upgrade_keeps_every_event_and_the_pages_read_them(db_url: str) -> None:
    db = Database(db_url)
    schema.upgrade(db, "0008")
    rows = old_rows()
    with db.engine.begin() as conn:
        # The 0008 table, as the code of that version wrote it (no site_id yet).
        conn.execute(text("INSERT INTO access_events (ts, client_ip, device_id, source, host, action) "
                          "VALUES (:ts, :client_ip, :device_id, :source, :host, :action)"),
                     [{**r, "ts": f"{r['ts']:%Y-%m-%d %H:%M:%S.%f}"} for r in rows])
        before = {(r.id, r.ts, r.host) for r in conn.execute(text("SELECT id, ts, host FROM access_events"))}
    schema.upgrade(db)
    with db.engine.begin() as conn:
        after = {(r.id, r.ts, r.host) for r in conn.execute(text("SELECT id, ts, host FROM access_events"))}
        sites = set(conn.scalars(text("SELECT DISTINCT site_id FROM access_events")))
        partitioned = partitions.is_partitioned(conn)
        days = partitions.existing_days(conn) if partitioned else []
    assert after == before and len(after) == len(rows) and sites == {1}
    newest_first = [i for i, _ts, _h in sorted(before, key=lambda r: (r[1], r[0]), reverse=True)]
    assert read_all_pages(db, LogFilter()) == newest_first
    device_2 = [i for i, _ts, host in sorted(before, key=lambda r: (r[1], r[0]), reverse=True)
                if int(host.split("-")[1].removesuffix(".example")) % 3 + 1 == 2]
    assert read_all_pages(db, LogFilter(device_id=2), size=10) == device_2
    # New events get ids after the old ones: the id sequence went on.
    write_events(db.engine, [make_event(time.time(), "198.18.0.9", "dns", "new.example", "allow")], site_id=1)
    with db.engine.begin() as conn:
        new_id = conn.scalar(text("SELECT id FROM access_events WHERE host = 'new.example'"))
    assert new_id > max(i for i, _ts, _h in before)
    if db_url.startswith("postgresql"):
        assert partitioned
        assert {TODAY - timedelta(days=d) for d in range(5)} <= set(days)
        assert TODAY + timedelta(days=partitions.AHEAD_DAYS) in days  # the week ahead is made too
    else:
        assert not partitioned
    # And back: the downgrade makes one table again with every row, and the upgrade after it keeps them too.
    _downgrade(db, "0009")
    with db.engine.begin() as conn:
        assert not partitions.is_partitioned(conn)
        assert conn.scalar(text("SELECT count(*) FROM access_events")) == len(rows) + 1
    schema.upgrade(db)
    assert read_all_pages(db, LogFilter())[1:] == newest_first
    db.dispose()


def _downgrade(db: Database, revision: str) -> None:
    from alembic import command

    config = schema.alembic_config(db)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url)
    schema.upgrade(database)
    yield database
    database.dispose()


def rows_in(db: Database, table: str) -> int:
    with db.engine.begin() as conn:
        return int(conn.scalar(text(f"SELECT count(*) FROM ONLY {table}")) or 0)


def test_copy_writes_a_batch_and_makes_a_missing_day(pg_db: Database) -> None:
    far = datetime(2031, 3, 4, 12, 0, tzinfo=UTC)
    batch = [make_event(far.timestamp() + i, "198.18.0.5", "proxy", "far.example", "allow", url="http://x/\t\n;")
             for i in range(500)]
    batch += [(time.time(), "198.18.0.6", 7, "ipad-7", None, "dns", "A", "now.example", None, "block", "games",
               None, "category", None, None, "udp", None)]  # a plain tuple, as DNS's cache-hit path appends
    assert write_events(pg_db.engine, batch, site_id=4) == 501
    assert rows_in(pg_db, partitions.partition_name(date(2031, 3, 4))) == 500
    assert rows_in(pg_db, partitions.DEFAULT) == 0
    with pg_db.session(read_only=True) as session:
        tuple_row = session.scalars(select(AccessEvent).where(AccessEvent.host == "now.example")).one()
        url = session.scalar(select(AccessEvent.url).where(AccessEvent.host == "far.example").limit(1))
    assert (tuple_row.device, tuple_row.category, tuple_row.transport) == ("ipad-7", "games", "udp")
    assert url == "http://x/\t\n;"  # COPY's escaping kept tabs and newlines
    with pg_db.engine.begin() as conn:
        assert set(conn.scalars(text("SELECT DISTINCT site_id FROM access_events"))) == {4}


def test_a_row_without_its_day_waits_in_the_default_and_moves_when_the_day_is_made(pg_db: Database) -> None:
    day = date(2030, 1, 2)
    with pg_db.session() as session:  # an INSERT that is not the COPY path: the default partition takes it
        session.execute(insert(AccessEvent), [{"ts": datetime(2030, 1, 2, 9, tzinfo=UTC), "client_ip": "198.18.0.1",
                                               "source": "dns", "host": "stray.example", "action": "allow"}])
    assert rows_in(pg_db, partitions.DEFAULT) == 1
    assert partitions.ensure_days(pg_db.engine, [day]) == [partitions.partition_name(day)]
    assert rows_in(pg_db, partitions.DEFAULT) == 0
    assert rows_in(pg_db, partitions.partition_name(day)) == 1


def test_the_scheduler_job_makes_a_week_ahead(pg_db: Database) -> None:
    start = TODAY + timedelta(days=100)
    made = partitions.make_ahead(pg_db.engine, start)
    assert made == [partitions.partition_name(start + timedelta(days=i)) for i in range(partitions.AHEAD_DAYS + 1)]
    assert partitions.make_ahead(pg_db.engine, start) == []


def test_retention_drops_whole_days_past_the_period(pg_db: Database) -> None:
    now = datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(hours=12)
    stamps = [now - timedelta(days=d, hours=h) for d in (1, 3, 5, 7) for h in (0, 6)]
    stamps.append(now - timedelta(days=4, hours=6))  # past the period, but on the day that holds the cutoff
    write_events(pg_db.engine, [make_event(ts.timestamp(), "198.18.0.1", "dns", f"{ts:%d-%H}.example", "allow")
                                for ts in stamps], site_id=1)
    deletes: list[str] = []
    event.listen(pg_db.engine, "before_cursor_execute",
                 lambda *args: deletes.append(args[2]) if args[2].lstrip().upper().startswith("DELETE") else None)
    removed = purge_access_events(pg_db, days=4, now=now)
    with pg_db.engine.begin() as conn:
        days = partitions.existing_days(conn)
        left = sorted(conn.scalars(select(AccessEvent.ts)))
    cutoff_day = (now - timedelta(days=4)).date()
    assert removed == 4  # days 5 and 7 ago, two events each
    assert min(days) == cutoff_day  # the day holding the cutoff stays until it has wholly passed
    assert [ts for ts in left if ts < now - timedelta(days=4)] == [now - timedelta(days=4, hours=6)]
    assert len(left) == 5
    assert all("access_events_p" not in sql for sql in deletes)  # no row-by-row delete of a day


def test_a_log_page_reads_only_the_days_in_its_window(pg_db: Database) -> None:
    for d in range(20):
        ts = datetime.combine(TODAY - timedelta(days=d), datetime.min.time(), UTC) + timedelta(hours=10)
        write_events(pg_db.engine, [make_event(ts.timestamp() + i, "198.18.0.1", "dns", f"h{d}.example", "allow",
                                               device_id=1) for i in range(30)], site_id=1)
    plans: list[str] = []

    def explain(conn, _cursor, statement, parameters, _context, _many):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "FROM access_events" in statement:
            conn.info.setdefault("to_explain", []).append((statement, parameters))

    event.listen(pg_db.engine, "before_cursor_execute", explain)
    with pg_db.session(read_only=True) as session:
        first = page(session, LogFilter(), size=20)
        middle = page(session, LogFilter(), after=first.next_cursor, size=20)
        device = page(session, LogFilter(device_id=1), size=20)
        school = page(session, LogFilter(site_ids=(1,)), size=20)
        conn = session.connection()
        wanted = conn.info.pop("to_explain")
        event.remove(pg_db.engine, "before_cursor_execute", explain)
        for statement, parameters in wanted:
            raw = conn.connection.driver_connection
            assert raw is not None
            plans.append("\n".join(r[0] for r in raw.execute("EXPLAIN " + statement, parameters)))
    assert len(first.events) == len(middle.events) == len(device.events) == len(school.events) == 20
    assert [e.id for e in school.events] == [e.id for e in first.events]  # one school wrote them all
    assert plans
    for plan in plans:
        scanned = set(re.findall(r" on (access_events_p\d{8})", plan))
        assert 0 < len(scanned) <= 3, plan  # a day's window: at most three days, not all twenty-seven


def test_sqlite_keeps_one_table(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/s.db")
    schema.upgrade(db)
    write_events(db.engine, [make_event(time.time(), "198.18.0.1", "dns", "a.example", "allow")], site_id=1)
    assert partitions.make_ahead(db.engine) == []
    with db.engine.begin() as conn:
        assert conn.scalar(select(func.count()).select_from(AccessEvent)) == 1
        assert not partitions.is_partitioned(conn)
