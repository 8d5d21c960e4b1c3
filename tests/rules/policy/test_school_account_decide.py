"""`decide()` with what a school account compiles to: one table of cases, pure (no database).

The account's rules are device-scoped allow rules labelled "school account: NAME" (see
`rules.policy.compile.school_account_rules`); the decision's precedence puts a ban and a locked category before them.
"""

from __future__ import annotations

import pytest

from rules.policy.compile import school_account_rules
from rules.policy.decide import decide
from rules.policy.decision import Reason
from rules.policy.snapshot import CompiledBan, PolicySnapshot, WeeklyHours
from rules.school_media.posters import OpenAccount
from tests.factories import at, tclient, tdevice, tsnapshot

LAPTOP = tdevice(id=7, name="Tia's laptop", group="staff", person="tia.teacher@school.test")
COLLEAGUE = tdevice(id=8, name="Sam's laptop", group="staff", person="sam.staff@school.test")
SCHOOL_HOURS = WeeklyHours.parse("mon,tue,wed,thu,fri", "08:00", "16:00")
MONDAY_NOON, SATURDAY_NOON = at("2026-11-30T12:00"), at("2026-11-28T12:00")


def snapshot(hours: WeeklyHours | None = None, locked: tuple[str, ...] = (), ban: bool = False) -> PolicySnapshot:
    rules = list(school_account_rules([OpenAccount(1, "St Mary's", "tiktok", frozenset({LAPTOP.id}), hours)]))
    categories = {"social_media": ["tiktok.com", "tiktokcdn.com", "instagram.com"]}
    if locked:
        categories["never"] = list(locked)
    return tsnapshot(categories=categories, locked=["never"] if locked else [], rules=rules,
                     devices=[("10.0.0.7", LAPTOP), ("10.0.0.8", COLLEAGUE)],
                     bans=[CompiledBan(1, LAPTOP.id, None)] if ban else [])


@pytest.mark.parametrize(("device", "host", "when", "options", "action", "reason", "rule"), [
    (LAPTOP, "www.tiktok.com", MONDAY_NOON, {}, "allow", Reason.EXCEPTION, "school account: St Mary's"),
    (LAPTOP, "v16.tiktokcdn.com", MONDAY_NOON, {}, "allow", Reason.EXCEPTION, "school account: St Mary's"),
    (LAPTOP, "www.instagram.com", MONDAY_NOON, {}, "block", Reason.CATEGORY, "social_media: instagram.com"),
    (COLLEAGUE, "www.tiktok.com", MONDAY_NOON, {}, "block", Reason.CATEGORY, "social_media: tiktok.com"),
    (None, "www.tiktok.com", MONDAY_NOON, {}, "block", Reason.CATEGORY, "social_media: tiktok.com"),
    (LAPTOP, "www.tiktok.com", MONDAY_NOON, {"hours": SCHOOL_HOURS}, "allow", Reason.EXCEPTION,
     "school account: St Mary's"),
    (LAPTOP, "www.tiktok.com", SATURDAY_NOON, {"hours": SCHOOL_HOURS}, "block", Reason.CATEGORY,
     "social_media: tiktok.com"),
    (LAPTOP, "v16.tiktokcdn.com", MONDAY_NOON, {"locked": ("tiktokcdn.com",)}, "block", Reason.LOCKED_CATEGORY,
     "never: tiktokcdn.com"),
    (LAPTOP, "www.tiktok.com", MONDAY_NOON, {"ban": True}, "ban", Reason.BANNED, "ban #1"),
])
def test_school_account_decisions(device: object, host: str, when: object, options: dict[str, object], action: str,
                                  reason: Reason, rule: str) -> None:
    snap = snapshot(**options)  # type: ignore[arg-type]
    client = tclient(ip="10.0.0.9") if device is None else tclient(device=device)  # type: ignore[arg-type]
    decision = decide(snap, client, host, None, when)  # type: ignore[arg-type]  # (a datetime)
    assert (decision.action.value, decision.reason, decision.rule) == (action, reason, rule)


def test_the_rules_never_name_a_group_and_make_the_device_specific() -> None:
    snap = snapshot()
    rules = [r for rs in snap.rules_by_domain.values() for r in rs]
    assert rules and all(r.scope == "device" and r.group is None and r.id is None for r in rules)
    assert snap.cache_scope(tclient(device=LAPTOP)) == ("staff", LAPTOP.id)
    assert snap.cache_scope(tclient(device=COLLEAGUE)) == ("staff", None)
