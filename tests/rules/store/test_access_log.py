"""The access log as people read it: filters, keyset pages, the CSV export and the dashboard's counts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from rules.store import access_log
from rules.store.access_log import LogFilter, csv_rows, dashboard, neutralise, page, parse_cursor
from rules.store.db import Database
from rules.store.models import AccessEvent, Device, Group

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def event(ts: datetime, host: str, action: str = "block", device: Device | None = None, **kw: object) -> AccessEvent:
    return AccessEvent(ts=ts, client_ip="10.0.0.7", device_id=device.id if device else None,
                       device=device.name if device else None, source="dns", host=host, action=action, **kw)


@pytest.fixture
def devices(db: Database) -> dict[str, int]:
    with db.session() as session:
        groups = {g.name: g.id for g in session.scalars(select(Group))}
        made = {"ipad": Device(name="Class 3 iPad", group_id=groups["pupils"], person="A Pupil"),
                "laptop": Device(name="Staff laptop", group_id=groups["staff"], person="A Teacher")}
        session.add_all(made.values())
        session.flush()
        return {k: d.id for k, d in made.items()}


def group_id(db: Database, name: str) -> int:
    with db.session() as session:
        return session.scalars(select(Group.id).where(Group.name == name)).one()


def hosts(events: list[AccessEvent]) -> list[str]:
    return [e.host for e in events]


def test_each_filter_narrows_the_log(db: Database, devices: dict[str, int]) -> None:
    with db.session() as session:
        ipad, laptop = session.get(Device, devices["ipad"]), session.get(Device, devices["laptop"])
        session.add_all([
            event(NOW - timedelta(hours=1), "games.example", device=ipad, category="games"),
            event(NOW - timedelta(hours=2), "www.games.example", action="allow", device=ipad),
            event(NOW - timedelta(days=3), "news.example", action="allow", device=laptop),
            event(NOW - timedelta(days=3, hours=1), "notgames.example", device=None, category="games"),
        ])
    staff = group_id(db, "staff")
    cases = {
        LogFilter(): ["games.example", "www.games.example", "news.example", "notgames.example"],
        LogFilter(device_id=devices["ipad"]): ["games.example", "www.games.example"],
        LogFilter(person="A Teacher"): ["news.example"],
        LogFilter(group_id=staff): ["news.example"],
        LogFilter(since=NOW - timedelta(days=1)): ["games.example", "www.games.example"],
        LogFilter(until=NOW - timedelta(days=1)): ["news.example", "notgames.example"],
        LogFilter(action="block"): ["games.example", "notgames.example"],
        LogFilter(category="games"): ["games.example", "notgames.example"],
        LogFilter(host=" Games.Example. "): ["games.example", "www.games.example"],  # subdomains, not look-alikes
    }
    with db.session() as session:
        for flt, expected in cases.items():
            assert hosts(page(session, flt).events) == expected, flt


def test_a_filter_describes_only_what_was_asked() -> None:
    assert LogFilter(device_id=3, action="block").describe() == {"device_id": 3, "action": "block"}
    assert LogFilter().describe() == {}


def test_keyset_pages_walk_the_log_newest_first_without_gaps_or_repeats(db: Database) -> None:
    with db.session() as session:
        # 25 events, several sharing a timestamp, so the id breaks ties
        session.add_all(event(NOW - timedelta(minutes=i // 3), f"h{i:02d}.example") for i in range(25))
    with db.session() as session:
        everything = hosts(page(session, LogFilter(), size=100).events)
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            current = page(session, LogFilter(), after=cursor, size=7)
            seen += hosts(current.events)
            cursor = current.next_cursor
            if cursor is None:
                break
        assert seen == everything and len(seen) == 25 and len(set(seen)) == 25
        timestamps = [e.ts for e in page(session, LogFilter(), size=100).events]
        assert timestamps == sorted(timestamps, reverse=True)
        assert page(session, LogFilter(), size=25).next_cursor is None  # exactly one full page: no "next"


def test_a_mangled_cursor_starts_from_the_newest() -> None:
    assert parse_cursor(None) is None and parse_cursor("nonsense") is None and parse_cursor("x|y") is None
    assert parse_cursor("2026-11-20T15:00:00+00:00|42") == (NOW, 42)


@pytest.mark.parametrize("value, shown", [
    ("=HYPERLINK(\"http://evil.example\")", "'=HYPERLINK(\"http://evil.example\")"),
    ("+1+1", "'+1+1"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("plain.example", "plain.example"), (None, ""), (7, "7"),
])
def test_csv_cells_that_a_spreadsheet_would_run_are_shown_as_text(value: object, shown: str) -> None:
    assert neutralise(value) == shown


def test_the_export_has_a_header_and_the_filtered_events_neutralised(db: Database) -> None:
    with db.session() as session:
        session.add_all([
            event(NOW - timedelta(minutes=1), "a.example", url="=cmd|' /C calc'!A0", rule="rule #1: block a.example"),
            event(NOW - timedelta(minutes=2), "b.example", action="allow"),
        ])
    with db.session() as session:
        text = io.StringIO()
        csv.writer(text).writerows(csv_rows(session, LogFilter(action="block")))
    rows = list(csv.reader(io.StringIO(text.getvalue())))
    assert rows[0] == list(access_log.CSV_HEADER)
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["host"], row["action"], row["url"]) == ("a.example", "block", "'=cmd|' /C calc'!A0")
    assert row["time_utc"].startswith("2026-11-20T14:59")


def test_the_dashboard_counts_blocked_attempts_by_day_and_the_top_offenders(db: Database,
                                                                            devices: dict[str, int]) -> None:
    with db.session() as session:
        ipad, laptop = session.get(Device, devices["ipad"]), session.get(Device, devices["laptop"])
        session.add_all([
            event(NOW - timedelta(hours=1), "games.example", device=ipad, category="games"),
            event(NOW - timedelta(hours=2), "games.example", device=ipad, category="games"),
            event(NOW - timedelta(hours=3), "vpn.example", action="ban", device=laptop, category="circumvention"),
            event(NOW - timedelta(days=1), "games.example", device=ipad, category="games"),
            event(NOW - timedelta(hours=1), "allowed.example", action="allow", device=laptop, category="news"),
            event(NOW - timedelta(days=20), "old.example", device=ipad, category="old"),  # before the period
        ])
    with db.session() as session:
        board = dashboard(session, days=3, now=NOW)
    assert board.blocked_by_day == [("2026-11-18", 0), ("2026-11-19", 1), ("2026-11-20", 3)]
    assert board.top_categories == [("games", 3), ("circumvention", 1)]
    assert board.top_hosts == [("games.example", 3), ("vpn.example", 1)]
    assert board.top_devices == [("Class 3 iPad", 3), ("Staff laptop", 1)]


def test_automatic_lookups_are_counted_apart_never_as_blocked_attempts(db: Database,
                                                                       devices: dict[str, int]) -> None:
    """120 canary and relay lookups from a quiet iPad must not outrank one person's blocked attempt."""
    with db.session() as session:
        ipad = session.get(Device, devices["ipad"])
        hour = NOW - timedelta(hours=1)
        session.add_all(
            [event(hour, "use-application-dns.net", device=ipad, category="circumvention") for _ in range(120)]
            + [event(hour, "mask.icloud.com", device=ipad) for _ in range(40)]
            + [event(hour, "_dns.resolver.arpa", device=ipad),  # a name under a listed one
               event(hour, "www.gstatic.com", action="allow", url="http://www.gstatic.com/generate_204"),
               event(hour, "captive.apple.com", action="allow")]  # allowed lookups are counted apart too
            + [event(hour, "games.example", device=ipad, category="games"),
               # look-alikes are people's attempts: another name, a query string after a check's path, a deeper path
               event(hour, "notresolver.arpa.example", device=ipad),
               event(hour, "www.gstatic.com", url="http://www.gstatic.com/generate_204?q=x"),
               event(hour, "evil.example", url="http://evil.example/x/generate_204")])
    with db.session() as session:
        board = dashboard(session, days=1, now=NOW)
    assert board.top_hosts == [("evil.example", 1), ("games.example", 1), ("notresolver.arpa.example", 1),
                               ("www.gstatic.com", 1)]
    assert board.blocked_by_day == [("2026-11-20", 4)]
    assert ("circumvention", 120) not in board.top_categories
    assert board.automatic == 120 + 40 + 3
    assert board.top_automatic[:2] == [("use-application-dns.net", 120), ("mask.icloud.com", 40)]
