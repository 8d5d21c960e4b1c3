#!/usr/bin/env python3
"""Bench: what logging an access event costs the process that answers (DNS, the proxy), per event.

Records events shaped like DNS's cache hits (a plain tuple, the same strings each time) at a steady rate into
a writer over SQLite (or PostgreSQL with --url), as the serving process does, and reads this process's CPU time
(user + system, all its threads; `getrusage(RUSAGE_SELF)`, which leaves out child processes). The figure is
that time less the same loop appending to a deque that nothing stores (the baseline, measured just before each
run), divided by the events; the median of a few interleaved rounds, as a busy machine drifts:

- `before`: the writer as it was at the git revision `--before` (a thread in this process encoding and
  inserting every event), loaded from git;
- `in-process`: today's writer with its writer in this process's thread (what tools and tests use);
- `separate process`: today's writer as the services run it (`separate_process=True`): this process only
  appends batches to its spool segment; the writer process's own CPU time is shown beside it.

Every run checks that every event recorded reached the database.

Usage: .venv/bin/python bench/event_writer.py [--rate 20000] [--seconds 5] [--rounds 3] [--url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from rules.store import schema  # noqa: E402
from rules.store.db import Database  # noqa: E402
from rules.store.event_writer import EventWriter  # noqa: E402

HEAD = ("10.1.0.5", 12, "Class 3 iPad 07", "aa:bb:cc:dd:ee:07")
TAILS = [("dns", "A", f"www.site{i}.example.org", None, "allow", None, None, "default", None) for i in range(1000)]


def cpu(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def drive(record: Any, rate: int, seconds: float) -> int:
    """Record `rate` events a second for `seconds`, a millisecond's worth at a time, as DNS would."""
    per_tick = max(1, rate // 1000)
    sent, started = 0, time.monotonic()
    end = started + seconds
    while (now := time.monotonic()) < end:
        due = int((now - started) * rate)
        while sent < due:
            for _ in range(per_tick):
                record((time.time(), *HEAD, *TAILS[sent % 1000], None, "udp", None))
            sent += per_tick
        time.sleep(0.001)
    return sent


def old_writer_class(revision: str) -> Any:
    """`EventWriter` as it was at `revision` (it needs only `rules.store.db`, which is unchanged in what it uses)."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:rules/store/event_writer.py"],
                            capture_output=True, text=True, check=True).stdout
    spec = importlib.util.spec_from_loader("bench_old_event_writer", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    exec(compile(source, f"{revision}:rules/store/event_writer.py", "exec"), module.__dict__)  # noqa: S102
    return module.EventWriter


def stored(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM access_events")).scalar() or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=20_000, help="events a second")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--url", help="a database URL (default: SQLite in a temporary folder)")
    parser.add_argument("--before", default="f02d50c", help="git revision of the writer to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="sg-bench-events-"))
    db = Database(args.url or f"sqlite:///{folder}/events.db")
    schema.upgrade(db)

    queue: deque[tuple[object, ...]] = deque()

    def baseline_record(item: tuple[object, ...]) -> None:
        queue.append(item)
        if len(queue) > 5000:
            queue.clear()

    def baseline() -> float:
        started = cpu()
        sent = drive(baseline_record, args.rate, args.seconds)
        return (cpu() - started) / sent

    old = old_writer_class(args.before)
    cases = [("before", lambda spool: old(db, spool)),
             ("in-process", lambda spool: EventWriter(db, spool)),
             ("separate process", lambda spool: EventWriter(db, spool, separate_process=True))]
    costs: dict[str, list[float]] = {name: [] for name, _ in cases}
    children: dict[str, list[float]] = {name: [] for name, _ in cases}
    for round_ in range(args.rounds):  # interleaved, each against a baseline of its own: a busy machine drifts
        for name, make in cases:
            with db.engine.begin() as conn:
                conn.execute(text("DELETE FROM access_events"))
            base = baseline()
            writer = make(folder / f"spool-{round_}-{name.replace(' ', '-')}")
            children_before = cpu(resource.RUSAGE_CHILDREN)
            started = cpu()
            writer.start()
            sent = drive(writer.record, args.rate, args.seconds)
            writer.stop()  # everything stored: its cost is counted too
            costs[name].append((cpu() - started) / sent - base)
            children[name].append((cpu(resource.RUSAGE_CHILDREN) - children_before) / sent)
            count = stored(db)
            print(f"round {round_ + 1} {name:>17}: {costs[name][-1] * 1e6:6.2f} µs an event in the serving "
                  f"process (baseline {base * 1e6:.2f} µs), stored {count:,} of {sent:,}"
                  f"{'' if count == sent else '  EVENTS MISSING'}", flush=True)
    db.dispose()
    print(f"\nmedian of {args.rounds} rounds, {args.rate:,} events a second, {args.seconds:.0f} s each, "
          f"{db.engine.dialect.name}:")
    before = statistics.median(costs["before"])
    for name, _ in cases:
        cost, child = statistics.median(costs[name]), statistics.median(children[name])
        print(f"{name:>17}: {cost * 1e6:6.2f} µs an event in the serving process ({cost / before:.2f} of before)"
              f"{f'; the writer process {child * 1e6:.2f} µs' if child else ''}")


if __name__ == "__main__":
    main()
