"""The decision, as one table: precedence, scope, time, matching by whole labels, failing closed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules.policy.decide import decide
from rules.policy.decision import Action, Client, Reason
from rules.policy.snapshot import CompiledBan, WeeklyHours
from tests.factories import at, tclient, tdevice, trule, tsnapshot

NOON = at("2026-11-25T12:00")  # a Wednesday
PUPIL_DEVICE = tdevice(id=7, name="Class 3 iPad 07", group="pupils", person="Sam Pupil")
STAFF_DEVICE = tdevice(id=8, name="Staff laptop", group="staff", person="Ms Teacher")
PUPIL = tclient("10.0.0.7", device=PUPIL_DEVICE)
STAFF = tclient("10.0.0.8", device=STAFF_DEVICE)
GUEST = tclient("10.0.0.9", group="guests")

SNAP = tsnapshot(
    categories={
        "social_media": ["facebook.com", "fbcdn.net", "t.co", "tiktok.com", "cdninstagram.com"],
        "child_abuse": ["abuse.example"],
        "games": ["games.example"],
    },
    locked=["child_abuse"],
    group_only={"games": ["pupils"]},
    rules=[
        trule(1, "allow", "youtube-edu.example", scope="group", group="staff"),
        trule(2, "block", "bad.example", category="reported"),
        trule(3, "allow", "abuse.example", scope="everyone"),  # an exception can never open a locked list
        trule(4, "allow", "fbcdn.net", scope="device", device_id=8),
        trule(5, "block", "video.example", url_prefix="video.example/watch/bad"),
        trule(6, "allow", "games.example", url_prefix="games.example/maths/"),
        trule(7, "allow", "news.example", expires_at=at("2026-11-25T11:00")),
        trule(8, "block", "chat.example", hours=WeeklyHours.parse("mon,tue,wed,thu,fri", "08:30", "15:30")),
        trule(9, "allow", "bad.example", scope="group", group="staff"),
    ],
)

CASES = [
    # host, client, url, action, reason, category
    ("facebook.com", PUPIL, None, Action.BLOCK, Reason.CATEGORY, "social_media"),
    ("m.facebook.com", PUPIL, None, Action.BLOCK, Reason.CATEGORY, "social_media"),
    ("www.facebook.com", STAFF, None, Action.BLOCK, Reason.CATEGORY, "social_media"),
    ("a.b.c.facebook.com", GUEST, None, Action.BLOCK, Reason.CATEGORY, "social_media"),
    ("notfacebook.com", PUPIL, None, Action.ALLOW, Reason.DEFAULT, None),
    ("facebook.com.example.org", PUPIL, None, Action.ALLOW, Reason.DEFAULT, None),
    ("facebook.co", PUPIL, None, Action.ALLOW, Reason.DEFAULT, None),
    ("com", PUPIL, None, Action.ALLOW, Reason.DEFAULT, None),
    ("t.co", PUPIL, None, Action.BLOCK, Reason.CATEGORY, "social_media"),
    ("at.co", PUPIL, None, Action.ALLOW, Reason.DEFAULT, None),
    ("vm.tiktok.com", PUPIL, None, Action.BLOCK, Reason.CATEGORY, "social_media"),
    ("box.com", PUPIL, None, Action.ALLOW, Reason.DEFAULT, None),
    # locked beats every exception
    ("abuse.example", PUPIL, None, Action.BLOCK, Reason.LOCKED_CATEGORY, "child_abuse"),
    ("www.abuse.example", STAFF, None, Action.BLOCK, Reason.LOCKED_CATEGORY, "child_abuse"),
    # group-only category
    ("games.example", PUPIL, None, Action.BLOCK, Reason.CATEGORY, "games"),
    ("games.example", STAFF, None, Action.ALLOW, Reason.DEFAULT, None),
    ("games.example", GUEST, None, Action.ALLOW, Reason.DEFAULT, None),
    # a URL exception opens only its prefix, and only when the URL is known
    ("games.example", PUPIL, "https://games.example/maths/times-tables", Action.ALLOW, Reason.EXCEPTION, None),
    ("games.example", PUPIL, "https://games.example/shooter", Action.BLOCK, Reason.CATEGORY, "games"),
    # exceptions by scope
    ("youtube-edu.example", STAFF, None, Action.ALLOW, Reason.EXCEPTION, None),
    ("fbcdn.net", STAFF, None, Action.ALLOW, Reason.EXCEPTION, None),
    ("static.fbcdn.net", STAFF, None, Action.ALLOW, Reason.EXCEPTION, None),
    ("fbcdn.net", PUPIL, None, Action.BLOCK, Reason.CATEGORY, "social_media"),
    # block rules, and an exception that beats a block rule for its scope only
    ("bad.example", PUPIL, None, Action.BLOCK, Reason.BLOCK_RULE, "reported"),
    ("sub.bad.example", GUEST, None, Action.BLOCK, Reason.BLOCK_RULE, "reported"),
    ("bad.example", STAFF, None, Action.ALLOW, Reason.EXCEPTION, None),
    ("notbad.example", PUPIL, None, Action.ALLOW, Reason.DEFAULT, None),
    # URL block rule: only that prefix, only when the URL is known
    ("video.example", PUPIL, "http://video.example/watch/bad?x=1", Action.BLOCK, Reason.BLOCK_RULE, None),
    ("video.example", PUPIL, "http://video.example/watch/good", Action.ALLOW, Reason.DEFAULT, None),
    ("video.example", PUPIL, None, Action.ALLOW, Reason.DEFAULT, None),
    # an expired exception is gone
    ("news.example", PUPIL, None, Action.ALLOW, Reason.DEFAULT, None),
    # a schedule: Wednesday noon is inside school hours
    ("chat.example", PUPIL, None, Action.BLOCK, Reason.BLOCK_RULE, None),
]


@pytest.mark.parametrize(("host", "client", "url", "action", "reason", "category"), CASES)
def test_decision_table(host: str, client: Client, url: str | None, action: Action, reason: Reason,
                        category: str | None) -> None:
    decision = decide(SNAP, client, host, url, NOON)
    assert (decision.action, decision.reason, decision.category) == (action, reason, category)


def test_category_block_names_the_list_entry() -> None:
    decision = decide(SNAP, PUPIL, "m.facebook.com", at=NOON)
    assert decision.rule == "social_media: facebook.com"


def test_rule_decision_carries_rule_id() -> None:
    assert decide(SNAP, PUPIL, "bad.example", at=NOON).rule_id == 2


def test_schedule_outside_hours_allows() -> None:
    evening = at("2026-11-25T18:00")
    saturday = at("2026-11-28T10:00")
    assert decide(SNAP, PUPIL, "chat.example", at=evening).action is Action.ALLOW
    assert decide(SNAP, PUPIL, "chat.example", at=saturday).action is Action.ALLOW


def test_schedule_uses_london_time_in_summer() -> None:
    # 07:45 UTC in July is 08:45 in London (BST): inside 08:30-15:30.
    assert decide(SNAP, PUPIL, "chat.example", at=at("2026-07-01T07:45")).action is Action.BLOCK
    assert decide(SNAP, PUPIL, "chat.example", at=at("2026-07-01T07:15")).action is Action.ALLOW


def test_exception_in_date_window() -> None:
    snap = tsnapshot(blocked=["site.example"], rules=[
        trule(1, "allow", "site.example", scope="group", group="pupils",
              starts_at=at("2026-11-25T09:00"), expires_at=at("2026-11-26T00:00")),
    ])
    assert decide(snap, PUPIL, "site.example", at=at("2026-11-25T08:59")).action is Action.BLOCK
    assert decide(snap, PUPIL, "site.example", at=NOON).reason is Reason.EXCEPTION
    assert decide(snap, PUPIL, "site.example", at=at("2026-11-26T00:00")).action is Action.BLOCK


BAN = CompiledBan(id=11, device_id=7, person=None)
PERSON_BAN = CompiledBan(id=12, device_id=None, person="sam pupil")


@pytest.mark.parametrize("ban", [BAN, PERSON_BAN])
def test_ban_beats_everything_even_exceptions(ban: CompiledBan) -> None:
    snap = tsnapshot(blocked=["facebook.com"], rules=[trule(1, "allow", "wikipedia.org")], bans=[ban],
                     ban_allowlist=["learning.example"])
    for host in ("wikipedia.org", "facebook.com", "box.com"):
        decision = decide(snap, PUPIL, host, at=NOON)
        assert (decision.action, decision.reason, decision.ban_id) == (Action.BAN, Reason.BANNED, ban.id)
    assert decide(snap, PUPIL, "www.learning.example", at=NOON).reason is Reason.BAN_ALLOWLIST
    assert decide(snap, STAFF, "box.com", at=NOON).action is Action.ALLOW


def test_person_ban_follows_the_person_to_another_device() -> None:
    other = tdevice(id=99, name="Library PC 2", group="pupils", person="  Sam   PUPIL ")
    snap = tsnapshot(bans=[PERSON_BAN])
    assert decide(snap, tclient("10.0.0.99", device=other), "box.com", at=NOON).action is Action.BAN


def test_supervised_session_suspends_the_ban_then_it_resumes() -> None:
    ban = CompiledBan(id=13, device_id=7, person=None,
                      supervised=((at("2026-11-25T11:30"), at("2026-11-25T12:30")),))
    snap = tsnapshot(blocked=["facebook.com"], bans=[ban])
    assert decide(snap, PUPIL, "box.com", at=NOON).action is Action.ALLOW
    assert decide(snap, PUPIL, "facebook.com", at=NOON).reason is Reason.CATEGORY  # normal filtering
    assert decide(snap, PUPIL, "box.com", at=NOON + timedelta(hours=1)).action is Action.BAN


def test_ban_with_end_date_ends() -> None:
    snap = tsnapshot(bans=[CompiledBan(id=14, device_id=7, person=None, ends_at=at("2026-11-30T00:00"))])
    assert decide(snap, PUPIL, "box.com", at=NOON).action is Action.BAN
    assert decide(snap, PUPIL, "box.com", at=at("2026-11-30T00:00")).action is Action.ALLOW


def test_unknown_device_gets_the_default_group() -> None:
    snap = tsnapshot(categories={"games": ["games.example"]}, group_only={"games": ["pupils"]},
                     devices=[("10.0.0.8", STAFF_DEVICE)])
    assert snap.identify("10.9.9.9").group == "pupils"
    assert decide(snap, snap.identify("10.9.9.9"), "games.example", at=NOON).action is Action.BLOCK
    assert decide(snap, snap.identify("10.0.0.8"), "games.example", at=NOON).action is Action.ALLOW


def test_identify_prefers_mac_over_address() -> None:
    moved = tdevice(id=5, name="Moved iPad", group="staff", mac="02:00:00:00:00:05")
    snap = tsnapshot(devices=[("10.0.0.5", moved)])
    assert snap.identify("10.0.0.77", mac="02:00:00:00:00:05").device == moved
    assert snap.identify("10.0.0.5").device == moved


def test_an_error_in_the_decision_blocks() -> None:
    broken = tsnapshot(blocked=["x.example"])
    broken.table = None  # type: ignore[assignment]  # corrupt it: the lookup raises
    decision = decide(broken, PUPIL, "box.com", at=NOON)
    assert (decision.action, decision.reason) == (Action.BLOCK, Reason.ERROR)


def test_cache_scope_separates_devices_with_their_own_rules() -> None:
    assert SNAP.cache_scope(PUPIL) == ("pupils", None)
    assert SNAP.cache_scope(STAFF) == ("staff", 8)


def test_next_change_finds_expiry_and_schedule_boundaries() -> None:
    snap = tsnapshot(rules=[trule(1, "allow", "a.example", expires_at=at("2026-11-25T13:00")),
                            trule(2, "block", "b.example",
                                  hours=WeeklyHours.parse("wed", "12:30", "15:30"))])
    assert snap.next_change(NOON) == at("2026-11-25T12:30")
    assert tsnapshot().next_change(NOON) is None
