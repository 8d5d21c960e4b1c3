"""The scheduler's jobs, called as plain functions: expiry, retention, list refresh."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from rules.jobs.expiry import expire
from rules.jobs.lists_refresh import refresh_lists
from rules.jobs.retention import purge_access_events
from rules.lists.fetch import FetchError
from rules.lists.importer import import_list
from rules.policy.compile import read_version
from rules.store.db import Database
from rules.store.models import AccessEvent, AuditEntry, Ban, ListEntry, ListSource, Rule, SupervisedSession

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def audits(db: Database, action: str) -> list[AuditEntry]:
    with db.session(read_only=True) as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_expiry_records_each_rule_and_session_once(db: Database) -> None:
    with db.session() as session:
        past = Rule(action="allow", domain="youtube.com", expires_at=NOW - timedelta(minutes=1), reason="trip")
        future = Rule(action="allow", domain="vimeo.com", expires_at=NOW + timedelta(days=1))
        ban = Ban(person="Pupil A", reason="VPN", ends_at=NOW - timedelta(seconds=1))
        session.add_all([past, future, ban])
        session.flush()
        session.add(SupervisedSession(ban_id=ban.id, staff_name="Ms Smith", starts_at=NOW - timedelta(hours=1),
                                      ends_at=NOW - timedelta(minutes=5)))
    version = read_version(db)
    first = expire(db, NOW)
    assert first.rules == [past.id] and len(first.sessions) == 1 and first.bans == [ban.id]
    assert read_version(db) > version
    version = read_version(db)
    second = expire(db, NOW + timedelta(minutes=1))
    assert second.rules == [] and second.sessions == [] and second.bans == []
    assert read_version(db) == version  # nothing new: no recompile
    assert [a.target for a in audits(db, "rule.expired")] == [f"rule #{past.id}"]
    assert len(audits(db, "supervised_session.ended")) == 1 and len(audits(db, "ban.expired")) == 1
    with db.session(read_only=True) as session:
        assert session.get_one(Rule, past.id).enabled is True  # the record stays
        assert session.get_one(Ban, ban.id).state == "expired"


def test_purge_deletes_old_events_in_batches(sqlite_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"ts": NOW - timedelta(days=91, minutes=i), "client_ip": "198.18.1.10", "source": "dns",
             "host": f"old{i}.example", "action": "allow"} for i in range(25)]
    rows += [{"ts": NOW - timedelta(days=89), "client_ip": "198.18.1.10", "source": "dns",
              "host": f"new{i}.example", "action": "block"} for i in range(5)]
    with sqlite_db.session() as session:
        session.execute(insert(AccessEvent), rows)
    transactions = []
    real_session = sqlite_db.session

    @contextmanager
    def counting(read_only: bool = False) -> Iterator[Session]:
        transactions.append(read_only)
        with real_session(read_only) as session:
            yield session

    monkeypatch.setattr(sqlite_db, "session", counting)
    assert purge_access_events(sqlite_db, 90, NOW, batch=10) == 25
    assert transactions == [False, False, False]  # 10 + 10 + 5
    with real_session(read_only=True) as session:
        hosts = sorted(session.scalars(select(AccessEvent.host)))
    assert hosts == [f"new{i}.example" for i in range(5)]


def entries(db: Database, source: str) -> list[str]:
    with db.session(read_only=True) as session:
        return sorted(session.scalars(select(ListEntry.domain).join(ListSource)
                                      .where(ListSource.name == source)))


def test_refresh_from_a_file_source(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "gambling.txt"
    path.write_text("casino.example\nbingo.example\n")
    import_list(db, path, "gambling")
    assert refresh_lists(db).unchanged == [f"gambling.txt ({path.resolve()})"]
    version = read_version(db)
    path.write_text("casino.example\npoker.example\n# a comment\n")
    result = refresh_lists(db)
    assert result.refreshed == [f"gambling.txt ({path.resolve()})"] and result.failed == {}
    assert entries(db, "gambling.txt") == ["casino.example", "poker.example"]
    assert read_version(db) > version
    assert len(audits(db, "list.refreshed")) == 1


@pytest.mark.parametrize(("body", "why"), [
    (b"<!DOCTYPE html><html><body>Not found</body></html>", "HTML page"),
    (b"", "empty"),
])
def test_a_bad_download_keeps_the_last_good_copy(sqlite_db: Database, tmp_path: Path, body: bytes,
                                                 why: str) -> None:
    path = tmp_path / "gambling.txt"
    path.write_text("casino.example\n")
    import_list(sqlite_db, path, "gambling")
    with sqlite_db.session() as session:
        source = session.scalars(select(ListSource).where(ListSource.name == "gambling.txt")).one()
        source.location = "https://lists.example/gambling.txt"

    def fetcher(url: str) -> bytes:
        assert url == "https://lists.example/gambling.txt"
        from rules.lists.fetch import _body  # the same checks a real download gets

        class Response:
            left = body

            def getheader(self, name: str) -> str | None:
                return None

            def read1(self, n: int) -> bytes:  # as http.client's: at most n bytes, b"" at the end
                out, self.left = self.left[:n], self.left[n:]
                return out

        return _body(url, Response(), 1000)  # type: ignore[arg-type]

    result = refresh_lists(sqlite_db, fetcher)
    assert why in result.failed["gambling.txt (https://lists.example/gambling.txt)"]
    assert entries(sqlite_db, "gambling.txt") == ["casino.example"]
    failed = audits(sqlite_db, "list.refresh_failed")
    assert len(failed) == 1 and why in failed[0].reason


def test_a_list_with_no_usable_entries_is_refused(sqlite_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "gambling.txt"
    path.write_text("casino.example\n")
    import_list(sqlite_db, path, "gambling")
    path.write_text("not a list at all\n<p>\n")
    result = refresh_lists(sqlite_db)
    assert "no usable entries" in next(iter(result.failed.values()))
    assert entries(sqlite_db, "gambling.txt") == ["casino.example"]


def test_builtin_sources_are_not_refreshed(sqlite_db: Database) -> None:
    def fetcher(url: str) -> bytes:
        raise FetchError("must not be called")

    result = refresh_lists(sqlite_db, fetcher)
    assert result.refreshed == result.unchanged == [] and result.failed == {}
    with sqlite_db.session(read_only=True) as session:
        assert (session.scalar(select(func.count()).select_from(ListSource)) or 0) >= 2
