"""Compile database rows (or the built-in catalogue alone) into a `PolicySnapshot`.

The big part, the domain table of every list, is rebuilt only when a category's content changed: the
`Compiler` keeps the last table keyed by each category's content version, so approving an exception
recompiles in milliseconds even with a million list entries loaded.

A snapshot is one school's (`site_id`; see `rules.sites`): its groups, devices and addresses, bans and school
accounts, and the categories and rules that are the trust's (`site_id` NULL) or its own. Addresses overlap
between schools, so only the school's own addresses may be in `devices_by_ip`. A school's own rules add to the
trust's; they cannot open a trust-wide locked category, because `decide()` checks locked categories first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from rules.monitoring.states import CURRENT_BAN_STATES
from rules.policy.catalogue import builtin_categories
from rules.policy.decision import DeviceInfo
from rules.policy.families import family
from rules.policy.matcher import DomainTable
from rules.policy.snapshot import CompiledBan, CompiledRule, GroupInfo, PolicySnapshot, WeeklyHours, person_key
from rules.school_media.posters import OpenAccount, open_accounts
from rules.sites import DEFAULT_SITE_ID
from rules.store.db import Database
from rules.store.models import (
    Ban,
    Category,
    CategoryGroup,
    Device,
    DeviceAddress,
    Group,
    ListEntry,
    PolicyState,
    Rule,
    Schedule,
    SupervisedSession,
)

FALLBACK_GROUP = "pupils"


def trust_or_own(column: InstrumentedAttribute[int | None], site_id: int) -> ColumnElement[bool]:
    """Rows that are the whole trust's (NULL) or the school's own: what a school's policy is made of."""
    return or_(column.is_(None), column == site_id)


def read_version(db: Database) -> int:
    """The current policy version (one small read: this is what the enforcers poll)."""
    with db.engine.connect() as conn:
        version = conn.execute(select(PolicyState.version).where(PolicyState.id == 1)).scalar()
    return int(version or 0)


class Compiler:
    """Builds snapshots from the database, reusing the domain table while the lists are unchanged."""

    def __init__(self, db: Database, ban_allowlist: Iterable[str] = (), keep_entries: bool = False,
                 site_id: int = DEFAULT_SITE_ID) -> None:
        self.db = db
        self.site_id = site_id
        self.ban_allowlist = frozenset(ban_allowlist)
        self._table_key: tuple[tuple[int, int], ...] | None = None
        self._table: DomainTable | None = None
        # The (domain, tag) pairs the table was built from, for a caller that keeps the policy on disk (the
        # table itself holds per-process hashes); off by default, since a million names cost memory.
        self.keep_entries = keep_entries
        self.entries: list[tuple[str, int]] = []

    def compile(self) -> PolicySnapshot:
        with self.db.session(read_only=True) as session:
            version = int(session.scalar(select(PolicyState.version).where(PolicyState.id == 1)) or 0)
            site = self.site_id
            groups = {g.id: g for g in session.scalars(select(Group).where(Group.site_id == site))}
            categories = list(session.scalars(select(Category).where(trust_or_own(Category.site_id, site))
                                              .order_by(Category.locked.desc(), Category.id)))
            specs = _category_specs(session, categories, groups)
            bit_of = {c.id: i for i, c in enumerate(specs)}
            table_key = tuple((c.id, c.content_version) for c in categories)
            if table_key != self._table_key or self._table is None:
                self._table = self._build_table(session, bit_of)
                self._table_key = table_key
            return PolicySnapshot(
                version=version,
                table=self._table,
                category_names=tuple(c.name for c in specs),
                **category_masks(specs, (g.name for g in groups.values())),
                **_groups(groups),
                **_rules(session, site, categories, groups, _default_group(groups)),
                **_devices(session, site, groups),
                **_bans(session, site),
                ban_allowlist=self.ban_allowlist,
            )

    def _build_table(self, session: Session, bit_of: dict[int, int]) -> DomainTable:
        mine = ListEntry.category_id.in_(list(bit_of))  # another school's own lists are not read at all
        count = session.scalar(select(func.count()).select_from(ListEntry).where(mine)) or 0
        rows = session.execute(
            select(ListEntry.domain, ListEntry.category_id).where(mine).execution_options(yield_per=50_000)
        )
        if not self.keep_entries:
            return domain_table(rows, bit_of, count)
        self.entries = [(domain, 1 << bit_of[category_id]) for domain, category_id in rows if category_id in bit_of]
        return DomainTable.build(self.entries, count)


