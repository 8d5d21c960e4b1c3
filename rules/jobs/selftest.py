"""The nightly self-test: is every locked and social-media category really blocked for every group?

It proves the whole path the enforcers use (database -> compile -> decide) with a sample of each
category's own domains, for an unregistered client of each group, and records the outcome in the audit
log (actor "self-test", action "self_test.pass" or "self_test.fail") for the weekly report and the web.
A category with no entries fails: it would block nothing.

Each gateway tests its own school (`site_id`): the trust's categories and the school's own, its groups, as its
DNS and proxy compile them; the audit entry names the school.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select

from rules.policy.compile import Compiler, trust_or_own
from rules.policy.decide import decide
from rules.policy.decision import Action, Client
from rules.sites import DEFAULT_SITE_ID
from rules.store.audit import audit
from rules.store.db import Database
from rules.store.models import Category, ListEntry

log = logging.getLogger(__name__)
ACTOR = "self-test"
SOCIAL_MEDIA = "social_media"
SAMPLE = 5
SELF_TEST_CLIENT_IP = "0.0.0.0"  # no device: the group's own policy, no device rule
MAX_REPORTED = 50


@dataclass
class SelfTestResult:
    checked: int = 0
    categories: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def run_self_test(db: Database, sample: int = SAMPLE, site_id: int = DEFAULT_SITE_ID) -> SelfTestResult:
    """Check the school `site_id`'s policy, record and return the outcome."""
    result = SelfTestResult()
    snapshot = Compiler(db, site_id=site_id).compile()
    with db.session(read_only=True) as session:
        categories = list(session.scalars(select(Category).where(
            Category.locked.is_(True) | (Category.name == SOCIAL_MEDIA), trust_or_own(Category.site_id, site_id))
            .order_by(Category.name)))
        samples = {c.name: list(session.scalars(select(ListEntry.domain).where(ListEntry.category_id == c.id)
                                                .order_by(ListEntry.id).limit(sample))) for c in categories}
    result.categories = list(samples)
    result.groups = sorted(snapshot.groups)
    for name, domains in samples.items():
        if not domains:
            result.failures.append(f"category {name} has no entries: it blocks nothing")
            continue
        for group in result.groups:
            client = Client(ip=SELF_TEST_CLIENT_IP, group=group)
            for domain in domains:
                result.checked += 1
                decision = decide(snapshot, client, domain)
                if decision.action == Action.ALLOW:
                    result.failures.append(f"{domain} ({name}) is allowed for group {group}: "
                                           f"{decision.reason} {decision.rule or ''}".rstrip())
    details = {"checked": result.checked, "categories": result.categories, "groups": result.groups,
               "policy_version": snapshot.version, "failures": result.failures[:MAX_REPORTED]}
    with db.session() as session:
        audit(session, ACTOR, "self_test.pass" if result.passed else "self_test.fail", "policy", after=details,
              site_id=site_id)
    if result.passed:
        log.info("self-test passed: %d checks over %s", result.checked, ", ".join(result.categories))
    else:
        log.error("self-test FAILED: %s", "; ".join(result.failures[:5]))
    return result
