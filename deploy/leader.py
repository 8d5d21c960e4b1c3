"""Which scheduler of a trust runs the trust-wide jobs: the one holding a PostgreSQL advisory lock.

Every gateway of a trust runs `schoolgate scheduler` against the one database. Jobs that act on the whole
database (expiry, retention, list refresh, reports, the watchers, the partition maker) must run on one of
them at a time, or two would expire, purge, mail and ban twice. The leader is the process that holds a
session-level advisory lock (`pg_try_advisory_lock`) on a connection of its own, opened for nothing else:

- the lock is PostgreSQL's, not ours: no lease table, no clock, no heartbeat row to get wrong;
- it is held exactly as long as that session lives: when the leader dies (killed, its host gone), the
  server ends the session and frees the lock, and the next follower to ask gets it (followers ask every
  `POLL_SECONDS`);
- a leader checks its connection as often, and one that finds it broken has lost the lock (another may
  already hold it): it must stop at once (`deploy.scheduler` exits; the process manager restarts it as a
  follower).

On SQLite there is one scheduler per database, as there always was: it is always the leader.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

log = logging.getLogger("schoolgate.scheduler")
# Any constant 64-bit key: the only advisory lock schoolgate takes at session level.
LEADER_KEY = 0x5C600E5C4ED0
POLL_SECONDS = 3.0


class Leadership:
    """This process's claim to lead; `acquire()` to try, `held()` to check, `release()` to give it up."""

    def __init__(self, engine: Engine) -> None:
        self._sqlite = engine.dialect.name == "sqlite"
        # A pool of its own, of no connections: the lock's session must never be handed to anything else.
        self._engine = None if self._sqlite else create_engine(
            engine.url, poolclass=NullPool,
            connect_args={"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3})
        self._conn: Connection | None = None

    @property
    def is_leader(self) -> bool:
        return self._sqlite or self._conn is not None

    def acquire(self) -> bool:
        """Try once to become the leader; True when this process leads (now or already)."""
        if self.is_leader:
            return True
        assert self._engine is not None
        try:
            conn = self._engine.connect()
        except Exception as exc:
            log.warning("cannot reach the database to ask for the lead (%s)", str(exc).splitlines()[0])
            return False
        try:
            got = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_KEY}))
            conn.commit()  # the lock is the session's, not the transaction's: end the transaction, keep the lock
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def held(self) -> bool:
        """Whether the lock's session is still alive (False once it broke: another process may lead now)."""
        if self._sqlite:
            return True
        if self._conn is None:
            return False
        try:
            self._conn.scalar(text("SELECT 1"))
            self._conn.commit()
        except Exception as exc:
            log.error("lost the connection that holds the lead (%s)", str(exc).splitlines()[0])
            self._conn = None
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": LEADER_KEY})
                self._conn.commit()
            finally:
                self._conn.close()
                self._conn = None
