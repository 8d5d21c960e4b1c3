"""How long a sign-in attempt must wait: growing delays per (email, address), never a lock on an account.

A hard lock ("five wrong passwords lock the account for 15 minutes") lets anyone who can reach the sign-in
page keep the headteacher or the DSL out by typing their email. Here failures count per email *and* client
address together: after `PAIR_FREE` failures in `WINDOW`, each further attempt from that same pair waits a
delay that doubles from `FIRST_WAIT` up to `MAX_WAIT`, counted from its last failure. One address trying
many emails is slowed the same way past `ADDRESS_FREE` failures. Nothing one address does ever delays a
sign-in from another address, so the real person signs in at once from their own machine.

Attempts from one address are checked one at a time (`_one_at_a_time`), so a burst sent together is counted as a
run of attempts, not as one. The failures are the `signin.failed` audit entries that
`rules.workflows.accounts.authenticate` writes (target: the email, reason: the address); an attempt told to
wait is not checked and not recorded, so a flood of refused attempts costs one indexed count each and writes
nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from rules.store.models import AuditEntry, utcnow

FAILED = "signin.failed"
WINDOW = timedelta(minutes=15)
PAIR_FREE = 5  # failures for one email from one address before each attempt waits
ADDRESS_FREE = 20  # failures from one address, whatever the emails, before each attempt waits
FIRST_WAIT = 5.0  # seconds, after the first failure past the free ones; doubles with each further failure
MAX_WAIT = 300.0


@dataclass(frozen=True)
class Wait:
    """An attempt that must wait `seconds` (a whole number, at least 1); `per_address` when the address as a
    whole tried too often, else this email from this address did."""

    seconds: int
    per_address: bool

    def message(self) -> str:
        who = "from this address" if self.per_address else "for this email from this address"
        unit = "second" if self.seconds == 1 else "seconds"
        return f"Too many failed sign-ins {who}. Wait {self.seconds} {unit}, then try again."


def delay_after(failures: int, free: int) -> float:
    """The wait after `failures` failures when `free` of them cost nothing: FIRST_WAIT, doubling, capped."""
    if failures < free:
        return 0.0
    return min(FIRST_WAIT * 2 ** min(failures - free, 32), MAX_WAIT)


def _remaining(failures: int, last: datetime | None, free: int, now: datetime) -> float:
    if last is None:
        return 0.0
    return (last + timedelta(seconds=delay_after(failures, free)) - now).total_seconds()


def _one_at_a_time(session: Session, address: str) -> None:
    """Hold the attempts from `address` in turn until this one's failure is written (the caller's transaction).

    Otherwise attempts sent together all read the count before any failure is recorded, and each is checked: the
    throttle multiplied by the web's threads. SQLite's write transaction (BEGIN IMMEDIATE) already runs one at a
    time; PostgreSQL takes a transaction-scoped advisory lock on the address."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"schoolgate signin {address}"})


def wait_before_attempt(session: Session, email: str, address: str, now: datetime | None = None) -> Wait | None:
    """How long this email from this address must wait before its password is checked; None: check it now."""
    _one_at_a_time(session, address)
    now = now or utcnow()
    from_address = (AuditEntry.action == FAILED) & (AuditEntry.reason == address) & (AuditEntry.ts >= now - WINDOW)
    stats = select(func.count(), func.max(AuditEntry.ts)).where(from_address)
    address_count, address_last = session.execute(stats).one()
    if not address_count:
        return None
    pair_count, pair_last = session.execute(stats.where(AuditEntry.target == email[:255])).one()
    pair = _remaining(pair_count, pair_last, PAIR_FREE, now)
    whole = _remaining(address_count, address_last, ADDRESS_FREE, now)
    longest = max(pair, whole)
    if longest <= 0:
        return None
    return Wait(max(1, math.ceil(longest)), per_address=whole > pair)
