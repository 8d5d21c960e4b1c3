"""Spool segments between an appender, the writer and an erasure: nothing lost, nothing twice."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import select

from rules.store.db import Database
from rules.store.event_drain import SpoolDrainer
from rules.store.event_spool import SEGMENT_GLOB, SegmentAppender, encode, frame_header, rewrite, segments
from rules.store.event_writer import event
from rules.store.models import AccessEvent, EventSpoolMark


def hosts(db: Database) -> list[str]:
    with db.session(read_only=True) as session:
        return list(session.scalars(select(AccessEvent.host).order_by(AccessEvent.id)))


def rows(*names: str) -> list[tuple[object, ...]]:
    return [tuple(event(time.time(), "10.0.0.1", "dns", name, "allow")) for name in names]


def drain(db: Database, spool: Path, final: bool = True) -> SpoolDrainer:
    drainer = SpoolDrainer(db, spool)
    with drainer.hold():
        assert drainer.drain(final=final)
    return drainer


def test_an_appender_whose_segment_was_rewritten_goes_on_in_a_new_one(sqlite_db: Database, tmp_path: Path) -> None:
    """An erasure replaces the file under the appender: what it appends next must not go into the old, unlinked
    file (lost), but into a new segment; the rewritten one keeps its frame numbers, so nothing is stored twice."""
    spool = tmp_path / "spool"
    appender = SegmentAppender(spool)
    appender.append(encode(rows("a.example", "sam.example")))
    drain(sqlite_db, spool, final=False)  # frame 1 stored; the segment stays (not idle)
    appender.append(encode(rows("b.example", "sam.example")))
    [segment] = segments(spool)
    assert rewrite(segment, lambda row: None if row[7] == "sam.example" else row) == (2, True)
    appender.append(encode(rows("c.example")))
    assert len(segments(spool)) == 2
    drain(sqlite_db, spool)
    assert hosts(sqlite_db) == ["a.example", "sam.example", "b.example", "c.example"]
    assert segments(spool) == []
    with sqlite_db.session(read_only=True) as session:
        assert session.scalars(select(EventSpoolMark)).all() == []  # retired segments leave no mark behind


def test_half_a_frame_left_by_a_killed_process_is_dropped_and_the_rest_stored(sqlite_db: Database,
                                                                             tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    appender = SegmentAppender(spool)
    appender.append(encode(rows("whole.example")))
    [segment] = segments(spool)
    payload = encode(rows("half.example"))
    with open(segment, "ab") as handle:  # what a kill in the middle of a write leaves
        handle.write((frame_header(2, payload) + payload)[:-7])
    past = time.time() - 5
    os.utime(segment, (past, past))
    drain(sqlite_db, spool, final=False)
    assert hosts(sqlite_db) == ["whole.example"]
    assert segments(spool) == []


def test_a_damaged_segment_is_set_aside_after_its_good_frames(sqlite_db: Database, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    appender = SegmentAppender(spool)
    appender.append(encode(rows("good.example")))
    [segment] = segments(spool)
    with open(segment, "ab") as handle:
        handle.write(b"this is not a frame at all, whatever it is")
    drain(sqlite_db, spool)
    assert hosts(sqlite_db) == ["good.example"]
    assert not list(spool.glob(SEGMENT_GLOB)) and [p.name for p in spool.glob("*.damaged")] == [
        f"{segment.name}.damaged"]


def test_a_frame_cannot_make_the_writer_build_objects(sqlite_db: Database, tmp_path: Path) -> None:
    """A pickle in the spool folder that names a class (it could run code when built) is refused, not loaded."""
    import pickle

    spool = tmp_path / "spool"
    spool.mkdir()
    payload = pickle.dumps([(Path("/etc/passwd"),)])
    (spool / "events-00000000000000000001-deadbeef.seg").write_bytes(frame_header(1, payload) + payload)
    drain(sqlite_db, spool)
    assert hosts(sqlite_db) == [] and list(spool.glob("*.damaged"))


def test_a_second_drainer_goes_on_from_the_first_ones_mark(sqlite_db: Database, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    appender = SegmentAppender(spool)
    appender.append(encode(rows("one.example")))
    drain(sqlite_db, spool, final=False)
    appender.append(encode(rows("two.example")))
    drain(sqlite_db, spool, final=False)  # a new drainer: reads the segment from the start, skips frame 1
    assert hosts(sqlite_db) == ["one.example", "two.example"]


def test_a_tampered_frame_with_a_good_checksum_is_set_aside_not_retried_for_ever(db: Database,
                                                                                 tmp_path: Path) -> None:
    """A frame that passes its checksum but holds rows that are not events (a row too long, a time that is not
    a number: a segment edited by hand, or written by another version) was refused by the database on every
    pass, and every segment after it waited behind it: the school's log stopped. It is set aside as damaged."""
    spool = tmp_path / "spool"
    spool.mkdir()
    good = rows("before.example")
    for name, bad in (("a", [(*good[0], "extra")]), ("b", [("yesterday", *good[0][1:])])):
        payload = encode(bad)
        (spool / f"events-0000000000000000000{name}-tampered.seg").write_bytes(frame_header(1, payload) + payload)
    SegmentAppender(spool).append(encode(rows("after.example")))
    drainer = SpoolDrainer(db, spool)
    with drainer.hold():
        drainer.drain(final=True)
        drainer.drain(final=True)
    assert hosts(db) == ["after.example"]
    assert sorted(p.name for p in spool.glob("*.damaged")) == [
        "events-0000000000000000000a-tampered.seg.damaged", "events-0000000000000000000b-tampered.seg.damaged"]
