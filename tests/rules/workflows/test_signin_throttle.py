"""The sign-in throttle: growing waits per (email, address), a higher bar per address, never a lock on an account."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rules.store.db import Database
from rules.store.models import AuditEntry, utcnow
from rules.workflows.accounts import authenticate, create_user
from rules.workflows.signin_throttle import (
    ADDRESS_FREE,
    MAX_WAIT,
    PAIR_FREE,
    WINDOW,
    Wait,
    delay_after,
    wait_before_attempt,
)

HEAD = "head@school.example"
PUPIL_ADDRESS = "10.0.3.17"
STAFF_ADDRESS = "10.0.1.5"


@pytest.fixture
def school(db: Database) -> Database:
    with db.session() as session:
        create_user(session, email=HEAD, name="Ms Head", roles=["headteacher"], password="correct horse battery",
                    actor="test")
    return db


def fail(db: Database, email: str, address: str, times: int = 1) -> datetime:
    """`times` wrong passwords, as the sign-in page checks them; the time of the last."""
    for _ in range(times):
        with db.session() as session:
            assert authenticate(session, email, "wrong password!", address) is None
    return utcnow()


def wait(db: Database, email: str, address: str, now: datetime | None = None) -> Wait | None:
    with db.session(read_only=True) as session:
        return wait_before_attempt(session, email, address, now)


def test_delays_double_from_a_few_seconds_up_to_a_cap() -> None:
    assert [delay_after(n, PAIR_FREE) for n in range(PAIR_FREE)] == [0.0] * PAIR_FREE
    assert [delay_after(n, PAIR_FREE) for n in range(PAIR_FREE, PAIR_FREE + 4)] == [5.0, 10.0, 20.0, 40.0]
    assert delay_after(PAIR_FREE + 100, PAIR_FREE) == MAX_WAIT == 300.0
    assert delay_after(10**9, PAIR_FREE) == MAX_WAIT  # no overflow, whatever the count


def test_a_pupil_guessing_the_headteachers_password_is_slowed_and_the_headteacher_is_not(school: Database) -> None:
    fail(school, HEAD, PUPIL_ADDRESS, PAIR_FREE - 1)
    assert wait(school, HEAD, PUPIL_ADDRESS) is None  # a few typing mistakes cost nothing
    last = fail(school, HEAD, PUPIL_ADDRESS)
    slowed = wait(school, HEAD, PUPIL_ADDRESS, now=last)
    assert slowed == Wait(5, per_address=False)
    assert slowed.message() == "Too many failed sign-ins for this email from this address. Wait 5 seconds, then " \
                               "try again."
    assert "lock" not in slowed.message()
    # the headteacher, from the staff network, is never held up by what the pupil did
    assert wait(school, HEAD, STAFF_ADDRESS, now=last) is None
    with school.session() as session:
        assert authenticate(session, HEAD, "correct horse battery", STAFF_ADDRESS) is not None
    # the pupil's address may try again once the wait has passed, and the next wait is twice as long
    assert wait(school, HEAD, PUPIL_ADDRESS, now=last + timedelta(seconds=5.5)) is None
    last = fail(school, HEAD, PUPIL_ADDRESS)
    assert wait(school, HEAD, PUPIL_ADDRESS, now=last) == Wait(10, per_address=False)
    assert wait(school, HEAD, PUPIL_ADDRESS, now=last + timedelta(seconds=9.2)) == Wait(1, per_address=False)


def test_one_address_trying_many_emails_is_slowed_past_a_higher_count(school: Database) -> None:
    for n in range(ADDRESS_FREE - 1):
        fail(school, f"guess{n}@school.example", PUPIL_ADDRESS)
    assert wait(school, "another@school.example", PUPIL_ADDRESS) is None  # under both counts
    last = fail(school, "guess-last@school.example", PUPIL_ADDRESS)
    slowed = wait(school, "another@school.example", PUPIL_ADDRESS, now=last)
    assert slowed == Wait(5, per_address=True)
    assert slowed.message() == "Too many failed sign-ins from this address. Wait 5 seconds, then try again."
    assert wait(school, "another@school.example", STAFF_ADDRESS, now=last) is None
    assert wait(school, HEAD, STAFF_ADDRESS, now=last) is None


def test_failures_older_than_the_window_are_forgotten(school: Database) -> None:
    old = utcnow() - WINDOW - timedelta(seconds=5)
    with school.session() as session:
        session.add_all([AuditEntry(ts=old, actor="anonymous", action="signin.failed", target=HEAD,
                                    reason=PUPIL_ADDRESS) for _ in range(50)])
    assert wait(school, HEAD, PUPIL_ADDRESS) is None
    last = fail(school, HEAD, PUPIL_ADDRESS, PAIR_FREE)
    assert wait(school, HEAD, PUPIL_ADDRESS, now=last) == Wait(5, per_address=False)  # counted afresh


def test_a_successful_sign_in_is_not_a_failure(school: Database) -> None:
    for _ in range(PAIR_FREE + 3):
        with school.session() as session:
            assert authenticate(session, HEAD, "correct horse battery", STAFF_ADDRESS) is not None
    assert wait(school, HEAD, STAFF_ADDRESS) is None
