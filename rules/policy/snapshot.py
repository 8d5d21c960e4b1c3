"""`PolicySnapshot`: the compiled, immutable view of the policy that DNS and the proxy hold.

It is built once (by `rules.policy.compile`) and never changed afterwards; a new policy version means a new
snapshot, swapped in by `rules.policy.current`. Everything a decision needs is precomputed here so that
`decide()` does a handful of dictionary and table look-ups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from rules.localtime import LONDON
from rules.monitoring.states import CircumventionMode
from rules.policy.decision import Client, DeviceInfo
from rules.policy.matcher import DomainTable

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """Days of the week and a time window, in Europe/London (school hours, say)."""

    days: frozenset[int]  # 0 = Monday
    start: time
    end: time

    def contains(self, at: datetime) -> bool:
        local = at.astimezone(LONDON)
        if local.weekday() not in self.days:
            return False
        now = local.time()
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end  # a window across midnight

    def boundaries_after(self, at: datetime) -> Iterable[datetime]:
        local = at.astimezone(LONDON)
        for offset in range(0, 8):
            day = (local + timedelta(days=offset)).date()
            for moment in (self.start, self.end):
                candidate = datetime.combine(day, moment, LONDON)
                if candidate > at:
                    yield candidate

    @classmethod
    def parse(cls, days: str, start: str, end: str) -> WeeklyHours:
        """Parse 'mon,tue,...' and 'HH:MM' strings; raise ValueError with a readable message."""
        chosen = set()
        for day in (d.strip().lower()[:3] for d in days.split(",") if d.strip()):
            if day not in DAY_NAMES:
                raise ValueError(f"unknown day {day!r}; use {', '.join(DAY_NAMES)}")
            chosen.add(DAY_NAMES.index(day))
        return cls(frozenset(chosen), time.fromisoformat(start), time.fromisoformat(end))


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A person's block or allow rule, ready to test against a client, a URL and a time.

    A rule with `account` set is not a `Rule` row (its id is None): it is what an active school social media
    account opens for one of its posters' devices (`rules.school_media.posters`), labelled with the account's name.
    """

    id: int | None
    action: str  # "block" | "allow"
    domain: str
    url_prefix: str | None = None  # "host/path" without the scheme
    scope: str = "everyone"  # everyone | group | device
    group: str | None = None
    device_id: int | None = None
    category: str | None = None
    locked: bool = False
    starts_at: datetime | None = None
    expires_at: datetime | None = None
    hours: WeeklyHours | None = None
    account: str | None = None  # the school social media account this rule opens the platform for

    @property
    def label(self) -> str:
        if self.account is not None:
            return f"school account: {self.account}"
        target = self.url_prefix or self.domain
        scope = {"everyone": "everyone", "group": f"group {self.group}", "device": f"device #{self.device_id}"}
        return f"rule #{self.id}: {self.action} {target} for {scope.get(self.scope, self.scope)}"

    def applies(self, client: Client, bare_url: str | None, at: datetime) -> bool:
        if self.scope == "group" and client.group != self.group:
            return False
        if self.scope == "device" and (client.device is None or client.device.id != self.device_id):
            return False
        if self.url_prefix is not None and (bare_url is None or not bare_url.startswith(self.url_prefix)):
            return False
        if self.starts_at is not None and at < self.starts_at:
            return False
        if self.expires_at is not None and at >= self.expires_at:
            return False
        return self.hours is None or self.hours.contains(at)


@dataclass(frozen=True, slots=True)
class CompiledBan:
    """An active ban, with the supervised sessions that suspend it."""

    id: int
    device_id: int | None
    person: str | None  # casefolded
    ends_at: datetime | None = None
    supervised: tuple[tuple[datetime, datetime], ...] = ()

    def in_force(self, at: datetime) -> bool:
        if self.ends_at is not None and at >= self.ends_at:
            return False
        return not any(start <= at < end for start, end in self.supervised)


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """What the enforcers need to know of a group beyond its blocked categories."""

    name: str
    safesearch: bool = True
    circumvention_mode: str = CircumventionMode.BAN


