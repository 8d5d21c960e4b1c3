"""The audit log: every change by a person, filterable, read-only (no route edits or deletes an entry).

An alert's entry (and a ban's, from before bans kept their evidence to themselves) carries the evidence: what a
device did, when. Showing it is a view of evidence like the ban's own page, so a page that shows any is recorded
(`ban.evidence_view`, naming the entries) in the same transaction as the read.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select, tuple_

from admin_web.access import database, roles
from admin_web.params import INT64_MAX, DayParam, IntParam, Query, TextParam, accepts
from admin_web.sites import acts_for_trust, viewer_audit_site, visible, visible_site_ids
from rules.localtime import end_of_london_day, start_of_london_day
from rules.store.audit import audit
from rules.store.models import AuditEntry

bp = Blueprint("audit", __name__, url_prefix="/audit")
PAGE = 100


def _pretty(text: str | None) -> list[tuple[str, str]]:
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return [("", text)]
    if isinstance(data, dict):
        return [(str(k), json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v) for k, v in data.items()]
    return [("", json.dumps(data, ensure_ascii=False))]


def _has_evidence(text: str | None) -> bool:
    """Whether the entry's JSON holds evidence (a list of what a device did) rather than a count or "[removed]"."""
    if not text or '"evidence": [' not in text:
        return False
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and isinstance(data.get("evidence"), list) and bool(data["evidence"])


FILTERS = (TextParam("actor", 255), TextParam("action", 64), TextParam("target", 255), DayParam("from"),
           DayParam("to"), IntParam("after", 1, INT64_MAX))


@bp.route("/")
@roles("headteacher", "ict", "dsl")
@accepts(*FILTERS)
def index(query: Query) -> ResponseReturnValue:
    # the viewer's schools' entries; the trust's own (site_id NULL: sign-ins, trust-wide categories) to trust admins,
    # and to everyone of a trust of one school, whose pages show what they always showed
    trust_level = acts_for_trust()
    select_entries = visible(select(AuditEntry), AuditEntry.site_id, trust_wide=trust_level).order_by(
        AuditEntry.ts.desc(), AuditEntry.id.desc()).limit(PAGE + 1)
    if query["actor"]:
        select_entries = select_entries.where(AuditEntry.actor.contains(query["actor"], autoescape=True))
    if query["action"]:
        select_entries = select_entries.where(AuditEntry.action.startswith(query["action"], autoescape=True))
    if query["target"]:
        select_entries = select_entries.where(AuditEntry.target.contains(query["target"], autoescape=True))
    if query["from"]:
        select_entries = select_entries.where(AuditEntry.ts >= start_of_london_day(query["from"]))
    if query["to"]:
        select_entries = select_entries.where(AuditEntry.ts < end_of_london_day(query["to"]))
    with database().session() as db_session:
        if query["after"] is not None:
            anchor = db_session.get(AuditEntry, query["after"])
            schools = visible_site_ids()
            hidden = schools is not None and anchor is not None and anchor.site_id not in schools \
                and not (trust_level and anchor.site_id is None)
            if anchor is None or hidden:
                abort(400, description="That page of the audit log no longer exists: start again from the first "
                                       "page.")
            select_entries = select_entries.where(tuple_(AuditEntry.ts, AuditEntry.id) < tuple_(anchor.ts, anchor.id))
        entries = list(db_session.scalars(select_entries))
        more = len(entries) > PAGE
        entries = entries[:PAGE]
        with_evidence = [e.id for e in entries if _has_evidence(e.before) or _has_evidence(e.after)]
        if with_evidence:
            audit(db_session, current_user.email, "ban.evidence_view", "audit log", after={"entries": with_evidence},
                  site_id=viewer_audit_site())
    args = query.link_args("after")
    next_url = url_for("audit.index", **args, after=entries[-1].id) if more and entries else None
    rows = [(e, _pretty(e.before), _pretty(e.after)) for e in entries]
    return render_template("audit/index.html", rows=rows, args=args, next_url=next_url)
