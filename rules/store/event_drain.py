"""The writer's side of the spool: every frame of every segment stored in the database, exactly once.

`SpoolDrainer.drain()` reads the complete frames each segment has gained since the last pass and writes them in
batches (whole frames, up to `batch_size` events a transaction). The same transaction records, for each segment
it took rows from, the sequence number of the last frame stored (`EventSpoolMark`); a writer killed at any
moment, or another one taking over, goes on from the last committed frame, so nothing is stored twice and
nothing is skipped. When the database cannot take a batch, everything stays in the segments and the next pass
starts again from the marks: an outage loses nothing and needs no second copy.

A segment whose frames are all stored and that nobody has appended to for `idle_seconds` (any, on the last
pass) is retired: renamed `*.done` under its exclusive lock (an appender then starts a new segment), its mark
deleted, the file deleted. Bytes after the last frame are half a frame whose writer was killed writing it.

One drainer at a time per spool folder: `hold()` takes an exclusive lock on `.writer.lock` there and forgets
what it knew of the segments (another drainer may have stored frames meanwhile).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from rules.store.db import Database
from rules.store.event_sink import write_events_in
from rules.store.event_spool import (
    DamagedSegment,
    Row,
    encode,
    frame_header,
    locked,
    read_frames,
    same_file,
    segments,
)
from rules.store.models import EventSpoolMark, utcnow

log = logging.getLogger("rules.store.event_writer")
LOCK_NAME = ".writer.lock"
DONE_SUFFIX = ".done"
DAMAGED_SUFFIX = ".damaged"


@dataclass
class WriterStats:
    written: int = 0  # events stored in the database
    spooled: int = 0  # events appended to the spool
    batches: int = 0
    failures: int = 0
    dropped: int = 0  # events lost: the spool could not be written and the queue was full


def write_events(conn: Connection, rows: Sequence[Row], site_id: int) -> None:
    """The one database write of a batch of events (rows in `EventRecord`'s field order), inside the caller's
    transaction (which also moves the segments' marks); `site_id`, the gateway's school, is added to every row
    there, never by the serving process. COPY on PostgreSQL, executemany on SQLite: `rules.store.event_sink`."""
    write_events_in(conn, rows, site_id)


def adopt_legacy_spool(spool_dir: Path) -> None:
    """Turn the JSON-lines spool files of earlier versions (`events-NS.jsonl`, written while the database was
    down) into segments, so an upgrade during an outage loses nothing. The segment's name follows from the
    file's and is put in place whole (a temporary file renamed), so doing this again after a crash mid-way
    makes no second copy."""
    for path in sorted(spool_dir.glob("events-*.jsonl")):
        segment = spool_dir / f"events-{path.stem.removeprefix('events-').zfill(20)}-legacy00.seg"
        if not segment.exists():
            rows = [tuple(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            payload = encode(rows)
            temporary = segment.with_name(f".{segment.name}.tmp")
            temporary.write_bytes(frame_header(1, payload) + payload)
            temporary.rename(segment)
        path.unlink()


class _Tail:
    """A segment being read: its open file, how far it is stored (bytes and frame number)."""

    def __init__(self, path: Path, seq: int) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.pos = 0
        self.seq = seq

    def close(self) -> None:
        os.close(self.fd)


class SpoolDrainer:
    """See the module docstring. Not thread-safe: one pass at a time, inside `hold()`."""

    def __init__(self, db: Database, spool_dir: Path, site_id: int = 1, batch_size: int = 20_000,
                 idle_seconds: float = 1.0, stats: WriterStats | None = None) -> None:
        self.db = db
        self.spool_dir = spool_dir
        self.site_id = site_id
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.stats = stats or WriterStats()
        self._tails: dict[str, _Tail] = {}
        self._down = False
        insert = (sqlite if db.engine.dialect.name == "sqlite" else postgresql).insert(EventSpoolMark)
        self._upsert = insert.on_conflict_do_update(
            index_elements=["segment"], set_={"frame": insert.excluded.frame, "updated_at": insert.excluded.updated_at})

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Be the only drainer of this folder (waits for one still finishing, e.g. a killed process's)."""
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.spool_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._forget()
            adopt_legacy_spool(self.spool_dir)
            yield
        finally:
            self._forget()
            os.close(fd)

    def drain(self, final: bool = False) -> bool:
        """One pass: store every complete frame there is; True when it all went in."""
        if not self._finish_retired() or not self._follow(segments(self.spool_dir)):
            return False
        batch: list[Row] = []
        reached: dict[str, tuple[int, int]] = {}  # segment: (last frame in the batch, where it ends)
        for name, tail in list(self._tails.items()):
            at = tail.pos
            while True:
                try:
                    frames = read_frames(tail.fd, at, stored_through=tail.seq)
                except DamagedSegment:
                    if reached and not self._commit(batch, reached):  # the good frames before it first
                        return False
                    batch, reached = [], {}
                    self._check_damage(name, at)
                    break
                if not frames:
                    break
                for frame in frames:
                    if frame.seq <= tail.seq:  # stored already (read again after a rewrite or a restart)
                        tail.pos = frame.end
                        continue
                    batch.extend(frame.rows)
                    reached[name] = (frame.seq, frame.end)
                    if len(batch) >= self.batch_size:
                        if not self._commit(batch, reached):
                            return False
                        batch, reached = [], {}
                at = frames[-1].end
        if reached and not self._commit(batch, reached):
            return False
        self._retire_stored(final)
        return True

    def _follow(self, paths: list[Path]) -> bool:
        """Open the segments not yet followed, with their marks; reopen one that an erasure rewrote."""
        names = {path.name for path in paths}
        for name in [n for n in self._tails if n not in names]:
            self._tails.pop(name).close()
        for name, tail in list(self._tails.items()):
            if not same_file(tail.fd, tail.path):  # rewritten: the same frames (numbers kept), read again
                self._tails.pop(name).close()
                self._open(tail.path, tail.seq)
        new = [path for path in paths if path.name not in self._tails]
        if not new:
            return True
        try:
            with self.db.session(read_only=True) as session:
                marks = dict(session.execute(select(EventSpoolMark.segment, EventSpoolMark.frame)
                                             .where(EventSpoolMark.segment.in_([p.name for p in new]))).all())
        except Exception as exc:
            self._failed(exc, 0)
            return False
        for path in new:
            self._open(path, marks.get(path.name, 0))
        return True

    def _open(self, path: Path, seq: int) -> None:
        try:
            self._tails[path.name] = _Tail(path, seq)
        except FileNotFoundError:
            pass

    def _commit(self, batch: list[Row], reached: dict[str, tuple[int, int]]) -> bool:
        now = utcnow()
        try:
            with self.db.engine.begin() as conn:
                if batch:
                    write_events(conn, batch, self.site_id)
                conn.execute(self._upsert, [{"segment": name, "frame": seq, "updated_at": now}
                                            for name, (seq, _end) in reached.items()])
        except Exception as exc:  # the database is down, locked or full: the segments keep everything
            self._failed(exc, len(batch))
            return False
        for name, (seq, end) in reached.items():
            tail = self._tails[name]
            tail.seq, tail.pos = seq, end
        self.stats.written += len(batch)
        self.stats.batches += 1
        if self._down:
            self._down = False
            log.info("the database answers again; spooled access events are being written")
        return True

    def _failed(self, exc: Exception, events: int) -> None:
        self.stats.failures += 1
        self._forget()  # start again from the marks
        if not self._down:
            self._down = True
            what = f"{events} access events" if events else "access events"
            log.warning("cannot write %s (%s); spooling to disk until the database answers", what,
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    def _retire_stored(self, final: bool) -> None:
        """Retire the segments whose frames are all stored and that are idle (any, when `final`)."""
        now = time.time()
        for name, tail in list(self._tails.items()):
            status = os.fstat(tail.fd)
            if status.st_size > tail.pos and not self._torn(tail):
                continue
            if not final and now - status.st_mtime < self.idle_seconds:
                continue
            with locked(tail.fd, exclusive=True):  # no appender is writing now
                if not same_file(tail.fd, tail.path) or (os.fstat(tail.fd).st_size > tail.pos and
                                                         not self._torn(tail)):
                    continue
                left = os.fstat(tail.fd).st_size - tail.pos
                if left:
                    log.warning("%s ends with %d bytes of a batch its process did not finish writing (it was "
                                "killed while writing); dropped", tail.path, left)
                os.rename(tail.path, tail.path.with_suffix(DONE_SUFFIX))
            self._tails.pop(name).close()
        self._finish_retired()

    def _torn(self, tail: _Tail) -> bool:
        """Whether the bytes after what is stored hold no complete frame (half a frame, or nothing)."""
        try:
            return not read_frames(tail.fd, tail.pos)
        except DamagedSegment:
            return False

    def _finish_retired(self) -> bool:
        """Delete the marks of retired segments, then the files (a mark without a file is never read again)."""
        done = sorted(self.spool_dir.glob(f"events-*{DONE_SUFFIX}"))
        if not done:
            return True
        try:
            with self.db.engine.begin() as conn:
                conn.execute(delete(EventSpoolMark).where(
                    EventSpoolMark.segment.in_([p.with_suffix(".seg").name for p in done])))
        except Exception as exc:
            self._failed(exc, 0)
            return False
        for path in done:
            path.unlink(missing_ok=True)
        return True

    def _check_damage(self, name: str, at: int) -> None:
        """Bytes that are not a frame at `at`: read again while no appender can be writing, and if they are still
        not a frame, the segment (damaged, or not ours) is kept aside for the operator and never read again."""
        tail = self._tails[name]
        with locked(tail.fd, exclusive=True):
            try:
                read_frames(tail.fd, at)
                return
            except DamagedSegment as exc:
                aside = tail.path.with_name(tail.path.name + DAMAGED_SUFFIX)
                log.error("%s cannot be read (%s): its events after frame %d are not written; kept as %s",
                          tail.path, exc, tail.seq, aside)
                if same_file(tail.fd, tail.path):
                    tail.path.rename(aside)
        self._tails.pop(name).close()

    def _forget(self) -> None:
        for tail in self._tails.values():
            tail.close()
        self._tails.clear()
