"""The batched event writer: everything recorded reaches the database, even across an outage."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from rules.sites import ensure_site
from rules.store.db import Database
from rules.store.event_spool import SEGMENT_GLOB
from rules.store.event_writer import EventWriter, event
from rules.store.models import AccessEvent


def count(db: Database) -> int:
    with db.session(read_only=True) as session:
        return int(session.scalar(select(func.count()).select_from(AccessEvent)) or 0)


def test_events_are_written_in_batches(db: Database, tmp_path: Path) -> None:
    writer = EventWriter(db, tmp_path / "spool", batch_size=1000)
    now = time.time()
    for i in range(2500):
        writer.record(event(now, f"10.0.0.{i % 200}", "dns", f"h{i}.example", "allow", qtype="A", device_id=i % 3))
    writer.flush()
    assert count(db) == 2500
    assert writer.stats.batches == 3
    with db.session(read_only=True) as session:
        first = session.scalars(select(AccessEvent).order_by(AccessEvent.id)).first()
        assert first is not None and first.host == "h0.example" and first.qtype == "A"
        assert abs(first.ts.timestamp() - now) < 0.01 and first.ts.tzinfo is not None


def test_an_outage_spools_to_disk_and_replays_in_order(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/db.sqlite"
    from rules.store import schema

    db = Database(url)
    schema.upgrade(db)
    spool = tmp_path / "spool"
    down = Database(f"sqlite:///{tmp_path}/no-such-folder/db.sqlite")  # the database cannot be reached
    (tmp_path / "no-such-folder").rmdir()
    writer = EventWriter(down, spool)
    for i in range(300):
        writer.record(event(time.time(), "10.0.0.1", "dns", f"outage{i}.example", "block"))
    writer.flush()
    assert count(db) == 0 and writer.stats.spooled == 300 and writer.stats.failures >= 1
    assert list(spool.glob(SEGMENT_GLOB))
    back = EventWriter(db, spool)  # the database answers again
    back.record(event(time.time(), "10.0.0.1", "dns", "after.example", "allow"))
    back.flush()
    assert count(db) == 301 and not list(spool.glob(SEGMENT_GLOB))
    with db.session(read_only=True) as session:
        hosts = list(session.scalars(select(AccessEvent.host).order_by(AccessEvent.id)))
    assert hosts[0] == "outage0.example" and hosts[-1] == "after.example"
    assert hosts == [f"outage{i}.example" for i in range(300)] + ["after.example"]


def test_a_queue_past_its_bound_drops_the_oldest_when_the_spool_cannot_be_written(
        tmp_path: Path, sqlite_db: Database) -> None:
    """Memory stays bounded: with neither the database nor the disk taking events, the oldest beyond
    `max_queue` are dropped and counted (and logged), never kept without limit."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the spool folder should be", encoding="utf-8")
    writer = EventWriter(sqlite_db, blocked / "spool", max_queue=100, batch_size=50)
    for i in range(1000):
        writer.record(event(time.time(), "10.0.0.1", "dns", f"x{i}.example", "allow"))
    writer._append()  # what the thread does every 50 ms
    assert writer.pending() == 100 and writer.stats.dropped == 900 and writer.stats.spooled == 0


def test_the_thread_writes_without_being_asked(sqlite_db: Database, tmp_path: Path) -> None:
    writer = EventWriter(sqlite_db, tmp_path / "spool", interval=0.05).start()
    try:
        writer.record(event(time.time(), "10.0.0.1", "proxy", "a.example", "allow", url="http://a.example/"))
        deadline = time.monotonic() + 5
        while count(sqlite_db) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert count(sqlite_db) == 1
    finally:
        writer.stop()


@pytest.mark.parametrize("separate_process", [False, True], ids=["thread", "process"])
def test_every_event_carries_the_gateways_school(db: Database, tmp_path: Path, separate_process: bool) -> None:
    """The writer adds the school's id to each row (the serving process records the same tuples as before); the
    services' writer process does it too, and the spool is empty once it has stopped."""
    with db.session() as session:
        school = ensure_site(session, "st-marys")
    writer = EventWriter(db, tmp_path / "spool", site_id=school, separate_process=separate_process).start()
    for i in range(50):
        writer.record((time.time(), "10.1.0.5", None, None, None, "dns", "A", f"s{i}.example", None, "allow", None,
                       None, None, None, None, "udp", None))
    writer.stop()
    with db.session(read_only=True) as session:
        schools = list(session.scalars(select(AccessEvent.site_id)))
    assert schools == [school] * 50 and writer.stats.written == 50
    assert not list((tmp_path / "spool").glob(SEGMENT_GLOB))


def test_events_spooled_by_an_earlier_version_are_written_after_the_upgrade(sqlite_db: Database,
                                                                           tmp_path: Path) -> None:
    """Before the spool segments, the writer spooled to `events-NS.jsonl` while the database was down; a
    gateway upgraded during an outage writes those too, once."""
    spool = tmp_path / "spool"
    spool.mkdir()
    old = [event(time.time(), "10.0.0.1", "dns", f"old{i}.example", "allow", qtype="A") for i in range(3)]
    (spool / f"events-{time.time_ns()}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in old))
    EventWriter(sqlite_db, spool).flush()
    EventWriter(sqlite_db, spool).flush()
    with sqlite_db.session(read_only=True) as session:
        hosts = list(session.scalars(select(AccessEvent.host).order_by(AccessEvent.id)))
    assert hosts == ["old0.example", "old1.example", "old2.example"]
    assert not list(spool.glob("events-*"))
