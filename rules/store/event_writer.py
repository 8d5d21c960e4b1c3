"""The batched writer of access events: the hot path appends, a thread writes, nothing is lost.

DNS and the proxy call `EventWriter.record()` with an `EventRecord`; that is one `deque.append`, and
never waits for the database. A thread drains the queue about every half second
and writes each batch with one `executemany`. When the database cannot take a batch (it is down,
locked, full), the batch is appended to a spool file on disk, and the spool is replayed, oldest first,
once the database answers again. When the queue grows past its bound, the thread spools the excess
at once instead of letting memory grow.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from rules.store.db import Database, is_sqlite

log = logging.getLogger(__name__)

class EventRecord(NamedTuple):
    """One access event on its way to the `access_events` table (`rules.store.models.AccessEvent`).

    A NamedTuple rather than a dataclass because DNS makes one for every query it answers: it is built like
    a tuple and handed to `executemany` as one, and its fields are the table's columns in this order (the
    INSERT is made from `_fields`). The first four fields are what `PolicySnapshot.event_head()` returns, so
    the hot paths can build a record positionally from the head and a cached tail.

    `transport` is how the device reached us ("udp" or "tcp"): a completed TCP connection proves the source
    address was the sender's own, a UDP datagram does not (its source can be forged). `port` is the
    destination port a gateway catcher saw (blocked ports, DNS over TLS). `signal` is a
    `rules.monitoring.signals.SignalKind`, or None for an ordinary event.

    The writer also takes a plain tuple in this field order: DNS's cache-hit path appends one, because
    building a NamedTuple there costs more than half the rest of answering from the cache (measured:
    1.2 µs a query with a tuple, 1.95 µs with `_make`).
    """

    ts: float
    client_ip: str
    device_id: int | None
    device: str | None
    mac: str | None
    source: str
    qtype: str | None
    host: str
    url: str | None
    action: str
    category: str | None
    rule: str | None
    reason: str | None
    search_term: str | None
    signal: str | None
    transport: str | None
    port: int | None


# What the writer takes: a record, or a plain tuple in its field order (DNS's cache-hit path).
EventRow = EventRecord | tuple[object, ...]


def event(ts: float, client_ip: str, source: str, host: str, action: str, *, device_id: int | None = None,
          device: str | None = None, mac: str | None = None, qtype: str | None = None, url: str | None = None,
          category: str | None = None, rule: str | None = None, reason: str | None = None,
          search_term: str | None = None, signal: str | None = None, transport: str | None = None,
          port: int | None = None) -> EventRecord:
    """An `EventRecord` with only the fields that matter given, the rest None (for tests and tools)."""
    return EventRecord(ts=ts, client_ip=client_ip, device_id=device_id, device=device, mac=mac, source=source,
                       qtype=qtype, host=host, url=url, action=action, category=category, rule=rule, reason=reason,
                       search_term=search_term, signal=signal, transport=transport, port=port)


@dataclass
class WriterStats:
    written: int = 0
    spooled: int = 0
    batches: int = 0
    failures: int = 0


class EventWriter:
    """Collects access events and writes them in batches; see the module docstring."""

    def __init__(self, db: Database, spool_dir: Path, interval: float = 0.5, max_queue: int = 500_000,
                 batch_size: int = 20_000, site_id: int = 1) -> None:
        self.db = db
        self.site_id = int(site_id)  # the gateway's school: a constant column, never a field of the hot path's record
        self.spool_dir = spool_dir
        self.interval = interval
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.stats = WriterStats()
        self._queue: deque[EventRow] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one drain at a time (thread or flush())
        self._sqlite = is_sqlite(db.engine)
        columns = ", ".join(EventRecord._fields)
        marks = ", ".join(["?" if self._sqlite else "%s"] * len(EventRecord._fields))
        self._sql = f"INSERT INTO access_events ({columns}, site_id) VALUES ({marks}, {self.site_id})"
        self.record = self._queue.append  # the hot path: one C call

    def start(self) -> EventWriter:
        self._thread = threading.Thread(target=self._run, name="event-writer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()

    def pending(self) -> int:
        return len(self._queue)

    def flush(self) -> None:
        """Write everything queued now (and replay the spool if the database answers)."""
        with self._lock:
            self._drain()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # never let the writer thread die
                log.exception("event writer cycle failed")

    def _drain(self) -> None:
        queue = self._queue
        while len(queue) > self.max_queue:
            self._spool([queue.popleft() for _ in range(min(self.batch_size, len(queue) - self.max_queue))])
        database_ok = True
        if self._spool_files():
            database_ok = self._replay()
        while queue:
            batch = [queue.popleft() for _ in range(min(self.batch_size, len(queue)))]
            if database_ok and self._write(batch):
                self.stats.written += len(batch)
            else:
                database_ok = False
                self._spool(batch)

    def _rows(self, batch: Sequence[EventRow]) -> list[tuple[object, ...]]:
        """Rows for executemany. SQLite stores the time as SQLAlchemy's text form; the date and time to the
        second are formatted once a second, not once an event (this runs for every query DNS answers)."""
        rows: list[tuple[object, ...]] = []
        if not self._sqlite:
            for item in batch:
                stamp = datetime.fromtimestamp(float(item[0]), UTC).replace(tzinfo=None)  # type: ignore[arg-type]
                rows.append((stamp, *item[1:]))
            return rows
        second, prefix = -1, ""
        for item in batch:
            ts = float(item[0])  # type: ignore[arg-type]  # (ts) a plain tuple from the DNS fast path has no names
            whole = int(ts)
            if whole != second:
                second = whole
                prefix = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%d %H:%M:%S")
            rows.append((f"{prefix}.{int((ts - whole) * 1_000_000):06d}", *item[1:]))
        return rows

    def _write(self, batch: Sequence[EventRow]) -> bool:
        try:
            with self.db.engine.begin() as conn:
                conn.exec_driver_sql(self._sql, self._rows(batch))
        except Exception as exc:
            self.stats.failures += 1
            log.warning("cannot write %d access events (%s); spooling to disk", len(batch),
                        str(exc).splitlines()[0])
            return False
        self.stats.batches += 1
        return True

    def _spool(self, batch: Sequence[EventRow]) -> None:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = self.spool_dir / f"events-{time.time_ns()}.jsonl"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            for item in batch:
                handle.write(json.dumps(item, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        tmp.rename(path)
        self.stats.spooled += len(batch)

    def _spool_files(self) -> list[Path]:
        if not self.spool_dir.is_dir():
            return []
        return sorted(self.spool_dir.glob("events-*.jsonl"))

    def _replay(self) -> bool:
        for path in self._spool_files():
            with open(path, encoding="utf-8") as handle:
                batch = [EventRecord(*json.loads(line)) for line in handle if line.strip()]
            if batch and not self._write(batch):
                return False
            path.unlink()
            self.stats.written += len(batch)
        return True
