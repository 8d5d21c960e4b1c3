"""Blocked content access requests: staff ask, the ICT technician notes, the headteacher decides.

Approval creates the exception (an allow `Rule`, source "request") in the same transaction as the
decision and its audit entry, and only once: the status changes with a conditional UPDATE, so two
headteachers pressing "approve" together make one rule, not two.

A page on one of the four services (`rules.policy.families`) needs its CDN and API hosts too: for such a host
the headteacher chooses "this site only" or "the whole service", which makes one allow rule per domain of the
family (same scope and expiry; `rule_id` is the first, `service` the family). Domains of the family that are in
a locked category are left out: no exception opens them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, true, update
from sqlalchemy.orm import Session

from rules.policy.families import family, family_of
from rules.policy.names import parent_domains
from rules.sites import DEFAULT_SITE_ID
from rules.store.audit import audit
from rules.store.models import AccessRequest, Category, Device, Group, ListEntry, Rule, User, utcnow
from rules.workflows.form_urls import parse_web_url

SCOPES = ("everyone", "group", "device")


class RequestError(ValueError):
    """The request cannot be filed or decided as asked; the message says why."""


class NotFound(LookupError):
    """No such request, or not one this person may see (the two look the same on purpose)."""


def _summary(req: AccessRequest) -> dict[str, object]:
    return {"status": req.status, "full_url": req.full_url, "scope": req.scope, "group_id": req.group_id,
            "device_id": req.device_id, "expires_at": req.expires_at, "rule_id": req.rule_id, "service": req.service}


def file_request(session: Session, user: User, *, full_url: str, site_content: str, reasons: str,
                 risks: str, site_id: int = DEFAULT_SITE_ID) -> AccessRequest:
    """File a request in the requester's name, dated now, for the school `site_id`."""
    url = parse_web_url(full_url)
    req = AccessRequest(requester_id=user.id, requester_name=user.name, full_url=url.text, host=url.host,
                        site_content=site_content.strip(), reasons_for_access=reasons.strip(),
                        risks_and_controls=risks.strip(), status="open", technical_note="", decision_reasons="",
                        site_id=site_id)
    session.add(req)
    session.flush()
    audit(session, user.email, "request.file", f"access request #{req.id}", after=_summary(req), site_id=req.site_id)
    return req


def may_see_all(user_roles: set[str]) -> bool:
    return bool(user_roles & {"ict", "headteacher"})


def get_request(session: Session, request_id: int, user: User, roles: set[str]) -> AccessRequest:
    """The request, if this person may see it: its requester, the ICT technician or the headteacher."""
    req = session.get(AccessRequest, request_id)
    if req is None or not (may_see_all(roles) or req.requester_id == user.id):
        raise NotFound(request_id)
    return req


def list_requests(session: Session, user: User, roles: set[str], status: str | None = None,
                  site_ids: Collection[int] | None = None) -> list[AccessRequest]:
    """The newest 500 requests this person may see, of the schools `site_ids` (None: every school)."""
    query = select(AccessRequest).order_by(AccessRequest.created_at.desc(), AccessRequest.id.desc()).limit(500)
    if site_ids is not None:
        query = query.where(AccessRequest.site_id.in_(sorted(site_ids)))
    if not may_see_all(roles):
        query = query.where(AccessRequest.requester_id == user.id)
    if status:
        query = query.where(AccessRequest.status == status)
    return list(session.scalars(query))


def add_technical_note(session: Session, req: AccessRequest, user: User, note: str) -> None:
    """The ICT technician's technical review, signed with their name and the time."""
    before = {"technical_note": req.technical_note, "reviewed_by": req.reviewed_by}
    req.technical_note = note.strip()
    req.reviewed_by = user.name
    req.reviewed_at = utcnow()
    audit(session, user.email, "request.review", f"access request #{req.id}", before=before,
          after={"technical_note": req.technical_note, "reviewed_by": req.reviewed_by}, site_id=req.site_id)


def locked_category_of(session: Session, host: str, site_id: int | None = None) -> str | None:
    """The locked category that holds `host` (or a parent of it), if any: no exception can open it. With `site_id`,
    only the trust's categories and that school's own count (another school's locked list is not this one's)."""
    names = parent_domains(host)
    ours = true() if site_id is None else (Category.site_id.is_(None) | (Category.site_id == site_id))
    listed = session.scalar(select(Category.name).join(ListEntry, ListEntry.category_id == Category.id)
                            .where(Category.locked.is_(True), ours, ListEntry.domain.in_(names)).limit(1))
    if listed is not None:
        return listed
    return session.scalar(select(Category.name).join(Rule, Rule.category_id == Category.id)
                          .where(Category.locked.is_(True), ours, Rule.action == "block", Rule.enabled.is_(True),
                                 Rule.domain.in_(names)).limit(1))


