"""Engines and sessions for SQLite (the embedded default) and PostgreSQL (a trust's shared server).

SQLite is set up for several processes at once: WAL, a busy timeout, and write transactions begun
IMMEDIATE so two writers queue for the lock instead of failing with 'database is locked' half way.
A session opened with `read_only=True` begins a plain deferred transaction, so long reads (a snapshot
compile, a log page) never hold the write lock.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from rules.store.models import PolicyData, PolicyState, utcnow

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _never_share_across_fork(engine: Engine) -> None:
    """A pooled connection opened before a fork (gunicorn forks its workers after the app is built) is never used
    by the child: two processes on one socket interleave their messages (PostgreSQL: "prepared statement already
    exists", then 500s). The child forgets the inherited connections without closing them (closing would end the
    parent's session too) and opens its own (SQLAlchemy's `dispose(close=False)` recipe for os.fork())."""
    ref = weakref.ref(engine)

    def forget_in_child() -> None:
        live = ref()
        if live is not None:
            live.dispose(close=False)

    os.register_at_fork(after_in_child=forget_in_child)


def make_engine(url: str) -> Engine:
    """Create the engine for `url`, with the SQLite settings above when it is SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, pool_pre_ping=True, future=True)
        _never_share_across_fork(engine)
        return engine
    database = parsed.database or ""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    _never_share_across_fork(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, say when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("schoolgate_read_only"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def is_sqlite(engine: Engine) -> bool:
    """Say whether the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


class Database:
    """An engine and its session factory: the one handle the rest of schoolgate passes around."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_engine = self.engine.execution_options(schoolgate_read_only=True)
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)

    @contextmanager
    def session(self, read_only: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed at the end of the block, rolled back on error."""
        factory = self._read_sessions if read_only else self._sessions
        with factory() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def bump_policy_version(session: Session) -> None:
    """Raise the policy version inside the session's transaction."""
    session.execute(
        update(PolicyState).where(PolicyState.id == 1).values(version=PolicyState.version + 1, updated_at=utcnow())
    )


@event.listens_for(Session, "after_flush")
def _bump_on_policy_change(session: Session, _context: Any) -> None:
    """Any flush that touches policy data bumps the version in the same transaction."""
    changed = session.new | session.dirty | session.deleted
    if any(isinstance(obj, PolicyData) for obj in changed):
        bump_policy_version(session)