@dataclass(frozen=True, slots=True)
class CategorySpec:
    """What the masks need to know of a category (a row, or a test's stand-in for one)."""

    id: int
    name: str
    locked: bool = False
    block_everyone: bool = True
    groups: frozenset[str] = frozenset()  # groups it is blocked for when not for everyone


def category_bits(categories: Iterable[CategorySpec]) -> tuple[CategorySpec, ...]:
    """The categories in bit order: locked first, so that `category_of` names a locked category when a name
    is in several, then by id, so that bits stay put while categories are only added."""
    ordered = tuple(sorted(categories, key=lambda c: (not c.locked, c.id)))
    if len(ordered) > 63:
        raise ValueError("schoolgate supports at most 63 categories")
    return ordered


def category_masks(ordered: Sequence[CategorySpec], group_names: Iterable[str]) -> dict[str, Any]:
    """The locked, everyone and per-group masks for categories in bit order (`category_bits`). A locked
    category is blocked for everyone whatever its settings: no group can be let into it."""
    everyone = 0
    locked = 0
    per_group: dict[str, int] = {name: 0 for name in group_names}
    for index, category in enumerate(ordered):
        bit = 1 << index
        if category.locked:
            locked |= bit
        if category.block_everyone or category.locked:
            everyone |= bit
        for name in category.groups:
            if name in per_group:
                per_group[name] |= bit
    return {
        "locked_mask": locked,
        "everyone_mask": everyone,
        "group_masks": {name: mask | everyone for name, mask in per_group.items()},
    }


def domain_table(entries: Iterable[tuple[str, int]], bit_of: Mapping[int, int], count: int) -> DomainTable:
    """The domain table of (domain, category id) list entries; entries of an unknown category are left out."""
    pairs = ((domain, 1 << bit_of[category_id]) for domain, category_id in entries if category_id in bit_of)
    return DomainTable.build(pairs, count)


def _category_specs(session: Session, categories: list[Category],
                    groups: dict[int, Group]) -> tuple[CategorySpec, ...]:
    linked: dict[int, set[str]] = defaultdict(set)
    for link in session.scalars(select(CategoryGroup)):
        group = groups.get(link.group_id)
        if group is not None:
            linked[link.category_id].add(group.name)
    return category_bits(CategorySpec(c.id, c.name, c.locked, c.block_everyone, frozenset(linked[c.id]))
                         for c in categories)


def _groups(groups: dict[int, Group]) -> dict[str, Any]:
    default = next((g.name for g in groups.values() if g.is_default), FALLBACK_GROUP)
    return {
        "default_group": default,
        "groups": {g.name: GroupInfo(g.name, g.safesearch, g.circumvention_mode) for g in groups.values()},
    }


def _default_group(groups: dict[int, Group]) -> str:
    return next((g.name for g in groups.values() if g.is_default), FALLBACK_GROUP)


def _rules(session: Session, site_id: int, categories: list[Category], groups: dict[int, Group],
           default_group: str) -> dict[str, Any]:
    category_by_id = {c.id: c for c in categories}
    schedules = {s.id: WeeklyHours.parse(s.days, s.start_time, s.end_time) for s in session.scalars(select(Schedule))}
    now = datetime.now(UTC)
    by_domain: dict[str, list[CompiledRule]] = defaultdict(list)
    device_specific: set[int] = set()
    own_devices = set(session.scalars(select(Device.id).where(Device.site_id == site_id)))
    for row in session.scalars(select(Rule).where(Rule.enabled.is_(True), trust_or_own(Rule.site_id, site_id))):
        if row.expires_at is not None and row.expires_at <= now:
            continue  # expired rules stay in the table for the record, but never apply again
        if ((row.group_id is not None and row.group_id not in groups)
                or (row.device_id is not None and row.device_id not in own_devices)
                or (row.category_id is not None and row.category_id not in category_by_id)):
            continue  # a trust-wide row made for another school's group or device, or in its own category
        category = category_by_id.get(row.category_id) if row.category_id else None
        group = groups.get(row.group_id) if row.group_id else None
        rule = CompiledRule(
            id=row.id, action=row.action, domain=row.domain,
            url_prefix=row.url_prefix if row.kind == "url" else None,
            scope=row.scope, group=group.name if group else None, device_id=row.device_id,
            category=category.name if category else None,
            locked=bool(category and category.locked and row.action == "block"),
            starts_at=row.starts_at, expires_at=row.expires_at,
            hours=schedules.get(row.schedule_id) if row.schedule_id else None,
        )
        by_domain[row.domain].append(rule)
        if row.device_id is not None:
            device_specific.add(row.device_id)
    for rule in school_account_rules(open_accounts(session, groups, default_group, site_id)):
        by_domain[rule.domain].append(rule)
        device_specific.add(rule.device_id)  # type: ignore[arg-type]
    return {"rules_by_domain": {k: tuple(v) for k, v in by_domain.items()},
            "device_specific": frozenset(device_specific)}


