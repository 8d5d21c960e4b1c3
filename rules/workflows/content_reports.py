"""Inappropriate content reports: staff report a site, the ICT technician blocks it or records why not.

A report that names an individual is a safeguarding record: the DSL sees those (and only the DSL,
the ICT technician and the reporter see a report at all). The audit entry never copies the name.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rules.sites import DEFAULT_SITE_ID
from rules.store.audit import audit
from rules.store.models import Category, ContentReport, Rule, User, utcnow
from rules.workflows.access_requests import NotFound
from rules.workflows.form_urls import parse_web_url, parse_web_urls


class ReportError(ValueError):
    """The report cannot be filed or actioned as asked; the message says why."""


def _summary(rep: ContentReport) -> dict[str, object]:
    return {"status": rep.status, "full_urls": rep.full_urls, "names_individual": bool(rep.individual),
            "rule_id": rep.rule_id}


def file_report(session: Session, user: User, *, individual: str, incident_date: date, full_urls: str,
                nature: str, site_id: int = DEFAULT_SITE_ID) -> ContentReport:
    urls = parse_web_urls(full_urls)
    rep = ContentReport(reporter_id=user.id, reporter_name=user.name, individual=individual.strip(),
                        incident_date=incident_date.isoformat(), full_urls="\n".join(u.text for u in urls),
                        nature=nature.strip(), status="open", action_taken="", site_id=site_id)
    session.add(rep)
    session.flush()
    audit(session, user.email, "report.file", f"content report #{rep.id}", after=_summary(rep), site_id=rep.site_id)
    return rep


def _visible(roles: set[str], user: User, rep: ContentReport) -> bool:
    return "ict" in roles or rep.reporter_id == user.id or ("dsl" in roles and bool(rep.individual))


def get_report(session: Session, report_id: int, user: User, roles: set[str]) -> ContentReport:
    rep = session.get(ContentReport, report_id)
    if rep is None or not _visible(roles, user, rep):
        raise NotFound(report_id)
    return rep


def list_reports(session: Session, user: User, roles: set[str], status: str | None = None,
                 site_ids: Collection[int] | None = None) -> list[ContentReport]:
    """The newest 500 reports this person may see, of the schools `site_ids` (None: every school)."""
    query = select(ContentReport).order_by(ContentReport.created_at.desc(), ContentReport.id.desc()).limit(500)
    if site_ids is not None:
        query = query.where(ContentReport.site_id.in_(sorted(site_ids)))
    if "ict" not in roles:
        mine = ContentReport.reporter_id == user.id
        query = query.where(mine | (ContentReport.individual != "")) if "dsl" in roles else query.where(mine)
    if status:
        query = query.where(ContentReport.status == status)
    return list(session.scalars(query))


def act_on_report(session: Session, report_id: int, user: User, *, block: bool, action_taken: str,
                  target: str = "", kind: str = "domain", category_id: int | None = None) -> ContentReport:
    """Complete "To be completed by ICT technician": block a domain or URL prefix, or record why not."""
    rep = session.get(ContentReport, report_id)
    if rep is None:
        raise NotFound(report_id)
    if rep.status != "open":
        raise ReportError(f"this report was already completed ({rep.status.replace('_', ' ')})")
    if not action_taken.strip():
        raise ReportError("describe the action taken (or why the site was not blocked)")
    before = _summary(rep)
    rule = None
    if block:
        if kind not in ("domain", "url"):
            raise ReportError("block either the whole site (domain) or one address (URL prefix)")
        url = parse_web_url(target)
        category = session.get(Category, category_id) if category_id is not None else None
        if category is None or category.site_id not in (None, rep.site_id):  # the trust's, or the school's own
            raise ReportError("choose the category the blocked site belongs to")
        rule = Rule(site_id=rep.site_id, action="block", kind=kind, domain=url.host,
                    url_prefix=url.prefix if kind == "url" else None, category_id=category_id, scope="everyone",
                    source="report", enabled=True,
                    reason=f"content report #{rep.id}: {action_taken.strip()}"[:2000], created_by=user.email)
    changed = session.execute(update(ContentReport).where(ContentReport.id == rep.id, ContentReport.status == "open")
                              .values(status="blocked" if block else "not_blocked", action_taken=action_taken.strip(),
                                      actioned_by_id=user.id, actioned_by=user.name, actioned_by_email=user.email,
                                      actioned_at=utcnow()).execution_options(synchronize_session=False))
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise ReportError("this report was completed by someone else a moment ago")
    session.refresh(rep)
    if rule is not None:
        session.add(rule)
        session.flush()
        rep.rule_id = rule.id
        session.flush()
    audit(session, user.email, "report.block" if block else "report.not_blocked", f"content report #{rep.id}",
          before=before, after=_summary(rep), reason=action_taken.strip(), site_id=rep.site_id)
    return rep
