"""Named factories for tests: a snapshot, a client, a device, a rule, without a database."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from rules.policy.compile import CategorySpec, category_bits, category_masks, domain_table
from rules.policy.decision import Client, DeviceInfo
from rules.policy.snapshot import CompiledBan, CompiledRule, GroupInfo, PolicySnapshot, person_key

GROUPS = ("pupils", "staff", "guests")


def tdevice(id: int = 1, name: str = "Class 3 iPad 07", group: str = "pupils", mac: str | None = None,
            person: str | None = None) -> DeviceInfo:
    return DeviceInfo(id=id, name=name, group=group, mac=mac, person=person)


def tclient(ip: str = "10.0.0.7", group: str = "pupils", device: DeviceInfo | None = None) -> Client:
    if device is not None:
        return Client(ip=ip, group=device.group, device=device)
    return Client(ip=ip, group=group)


def trule(id: int, action: str, domain: str, **kw: object) -> CompiledRule:
    return CompiledRule(id=id, action=action, domain=domain, **kw)  # type: ignore[arg-type]


def tsnapshot(
    blocked: Iterable[str] = (),
    categories: Mapping[str, Iterable[str]] | None = None,
    locked: Iterable[str] = (),
    group_only: Mapping[str, Iterable[str]] | None = None,
    rules: Iterable[CompiledRule] = (),
    devices: Iterable[tuple[str, DeviceInfo]] = (),
    bans: Iterable[CompiledBan] = (),
    ban_allowlist: Iterable[str] = (),
    version: int = 1,
) -> PolicySnapshot:
    """A snapshot with `blocked` in category "blocked" (for everyone), plus any named `categories`.

    `locked` names categories that are locked; `group_only` maps a category to the groups it is
    blocked for (it is then not blocked for everyone). The table and masks come from the compiler's own
    functions, with categories numbered in the order given ("blocked" first), as rows would be.
    """
    cats: dict[str, list[str]] = {"blocked": list(blocked)}
    for name, domains in (categories or {}).items():
        cats[name] = list(domains)
    locked_names = set(locked)
    only = {k: frozenset(v) for k, v in (group_only or {}).items()}
    specs = category_bits(CategorySpec(id=i, name=name, locked=name in locked_names, block_everyone=name not in only,
                                       groups=only.get(name, frozenset()))
                          for i, name in enumerate(cats, start=1))
    bit_of = {c.id: i for i, c in enumerate(specs)}
    entries = [(d, c.id) for c in specs for d in cats[c.name]]
    table = domain_table(entries, bit_of, len(entries))
    by_domain: dict[str, list[CompiledRule]] = {}
    for rule in rules:
        by_domain.setdefault(rule.domain, []).append(rule)
    device_list = list(devices)
    ban_list = list(bans)
    by_device: dict[int, list[CompiledBan]] = {}
    by_person: dict[str, list[CompiledBan]] = {}
    for ban in ban_list:
        if ban.device_id is not None:
            by_device.setdefault(ban.device_id, []).append(ban)
        if ban.person is not None:
            by_person.setdefault(person_key(ban.person) or "", []).append(ban)
    return PolicySnapshot(
        version=version, table=table, category_names=tuple(c.name for c in specs),
        **category_masks(specs, GROUPS),
        default_group="pupils", groups={g: GroupInfo(g) for g in GROUPS},
        rules_by_domain={k: tuple(v) for k, v in by_domain.items()},
        devices_by_ip={ip: d for ip, d in device_list},
        devices_by_mac={d.mac: d for _, d in device_list if d.mac},
        bindings={ip: d.mac for ip, d in device_list if d.mac},  # registered with a MAC: bound
        bans_by_device={k: tuple(v) for k, v in by_device.items()},
        bans_by_person={k: tuple(v) for k, v in by_person.items()},
        ban_allowlist=frozenset(ban_allowlist),
        device_specific=frozenset({r.device_id for r in rules if r.device_id is not None} |
                                  {b.device_id for b in ban_list if b.device_id is not None}),
    )


def at(text: str) -> datetime:
    """A UTC instant from 'YYYY-MM-DDTHH:MM' (tests state times in UTC)."""
    return datetime.fromisoformat(text + "+00:00")
