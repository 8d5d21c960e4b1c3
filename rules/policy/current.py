"""`SnapshotStore`: holds the current snapshot and swaps in a new one when the policy version moves.

Handlers call `current()` once per request (a plain attribute read). A background thread polls the
version (about every second); when it changes, the new snapshot is compiled outside any lock and then
swapped in one assignment. If the database cannot be read at start, the store serves the built-in
catalogue and keeps trying, so an enforcer never starts open.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from rules.policy.compile import Compiler, catalogue_snapshot, read_version
from rules.policy.snapshot import PolicySnapshot
from rules.sites import DEFAULT_SITE_ID
from rules.store.db import Database

log = logging.getLogger(__name__)


class SnapshotStore:
    """The current `PolicySnapshot`, kept up to date from the database."""

    def __init__(self, db: Database, poll_seconds: float = 1.0, ban_allowlist: tuple[str, ...] = (),
                 site_id: int = DEFAULT_SITE_ID) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self.site_id = site_id  # the gateway's school: the version is the trust's, the snapshot this school's
        self._compiler = Compiler(db, ban_allowlist, site_id=site_id)
        self._snapshot: PolicySnapshot = catalogue_snapshot(ban_allowlist)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listeners: list[Callable[[PolicySnapshot], None]] = []
        self.last_error: str | None = None

    def current(self) -> PolicySnapshot:
        return self._snapshot

    def on_swap(self, listener: Callable[[PolicySnapshot], None]) -> None:
        """Call `listener(new_snapshot)` after each swap (DNS clears its answer cache here)."""
        self._listeners.append(listener)

    def refresh(self) -> bool:
        """Compile and swap if the version moved (or the store still serves the fallback)."""
        try:
            version = read_version(self.db)
            if self._snapshot.source == "database" and version == self._snapshot.version:
                return False
            snapshot = self._compiler.compile()
        except Exception as exc:  # the database is down or unreadable: keep what we have
            message = f"{type(exc).__name__}: {exc}".splitlines()[0]
            if message != self.last_error:
                log.warning("cannot read the policy (%s); keeping snapshot version %s from %s",
                            message, self._snapshot.version, self._snapshot.source)
            self.last_error = message
            return False
        self.last_error = None
        self._snapshot = snapshot
        log.info("policy version %s in force", snapshot.version)
        for listener in self._listeners:
            listener(snapshot)
        return True

    def start(self) -> SnapshotStore:
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="policy-poll", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self.refresh()