def school_account_rules(accounts: Iterable[OpenAccount]) -> Iterator[CompiledRule]:
    """What active school social media accounts open: an allow rule for each domain of the account's platform
    (`rules.policy.families`), for each of its posters' devices, during its hours. Never for a group; never a
    locked category, since `decide()` checks locked categories before any rule."""
    for account in accounts:
        for device_id in sorted(account.device_ids):
            for domain in family(account.platform).domains:
                yield CompiledRule(id=None, action="allow", domain=domain, scope="device", device_id=device_id,
                                   hours=account.hours, account=account.name)


# Address sources that bind an address to its device's MAC: the technician's registration and DHCP. An
# address learnt from the neighbour table (or made up by the detector) is attributed but not bound.
BINDING_SOURCES = frozenset({"static", "dhcp"})


def _devices(session: Session, site_id: int, groups: dict[int, Group]) -> dict[str, Any]:
    default = next((g.name for g in groups.values() if g.is_default), FALLBACK_GROUP)
    infos: dict[int, DeviceInfo] = {}
    by_mac: dict[str, DeviceInfo] = {}
    for device in session.scalars(select(Device).where(Device.site_id == site_id)):
        group = groups.get(device.group_id) if device.group_id else None
        info = DeviceInfo(device.id, device.name, group.name if group else default, device.mac, device.person)
        infos[device.id] = info
        if device.mac:
            by_mac[device.mac.lower()] = info
    by_ip: dict[str, DeviceInfo] = {}
    bindings: dict[str, str] = {}
    for addr in session.scalars(select(DeviceAddress).where(DeviceAddress.site_id == site_id)):
        holder = infos.get(addr.device_id)
        if holder is None:
            continue
        by_ip[addr.ip] = holder
        if holder.mac and addr.source in BINDING_SOURCES:
            bindings[addr.ip] = holder.mac.lower()
    return {"devices_by_ip": by_ip, "devices_by_mac": by_mac, "bindings": bindings}


def _bans(session: Session, site_id: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    supervised: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for sess in session.scalars(select(SupervisedSession).join(Ban, Ban.id == SupervisedSession.ban_id)
                                .where(SupervisedSession.ends_at > now, Ban.site_id == site_id)):
        supervised[sess.ban_id].append((sess.starts_at, sess.ends_at))
    by_device: dict[int, list[CompiledBan]] = defaultdict(list)
    by_person: dict[str, list[CompiledBan]] = defaultdict(list)
    for row in session.scalars(select(Ban).where(Ban.state.in_(CURRENT_BAN_STATES), Ban.site_id == site_id)):
        if row.ends_at is not None and row.ends_at <= now:
            continue
        key = person_key(row.person)
        ban = CompiledBan(row.id, row.device_id, key, row.ends_at, tuple(supervised.get(row.id, ())))
        if row.device_id is not None:
            by_device[row.device_id].append(ban)
        if key is not None:
            by_person[key].append(ban)
    return {"bans_by_device": {k: tuple(v) for k, v in by_device.items()},
            "bans_by_person": {k: tuple(v) for k, v in by_person.items()}}


def catalogue_snapshot(ban_allowlist: Iterable[str] = ()) -> PolicySnapshot:
    """A snapshot from the built-in catalogue alone, for when the database cannot be read at start:
    the enforcers then still block what every school must block, and keep trying the database."""
    builtins = builtin_categories()

    def pairs() -> Iterator[tuple[str, int]]:
        for bit, category in enumerate(builtins):
            for domain in category.domains:
                yield domain, 1 << bit

    table = DomainTable.build(pairs(), sum(len(c.domains) for c in builtins))
    everyone = (1 << len(builtins)) - 1
    locked = sum(1 << bit for bit, c in enumerate(builtins) if c.locked)
    groups = {name: GroupInfo(name) for name in ("pupils", "staff", "guests")}
    return PolicySnapshot(
        version=0, table=table, category_names=tuple(c.name for c in builtins), locked_mask=locked,
        everyone_mask=everyone, group_masks={name: everyone for name in groups}, default_group=FALLBACK_GROUP,
        groups=groups, ban_allowlist=frozenset(ban_allowlist), source="built-in catalogue",
    )
