"""The review pack's sections, one query function each: counts and dates over a period, text through the
`Redactor`, and never a person's name, a device's name or a pupil's row.

Each function takes the session, the period's instants (UTC, from the London days the headteacher chose) and,
where it shows text, the redactor; each returns plain frozen records for the template.

The pack is a school's (the policy is reviewed per school): `site` (None: every school) keeps each section to that
school's rows, with the trust's own categories and rules (site_id NULL), which apply in every school.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session

from rules.consent.academic_year import academic_year_of
from rules.consent.status import Media, consent_on
from rules.policy.families import FAMILIES
from rules.review.redact import Redactor
from rules.safeguarding.categories import Category as ConcernCategory
from rules.school_media.post_states import POSTER, PostStatus
from rules.store.models import (
    AccessRequest,
    AuditEntry,
    Ban,
    Category,
    Concern,
    ContentReport,
    Group,
    ListEntry,
    Pupil,
    Rule,
    SocialAccount,
    SocialAccountMember,
    SocialPost,
)

SELF_TEST_ACTOR = "self-test"  # as `rules.jobs.selftest.ACTOR`, which writes "self_test.pass" / "self_test.fail"
MAX_ROWS = 500  # a pack longer than this is not read; the counts above each table stay complete


@dataclass(frozen=True)
class Span:
    """The period as UTC instants: start inclusive, end exclusive."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class CategoryRow:
    name: str
    description: str
    locked: bool
    blocked_for: str
    entries: int
    safeguarding: bool


@dataclass(frozen=True)
class RuleRow:
    """One decision as people made it: the rules it wrote (one per domain, when an approval opened a whole
    service's family of domains) shown as one row, `domains` counting them."""

    created_at: datetime
    action: str
    target: str
    scope: str
    source: str
    reason: str
    starts_at: datetime
    expires_at: datetime | None
    domains: int = 1
    scope_kind: str = "everyone"  # everyone | group | device, as stored


def _of(column: object, site: int | None, *, trust_wide: bool = False) -> ColumnElement[bool]:
    """The school's rows of `column`'s table (with the trust's own, site_id NULL, when `trust_wide`)."""
    if site is None:
        return true()
    clause: ColumnElement[bool] = column == site  # type: ignore[assignment]
    return (clause | column.is_(None)) if trust_wide else clause  # type: ignore[attr-defined]


def categories(session: Session, redactor: Redactor, site: int | None = None) -> list[CategoryRow]:
    """Every category in force in the school: what it is, locked or not, for whom it is blocked, and how many
    domains it lists."""
    sizes = dict(session.execute(select(ListEntry.category_id, func.count()).group_by(ListEntry.category_id))
                 .all())
    rows = []
    for cat in session.scalars(select(Category).where(_of(Category.site_id, site, trust_wide=True))
                               .order_by(Category.name)):
        who = "everyone" if cat.block_everyone else (", ".join(sorted(g.name for g in cat.blocked_groups))
                                                     or "nobody (no group chosen)")
        rows.append(CategoryRow(redactor.text(cat.name), redactor.text(cat.description), cat.locked,
                                redactor.text(who), sizes.get(cat.id, 0), cat.safeguarding))
    return rows


def _scope(rule: Rule, groups: dict[int, str]) -> str:
    if rule.scope == "group":
        return f"group {groups.get(rule.group_id or 0, '(removed)')}"
    if rule.scope == "device":
        return "one device"  # a device's name can be a pupil's: never shown
    return "everyone"


def _grouped(rules: list[Rule]) -> list[list[Rule]]:
    """Rules written together by one decision (same action, scope, reason, end and author), in order."""
    groups: dict[tuple[object, ...], list[Rule]] = {}
    for r in rules:
        key = (r.action, r.scope, r.group_id, r.device_id, r.source, r.reason, r.expires_at, r.created_by)
        groups.setdefault(key, []).append(r)
    return list(groups.values())


def _added(session: Session, span: Span, site: int | None, *where: object) -> list[list[Rule]]:
    return _grouped(list(session.scalars(select(Rule).where(Rule.created_at >= span.start, Rule.created_at < span.end,
                                                            _of(Rule.site_id, site, trust_wide=True),
                                                            *where)  # type: ignore[arg-type]
                                         .order_by(Rule.created_at, Rule.id))))


def _row(rules: list[Rule], groups: dict[int, str], redactor: Redactor) -> RuleRow:
    first = rules[0]
    target = first.url_prefix or first.domain
    if len(rules) > 1:
        target = f"{target} and {len(rules) - 1} more domain{'s' if len(rules) > 2 else ''}"
    return RuleRow(first.created_at, first.action, redactor.text(target), redactor.text(_scope(first, groups)),
                   first.source, redactor.text(first.reason), first.starts_at or first.created_at, first.expires_at,
                   len(rules), first.scope)