def service_domains(session: Session, family_key: str,
                    site_id: int | None = None) -> tuple[list[str], dict[str, str]]:
    """The domains "the whole service" opens, and those it cannot (domain -> the locked category holding it), for
    the school `site_id` (None: any school's locked category counts)."""
    opening: list[str] = []
    locked: dict[str, str] = {}
    for domain in family(family_key).domains:
        category = locked_category_of(session, domain, site_id)
        if category is None:
            opening.append(domain)
        else:
            locked[domain] = category
    return opening, locked


def opened_domains(session: Session, req: AccessRequest) -> list[str]:
    """The domains an approved request's exceptions were made for, in the order made (the record, whatever the
    locked categories say today)."""
    return list(session.scalars(select(Rule.domain).where(Rule.source == "request",
                                                          Rule.reason.startswith(f"access request #{req.id}: "))
                                .order_by(Rule.id)))


@dataclass(frozen=True)
class Approval:
    """What the headteacher chose: whom the exception covers and until when; `service`, the family key when the
    whole service is opened (None: this site only)."""

    scope: str
    group_id: int | None
    device_id: int | None
    expires_at: datetime
    service: str | None = None


def decide_request(session: Session, request_id: int, user: User, *, approved: bool, reasons: str,
                   approval: Approval | None = None, now: datetime | None = None) -> AccessRequest:
    """Approve (creating the exception) or refuse, once; the caller has checked the headteacher role."""
    moment = now or utcnow()
    req = session.get(AccessRequest, request_id)
    if req is None:
        raise NotFound(request_id)
    if req.requester_id == user.id:
        raise RequestError("you cannot decide your own request: another headteacher must authorise it")
    if req.status != "open":
        raise RequestError(f"this request was already {req.status}")
    if not reasons.strip():
        raise RequestError("give the reasons for the decision")
    before = _summary(req)
    values: dict[str, object] = {"status": "approved" if approved else "refused", "decision_reasons": reasons.strip(),
                                 "authoriser_id": user.id, "authoriser_name": user.name,
                                 "authoriser_email": user.email, "decided_at": moment}
    if approved:
        if approval is None:
            raise RequestError("say whom the exception covers and until when")
        _check_approval(session, req, approval, moment)
        values.update(scope=approval.scope, group_id=approval.group_id, device_id=approval.device_id,
                      expires_at=approval.expires_at, service=approval.service)
    # Once only: the row changes only if it is still open, in this transaction.
    changed = session.execute(update(AccessRequest).where(AccessRequest.id == req.id, AccessRequest.status == "open")
                              .values(**values).execution_options(synchronize_session=False))
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise RequestError("this request was decided by someone else a moment ago")
    session.refresh(req)
    if approved and approval is not None:
        domains = service_domains(session, approval.service, req.site_id)[0] if approval.service else [req.host]
        rules = [Rule(site_id=req.site_id, action="allow", kind="domain", domain=domain, scope=approval.scope,
                      group_id=approval.group_id, device_id=approval.device_id, expires_at=approval.expires_at,
                      source="request", reason=f"access request #{req.id}: {reasons.strip()}"[:2000],
                      created_by=user.email, enabled=True) for domain in domains]
        for rule in rules:
            session.add(rule)
            session.flush()  # one at a time, so the first rule has the lowest id
        req.rule_id = rules[0].id
        session.flush()
    audit(session, user.email, "request.approve" if approved else "request.refuse", f"access request #{req.id}",
          before=before, after=_summary(req), reason=reasons.strip(), site_id=req.site_id)
    return req


def _check_approval(session: Session, req: AccessRequest, approval: Approval, now: datetime) -> None:
    if approval.scope not in SCOPES:
        raise RequestError(f"the exception must cover one of: {', '.join(SCOPES)}")
    # The exception is the request's school's own: a group or device of another school is as if it did not exist.
    group = session.get(Group, approval.group_id) if approval.group_id is not None else None
    if approval.scope == "group" and (group is None or group.site_id != req.site_id):
        raise RequestError("choose the group the exception covers")
    device = session.get(Device, approval.device_id) if approval.device_id is not None else None
    if approval.scope == "device" and (device is None or device.site_id != req.site_id):
        raise RequestError("choose the device the exception covers")
    if approval.expires_at <= now:
        raise RequestError("the end date must be in the future")
    locked = locked_category_of(session, req.host, req.site_id)
    if locked is not None:
        raise RequestError(f"{req.host} is in the locked category {locked!r}: no exception can open it")
    if approval.service is not None:
        found = family_of(req.host)
        if found is None or found.key != approval.service:
            raise RequestError(f"{req.host} is not part of that service: open this site only")
