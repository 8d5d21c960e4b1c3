"""The access events' writer, as the serving process sees it: the hot path appends, nothing is lost.

DNS and the proxy call `EventWriter.record()` with an `EventRecord` (or a plain tuple in its field order); that
is one `deque.append`, and never waits for a disk or the database. About every 50 ms a thread appends what
has been queued to this process's spool segment (`rules.store.event_spool`: one frame, one system call), so
once an event is 50 ms old a `kill -9` of the process cannot lose it. The database work is the writer's
(`rules.store.event_drain`): in a process of its own for the services (`separate_process=True`,
`rules.store.event_process`), so the serving process pays only for the append (measured by
`bench/event_writer.py`); in this process's thread for tools and tests. When the database is down the events
wait in the segments and are written when it answers; when the spool cannot be written either (disk full), the
queue is kept up to `max_queue` events and the oldest beyond that are dropped and counted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from pathlib import Path

from rules.store.db import Database
from rules.store.event_drain import SpoolDrainer, WriterStats
from rules.store.event_process import WriterProcess, WriterSettings
from rules.store.event_record import EventRecord, EventRow, event
from rules.store.event_spool import SegmentAppender, encode

__all__ = ["EventRecord", "EventRow", "EventWriter", "WriterStats", "event"]

log = logging.getLogger(__name__)


class EventWriter:
    """Collects access events and hands them to the writer; see the module docstring."""

    def __init__(self, db: Database, spool_dir: Path, interval: float = 0.05, max_queue: int = 500_000,
                 batch_size: int = 20_000, *, site_id: int = 1, separate_process: bool = False,
                 drain_interval: float = 0.5) -> None:
        self.db = db
        self.site_id = int(site_id)  # the gateway's school: a constant column the writer adds, never a record's field
        self.spool_dir = spool_dir
        self.interval = interval
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.drain_interval = drain_interval
        self.stats = WriterStats()
        self._queue: deque[EventRow] = deque()
        self._segment = SegmentAppender(spool_dir)
        self._drainer = SpoolDrainer(db, spool_dir, self.site_id, batch_size, stats=self.stats)
        self._process = WriterProcess(WriterSettings(
            url=db.url, spool_dir=str(spool_dir), site_id=self.site_id, batch_size=batch_size, interval=drain_interval,
            log_level=logging.getLogger().getEffectiveLevel())) if separate_process else None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one append (and drain) at a time: the thread's or flush()'s
        self._spool_failing = False
        self.record = self._queue.append  # the hot path: one C call

    def start(self) -> EventWriter:
        if self._process is not None:
            self._process.start()
        self._thread = threading.Thread(target=self._run, name="event-writer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Append what is queued, then let the writer store everything (its last pass) and stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._lock:
            self._append()
            if self._process is not None:
                written = self._process.stop()
                self.stats.written, self.stats.batches = written.written, written.batches
                self.stats.failures += written.failures
            else:
                self._drain(final=True)
        self._segment.close()

    def pending(self) -> int:
        return len(self._queue)

    def flush(self) -> None:
        """Append everything queued to the spool now; without a writer process, store the spool too."""
        with self._lock:
            self._append()
            if self._process is None:
                self._drain(final=True)

    def _run(self) -> None:
        next_drain = time.monotonic() + self.drain_interval
        while not self._stop.wait(self.interval):
            try:
                with self._lock:
                    self._append()
                    if self._process is not None:
                        self._process.check()
                    elif time.monotonic() >= next_drain:
                        next_drain = time.monotonic() + self.drain_interval
                        self._drain(final=False)
            except Exception:  # never let the writer thread die
                log.exception("event writer cycle failed")

    def _append(self) -> None:
        queue = self._queue
        while queue:
            batch = [queue.popleft() for _ in range(min(len(queue), self.batch_size))]
            try:
                self._segment.append(encode(batch))
            except OSError as exc:
                queue.extendleft(reversed(batch))
                if not self._spool_failing:
                    self._spool_failing = True
                    log.error("cannot append access events to the spool in %s (%s); keeping up to %d in memory",
                              self.spool_dir, exc, self.max_queue)
                break
            self.stats.spooled += len(batch)
            self._spool_failing = False
        excess = len(queue) - self.max_queue
        if excess > 0:
            for _ in range(excess):
                queue.popleft()
            self.stats.dropped += excess
            log.error("dropped %d access events: neither the spool nor memory could take them", excess)

    def _drain(self, final: bool) -> None:
        with self._drainer.hold():
            self._drainer.drain(final=final)
