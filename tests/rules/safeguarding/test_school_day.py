"""A normal school day raises no more than a handful of low concerns: the catalogue does not cry wolf.

Two days are read: the recorded-style day of tests/fixtures/school_day.py (every host that 320 devices
asked for, 08:15 to 15:45), and the searches and pages of tests/fixtures/school_searches.py (lessons,
homework, games and news, full of the words schools find in them).
"""

from __future__ import annotations

from collections import Counter

from rules.automatic import is_automatic_lookup
from rules.safeguarding.categories import Severity
from rules.safeguarding.matcher import match_search, match_site
from tests.fixtures.school_day import AUTOMATIC, school_day
from tests.fixtures.school_searches import REQUESTS, SEARCHES

HANDFUL = 5


def test_every_host_of_a_normal_school_day_raises_nothing_of_note() -> None:
    visits = Counter(event.host for event in school_day() if event.host)
    assert visits.total() > 250_000
    raised = [m for host, count in visits.items() for m in match_site(host) * count]  # matching is deterministic
    assert len(raised) <= HANDFUL and all(m.severity is Severity.LOW for m in raised), raised


def test_the_days_automatic_lookups_are_told_apart() -> None:
    assert all(is_automatic_lookup(host) for host in AUTOMATIC)
    automatic = sum(1 for event in school_day() if is_automatic_lookup(event.host))
    assert automatic > 10_000  # what a quiet class of iPads asks for by itself: never a concern, never "blocked"


def test_a_days_searches_and_pages_raise_a_handful_of_low_at_most() -> None:
    raised = [m for term in SEARCHES for m in match_search(term)]
    raised += [m for host, path in REQUESTS for m in match_site(host, path)]
    assert len(SEARCHES) > 200 and len(REQUESTS) > 50
    assert len(raised) <= HANDFUL and all(m.severity is Severity.LOW for m in raised), raised