def person_key(person: str | None) -> str | None:
    """How two spellings of one person's name are made to compare equal."""
    if person is None:
        return None
    key = " ".join(person.split()).casefold()
    return key or None


@dataclass(slots=True, eq=False)
class PolicySnapshot:
    """The compiled policy at one version. Treat as immutable: it is shared by every thread."""

    version: int
    table: DomainTable
    category_names: tuple[str, ...]  # by bit index in the table's tags
    locked_mask: int
    everyone_mask: int
    group_masks: Mapping[str, int]
    default_group: str
    groups: Mapping[str, GroupInfo] = field(default_factory=dict)
    rules_by_domain: Mapping[str, tuple[CompiledRule, ...]] = field(default_factory=dict)
    devices_by_ip: Mapping[str, DeviceInfo] = field(default_factory=dict)
    devices_by_mac: Mapping[str, DeviceInfo] = field(default_factory=dict)
    # address -> the MAC it is bound to (a DHCP lease, or a device registered with its MAC): the gateway drops
    # a packet from a bound address that comes from another MAC, so traffic from one is the device's own.
    bindings: Mapping[str, str] = field(default_factory=dict)
    bans_by_device: Mapping[int, tuple[CompiledBan, ...]] = field(default_factory=dict)
    bans_by_person: Mapping[str, tuple[CompiledBan, ...]] = field(default_factory=dict)
    ban_allowlist: frozenset[str] = frozenset()
    device_specific: frozenset[int] = frozenset()  # devices with rules or bans of their own
    source: str = "database"  # or "built-in catalogue" when the database could not be read

    def identify(self, ip: str, mac: str | None = None) -> Client:
        """Who is asking: the registered device by MAC (preferred) or address, else the default group."""
        device = None
        if mac is not None:
            device = self.devices_by_mac.get(mac.lower())
        if device is None:
            device = self.devices_by_ip.get(ip)
        if device is None:
            return Client(ip=ip, group=self.default_group)
        return Client(ip=ip, group=device.group, device=device)

    def event_head(self, client: Client) -> tuple[str, int | None, str | None, str | None]:
        """The first fields of an access event: address, device id, name and MAC."""
        device = client.device
        if device is None:
            return (client.ip, None, None, None)
        return (client.ip, device.id, device.name, device.mac)

    def is_bound(self, ip: str, mac: str | None) -> bool:
        """Whether `ip` is bound to `mac`, so that the gateway lets only that MAC use it."""
        return mac is not None and self.bindings.get(ip) == mac.lower()

    def category_of(self, mask: int) -> str:
        """The name of the lowest category bit in `mask` (categories are numbered locked first)."""
        return self.category_names[(mask & -mask).bit_length() - 1]

    def active_ban(self, client: Client, at: datetime) -> CompiledBan | None:
        device = client.device
        if device is None:
            return None
        for ban in self.bans_by_device.get(device.id, ()):
            if ban.in_force(at):
                return ban
        key = person_key(device.person)
        if key is not None:
            for ban in self.bans_by_person.get(key, ()):
                if ban.in_force(at):
                    return ban
        return None

    def cache_scope(self, client: Client) -> tuple[str, int | None]:
        """What a cached answer for this client depends on besides the name: its group, and its device
        when the device has rules or bans of its own."""
        device = client.device
        if device is not None and (device.id in self.device_specific or
                                   person_key(device.person) in self.bans_by_person):
            return (client.group, device.id)
        return (client.group, None)

    def next_change(self, at: datetime) -> datetime | None:
        """The first moment after `at` when a timed rule, ban or supervised session starts or ends."""
        moments: list[datetime] = []
        for rules in self.rules_by_domain.values():
            for rule in rules:
                moments.extend(m for m in (rule.starts_at, rule.expires_at) if m is not None and m > at)
                if rule.hours is not None:
                    moments.extend(rule.hours.boundaries_after(at))
        for bans in (*self.bans_by_device.values(), *self.bans_by_person.values()):
            for ban in bans:
                if ban.ends_at is not None and ban.ends_at > at:
                    moments.append(ban.ends_at)
                for start, end in ban.supervised:
                    moments.extend(m for m in (start, end) if m > at)
        return min(moments) if moments else None