def rules_added(session: Session, span: Span, redactor: Redactor, site: int | None = None) -> list[RuleRow]:
    """Rules people added in the period (blocks and exceptions), with their reasons, oldest first."""
    groups = dict(session.execute(select(Group.id, Group.name)).all())
    return [_row(rules, groups, redactor) for rules in _added(session, span, site)]


@dataclass(frozen=True)
class RequestRow:
    id: int
    filed_at: datetime
    host: str
    status: str
    decided_at: datetime | None
    scope: str
    whole_service: str
    reasons: str


@dataclass(frozen=True)
class ReportRow:
    id: int
    filed_at: datetime
    addresses: int
    status: str
    actioned_at: datetime | None


def access_requests(session: Session, span: Span, redactor: Redactor, site: int | None = None) -> list[RequestRow]:
    found = session.scalars(select(AccessRequest).where(AccessRequest.created_at >= span.start,
                                                        AccessRequest.created_at < span.end,
                                                        _of(AccessRequest.site_id, site))
                            .order_by(AccessRequest.created_at, AccessRequest.id))
    return [RequestRow(r.id, r.created_at, redactor.text(r.host), r.status, r.decided_at,
                       "one device" if r.scope == "device" else (r.scope or ""),
                       FAMILIES[r.service].label if r.service in FAMILIES else "",
                       redactor.text(r.decision_reasons)) for r in found]


def content_reports(session: Session, span: Span, site: int | None = None) -> list[ReportRow]:
    """Reports filed in the period: never the individual named on the form, nor what the content was."""
    found = session.scalars(select(ContentReport).where(ContentReport.created_at >= span.start,
                                                        ContentReport.created_at < span.end,
                                                        _of(ContentReport.site_id, site))
                            .order_by(ContentReport.created_at, ContentReport.id))
    return [ReportRow(r.id, r.created_at, len([u for u in r.full_urls.splitlines() if u.strip()]), r.status,
                      r.actioned_at) for r in found]


@dataclass(frozen=True)
class Exceptions:
    count: int
    domains: int
    by_scope: dict[str, int]
    without_end: int
    longest: RuleRow | None

    @property
    def longest_days(self) -> int | None:
        if self.longest is None or self.longest.expires_at is None:
            return None
        return max(0, round((self.longest.expires_at - self.longest.starts_at).total_seconds() / 86400))


def exceptions(session: Session, span: Span, redactor: Redactor, site: int | None = None) -> Exceptions:
    """Exceptions (allow rules) granted in the period: how many decisions, for whom, and the longest; an approval
    that opened a whole service counts once, with its domains counted apart."""
    groups = dict(session.execute(select(Group.id, Group.name)).all())
    granted = [_row(rules, groups, redactor) for rules in _added(session, span, site, Rule.action == "allow")]
    by_scope = Counter(r.scope_kind for r in granted)
    timed = [r for r in granted if r.expires_at is not None]
    longest = max(timed, key=lambda r: r.expires_at - r.starts_at, default=None)  # type: ignore[operator]
    return Exceptions(len(granted), sum(r.domains for r in granted),
                      {k: by_scope.get(k, 0) for k in ("everyone", "group", "device")}, len(granted) - len(timed),
                      longest)


@dataclass(frozen=True)
class Bans:
    made: int
    by_state: dict[str, int]
    lifted: int
    false_positives: int
    dates: list[tuple[datetime, str, datetime | None, bool]]  # made, state, lifted, false positive


def bans(session: Session, span: Span, site: int | None = None) -> Bans:
    """Bans made in the period and what became of them; lifts in the period (of bans made at any time)."""
    made = list(session.scalars(select(Ban).where(Ban.created_at >= span.start, Ban.created_at < span.end,
                                                  _of(Ban.site_id, site))
                                .order_by(Ban.created_at, Ban.id)))
    lifted = list(session.scalars(select(Ban).where(Ban.lifted_at >= span.start, Ban.lifted_at < span.end,
                                                    _of(Ban.site_id, site))))
    states = Counter(b.state for b in made)
    return Bans(len(made), {s: states.get(s, 0) for s in ("active", "confirmed", "lifted", "expired")}, len(lifted),
                sum(1 for b in lifted if b.false_positive),
                [(b.created_at, b.state, b.lifted_at, b.false_positive) for b in made][:MAX_ROWS])


