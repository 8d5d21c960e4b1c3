"""The snapshot store: a change in the database is in force within a poll, without a restart."""

from __future__ import annotations

import time
from pathlib import Path

from rules.policy.current import SnapshotStore
from rules.policy.decide import decide
from rules.policy.decision import Action
from rules.store import schema
from rules.store.db import Database
from rules.store.models import Rule


def test_a_change_is_picked_up_and_swapped(db: Database) -> None:
    store = SnapshotStore(db, poll_seconds=0.1).start()
    swaps: list[int] = []
    store.on_swap(lambda snap: swaps.append(snap.version))
    try:
        first = store.current()
        assert first.source == "database"
        client = first.identify("10.0.0.1")
        assert decide(first, client, "newly-bad.example").action is Action.ALLOW
        with db.session() as session:
            session.add(Rule(action="block", domain="newly-bad.example"))
        deadline = time.monotonic() + 2
        while store.current() is first and time.monotonic() < deadline:
            time.sleep(0.02)
        assert decide(store.current(), client, "newly-bad.example").action is Action.BLOCK
        assert swaps and swaps[-1] == store.current().version
    finally:
        store.stop()


def test_unreadable_database_serves_the_catalogue_and_keeps_trying(tmp_path: Path) -> None:
    missing = Database(f"sqlite:///{tmp_path}/never-initialised.db")
    store = SnapshotStore(missing, poll_seconds=0.05).start()
    try:
        snap = store.current()
        assert snap.source == "built-in catalogue"
        assert decide(snap, snap.identify("10.0.0.1"), "www.facebook.com").action is Action.BLOCK
        assert decide(snap, snap.identify("10.0.0.1"), "box.com").action is Action.ALLOW
        assert store.last_error is not None
        schema.upgrade(missing)  # the database comes back: the store moves to it by itself
        schema.seed(missing)
        deadline = time.monotonic() + 3
        while store.current().source != "database" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.current().source == "database" and store.last_error is None
    finally:
        store.stop()
