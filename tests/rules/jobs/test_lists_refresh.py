"""The list refresh job, called as a plain function: sources re-read, a failure keeps the last good copy."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from rules.jobs.lists_refresh import refresh_lists
from rules.lists.fetch import FetchError
from rules.lists.importer import import_list
from rules.policy.compile import read_version
from rules.store.db import Database
from rules.store.models import AuditEntry, ListEntry, ListSource


def audits(db: Database, action: str) -> list[AuditEntry]:
    with db.session(read_only=True) as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def entries(db: Database, source: str) -> list[str]:
    with db.session(read_only=True) as session:
        return sorted(session.scalars(select(ListEntry.domain).join(ListSource)
                                      .where(ListSource.name == source)))


def test_refresh_from_a_file_source(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "gambling.txt"
    path.write_text("casino.example\nbingo.example\n")
    import_list(db, path, "gambling", actor="tests")
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
    import_list(sqlite_db, path, "gambling", actor="tests")
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
    import_list(sqlite_db, path, "gambling", actor="tests")
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


def test_a_refresh_never_takes_sites_out_of_a_locked_category(db: Database, tmp_path: Path) -> None:
    """Whoever can write a locked list's file could empty it and let the refresh unlock it: the refresh adds what
    the source adds and keeps what it dropped (removing sites takes the two-person unlock)."""
    path = tmp_path / "iwf.txt"
    path.write_text("listed.example\ngone.example\n")
    import_list(db, path, "child_abuse", actor="tests", locked=True)
    path.write_text("listed.example\nnew.example\n")
    assert refresh_lists(db).refreshed == [f"iwf.txt ({path.resolve()})"]
    assert entries(db, "iwf.txt") == ["gone.example", "listed.example", "new.example"]
    assert '"kept_while_locked": 1' in (audits(db, "list.refreshed")[-1].after or "")
    assert refresh_lists(db).unchanged == [f"iwf.txt ({path.resolve()})"]  # nothing new: left alone
