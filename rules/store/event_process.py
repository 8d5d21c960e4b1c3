"""The event writer process: stores one spool folder in the database, beside the serving process that fills it.

A serving process (a DNS or proxy worker) starts its own writer (`WriterProcess`): `python -m
rules.store.event_process`, told its settings as one JSON line on stdin (so the database URL is not in the
process list), with the pipe then left open. The pipe's end is the writer's signal to stop: the serving process
closes it after its last append when it stops, and the kernel closes it when the serving process is killed; the
writer then makes a last pass (everything stored, stored segments deleted) and exits. It runs in a session of its
own and ignores SIGTERM and SIGINT, which `schoolgate run` and `--workers` send to the serving process's whole
process group (and systemd to its cgroup) at once: it must outlive the serving process's last append. A writer
that dies is started again by its serving process; one that a restarted serving process finds still finishing
holds the folder's lock (`SpoolDrainer.hold`) and the new one waits for it.

One writer per serving process rather than one per gateway: it is started, fed and stopped by the process it
serves, however that process was started (`schoolgate run`, a systemd unit, `--workers`, a test), so there is
no further service to install, supervise or forget, and each spool folder has one reader.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from rules.store.db import Database
from rules.store.event_drain import SpoolDrainer, WriterStats

log = logging.getLogger("rules.store.event_writer")
LAST_PASS_SECONDS = 60  # the last pass may take this long (a backlog, a slow database), then the writer exits
RESTART_DELAY_MAX = 30.0


@dataclass(frozen=True)
class WriterSettings:
    url: str
    spool_dir: str
    site_id: int
    batch_size: int
    interval: float  # seconds between passes
    log_level: int


def run(settings: WriterSettings, stop: threading.Event) -> WriterStats:
    """Drain the folder every `interval` until `stop` is set, then make the last pass."""
    db = Database(settings.url)
    drainer = SpoolDrainer(db, Path(settings.spool_dir), settings.site_id, settings.batch_size)
    try:
        with drainer.hold():
            while not stop.wait(settings.interval):
                try:
                    drainer.drain()
                except Exception:  # never let one bad pass end the writer
                    log.exception("event writer pass failed")
            signal.alarm(LAST_PASS_SECONDS)  # SIGALRM's default action ends the process
            drainer.drain(final=True)
            signal.alarm(0)
    finally:
        db.dispose()
    return drainer.stats


def main() -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_IGN)
    settings = WriterSettings(**json.loads(sys.stdin.readline()))
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    stop = threading.Event()

    def wait_for_the_pipe_to_close() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait_for_the_pipe_to_close, name="parent-watch", daemon=True).start()
    stats = run(settings, stop)
    print(json.dumps(asdict(stats)), flush=True)


class WriterProcess:
    """The serving process's handle on its writer: start it, start it again if it dies, stop it."""

    def __init__(self, settings: WriterSettings) -> None:
        self.settings = settings
        self.stats = WriterStats()
        self._process: subprocess.Popen[str] | None = None
        self._delay = 1.0
        self._restart_at = 0.0

    def start(self) -> None:
        here = str(Path(__file__).resolve().parents[2])  # where `rules` is, whatever the serving process's path
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
        # A session of its own: the SIGTERM that `schoolgate run` or `--workers` sends the serving process's group
        # must not stop it before the serving process's last append (it stops when the pipe closes).
        self._process = subprocess.Popen([sys.executable, "-m", "rules.store.event_process"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, env=env, text=True, start_new_session=True)
        pipe: IO[str] = self._process.stdin  # type: ignore[assignment]
        pipe.write(json.dumps(asdict(self.settings)) + "\n")
        pipe.flush()
        log.debug("event writer started (pid %d) for %s", self._process.pid, self.settings.spool_dir)

    def check(self) -> None:
        """Start the writer again if it has died (with a pause that doubles, so a writer that cannot start does
        not spin); the events wait in the spool meanwhile."""
        process = self._process
        if process is None or process.poll() is None:
            return
        now = time.monotonic()
        if not self._restart_at:
            log.error("the event writer for %s stopped with status %s; starting it again in %.0f s",
                      self.settings.spool_dir, process.returncode, self._delay)
            self._restart_at = now + self._delay
            self._delay = min(self._delay * 2, RESTART_DELAY_MAX)
        elif now >= self._restart_at:
            self._restart_at = 0.0
            self.start()

    def stop(self, timeout: float = LAST_PASS_SECONDS + 10) -> WriterStats:
        """Close the pipe (the writer makes its last pass) and wait for it; its figures, or zeros."""
        process = self._process
        if process is None:
            return self.stats
        try:
            out, _ = process.communicate(timeout=timeout)
            if out.strip():
                self.stats = WriterStats(**json.loads(out.strip().splitlines()[-1]))
        except subprocess.TimeoutExpired:
            log.error("the event writer for %s did not finish in %.0f s; killed (the spool keeps what it had "
                      "not written)", self.settings.spool_dir, timeout)
            process.kill()
            process.wait()
        except ValueError:
            pass
        return self.stats


if __name__ == "__main__":
    main()