@dataclass(frozen=True)
class SelfTests:
    passed: int
    failed: int
    first: datetime | None
    last: datetime | None
    last_passed: bool | None
    failures: list[datetime]


def self_tests(session: Session, span: Span, site: int | None = None) -> SelfTests:
    """The nightly self-test's record: its audit entries (`self-test`, `self_test.pass` / `self_test.fail`), the
    school's gateway's (and those written without a school)."""
    runs = list(session.execute(select(AuditEntry.ts, AuditEntry.action)
                                .where(AuditEntry.actor == SELF_TEST_ACTOR, AuditEntry.ts >= span.start,
                                       AuditEntry.ts < span.end, _of(AuditEntry.site_id, site, trust_wide=True))
                                .order_by(AuditEntry.ts)).all())
    fails = [ts for ts, action in runs if action == "self_test.fail"]
    return SelfTests(sum(1 for _, action in runs if action == "self_test.pass"), len(fails),
                     runs[0][0] if runs else None, runs[-1][0] if runs else None,
                     (runs[-1][1] == "self_test.pass") if runs else None, fails[:MAX_ROWS])


def concern_counts(session: Session, span: Span, site: int | None = None) -> list[tuple[str, int, int]]:
    """Safeguarding concerns opened in the period by category: (label, all, still open). No names, no devices."""
    rows = session.execute(select(Concern.category, Concern.state, func.count())
                           .where(Concern.opened_at >= span.start, Concern.opened_at < span.end,
                                  _of(Concern.site_id, site))
                           .group_by(Concern.category, Concern.state)).all()
    total: Counter[str] = Counter()
    still_open: Counter[str] = Counter()
    for category, state, n in rows:
        total[category] += n
        if state == "open":
            still_open[category] += n
    labels = {c.value: c.label for c in ConcernCategory}
    found = [(labels[c], total[c], still_open[c]) for c in labels]
    found += [(c, total[c], still_open[c]) for c in sorted(set(total) - set(labels))]
    return found


@dataclass(frozen=True)
class AccountRow:
    name: str
    platform: str
    state: str
    posters: int
    submitted: int
    approved: int
    refused: int


def school_accounts(session: Session, span: Span, redactor: Redactor, site: int | None = None) -> list[AccountRow]:
    """Every school account (name, platform, state, posters now) and its posts submitted in the period."""
    posters = dict(session.execute(select(SocialAccountMember.account_id, func.count())
                                   .where(SocialAccountMember.role == POSTER,
                                          SocialAccountMember.removed_at.is_(None))
                                   .group_by(SocialAccountMember.account_id)).all())
    posts: dict[int, Counter[str]] = {}
    for account_id, status, n in session.execute(
            select(SocialPost.account_id, SocialPost.status, func.count())
            .where(SocialPost.created_at >= span.start, SocialPost.created_at < span.end)
            .group_by(SocialPost.account_id, SocialPost.status)).all():
        posts.setdefault(account_id, Counter())[status] += n
    rows = []
    for account in session.scalars(select(SocialAccount).where(_of(SocialAccount.site_id, site))
                                   .order_by(SocialAccount.name, SocialAccount.id)):
        counts = posts.get(account.id, Counter())
        platform = FAMILIES[account.platform].label if account.platform in FAMILIES else account.platform
        rows.append(AccountRow(redactor.text(account.name), platform, account.state, posters.get(account.id, 0),
                               sum(counts.values()), counts[PostStatus.APPROVED], counts[PostStatus.REFUSED]))
    return rows


@dataclass(frozen=True)
class ClassConsent:
    class_name: str
    on_roll: int
    images: int
    videos: int
    nothing: int


def consent_coverage(session: Session, day: date, site: int | None = None) -> list[ClassConsent]:
    """Per class, for pupils on roll: how many may appear in images, in videos, and have nothing recorded, as on
    `day` (its academic year). Counts only."""
    pupils = list(session.execute(select(Pupil.id, Pupil.class_name).where(Pupil.on_roll.is_(True),
                                                                          _of(Pupil.site_id, site))).all())
    consent = consent_on(session, [pid for pid, _ in pupils], day)
    classes: dict[str, list[int]] = {}
    for pid, class_name in pupils:
        classes.setdefault(class_name, []).append(pid)
    return [ClassConsent(name, len(ids), sum(1 for i in ids if consent[i].allows(Media.IMAGES)),
                         sum(1 for i in ids if consent[i].allows(Media.VIDEOS)),
                         sum(1 for i in ids if consent[i].record_id is None))
            for name, ids in sorted(classes.items())]


def academic_year(day: date) -> int:
    return academic_year_of(day)
