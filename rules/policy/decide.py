"""`decide()`: the one decision that DNS and the proxy share, so that they can never disagree.

Precedence (see `Reason`): an active ban > a locked category > an approved exception in scope and in
date > block rules > allow. The function is pure: it reads the snapshot and its arguments only.
Any error inside it ends in a block (fail closed), never in a pass.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from rules.policy.decision import FAIL_CLOSED, Action, Client, Decision, Reason
from rules.policy.names import parent_domains
from rules.policy.snapshot import CompiledRule, PolicySnapshot

log = logging.getLogger(__name__)

ALLOWED = Decision(Action.ALLOW, Reason.DEFAULT)


def decide(snapshot: PolicySnapshot, client: Client, host: str, url: str | None = None,
           at: datetime | None = None) -> Decision:
    """Decide for `host` (in normal form, see `rules.policy.names.normalize_host`) and, when known, `url`.

    The common case (no ban, no rule made by a person for this name, not listed) costs one table
    match and three attribute tests; it is written out in one function because DNS calls it for
    every query it does not answer from its cache.
    """
    try:
        if client.device is not None and (snapshot.bans_by_device or snapshot.bans_by_person):
            ban = snapshot.active_ban(client, at or datetime.now(UTC))
            if ban is not None:
                return _banned(snapshot, host, ban.id)
        tags, listed = snapshot.table.match(host)
        if tags:
            locked = tags & snapshot.locked_mask
            if locked:
                category = snapshot.category_of(locked)
                return Decision(Action.BLOCK, Reason.LOCKED_CATEGORY, category, f"{category}: {listed}")
        if snapshot.rules_by_domain:
            found = _person_rules(snapshot, client, host, url, at)
            if found is not None:
                return found
        if tags:
            blocked = tags & snapshot.group_masks.get(client.group, snapshot.everyone_mask)
            if blocked:
                category = snapshot.category_of(blocked)
                return Decision(Action.BLOCK, Reason.CATEGORY, category, f"{category}: {listed}")
        return ALLOWED
    except Exception:
        log.exception("decision failed for %r; blocking (fail closed)", host)
        return FAIL_CLOSED


def _banned(snapshot: PolicySnapshot, host: str, ban_id: int) -> Decision:
    for name in parent_domains(host):
        if name in snapshot.ban_allowlist:
            return Decision(Action.ALLOW, Reason.BAN_ALLOWLIST, rule=f"ban allowlist: {name}", ban_id=ban_id)
    return Decision(Action.BAN, Reason.BANNED, rule=f"ban #{ban_id}", ban_id=ban_id)


def _person_rules(snapshot: PolicySnapshot, client: Client, host: str, url: str | None,
                  at: datetime | None) -> Decision | None:
    """Apply the rules people made: a locked block rule, then exceptions, then block rules."""
    candidates: list[CompiledRule] = []
    for name in parent_domains(host):
        rules = snapshot.rules_by_domain.get(name)
        if rules:
            candidates.extend(rules)
    if not candidates:
        return None
    moment = at or datetime.now(UTC)
    bare_url = url.split("://", 1)[-1] if url else None
    applying = [rule for rule in candidates if rule.applies(client, bare_url, moment)]
    for rule in applying:
        if rule.action == "block" and rule.locked:
            return Decision(Action.BLOCK, Reason.LOCKED_CATEGORY, rule.category, rule.label, rule.id)
    for rule in applying:
        if rule.action == "allow":
            return Decision(Action.ALLOW, Reason.EXCEPTION, rule.category, rule.label, rule.id)
    for rule in applying:
        if rule.action == "block":
            return Decision(Action.BLOCK, Reason.BLOCK_RULE, rule.category, rule.label, rule.id)
    return None
