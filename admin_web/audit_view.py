"""The audit log: every change by a person, filterable, read-only (no route edits or deletes an entry)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select, tuple_

from admin_web.access import database, roles
from rules.localtime import end_of_london_day, start_of_london_day
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


@bp.route("/")
@roles("headteacher", "ict", "dsl")
def index() -> ResponseReturnValue:
    actor = request.args.get("actor", "").strip()[:255]
    action = request.args.get("action", "").strip()[:64]
    target = request.args.get("target", "").strip()[:255]
    query = select(AuditEntry).order_by(AuditEntry.ts.desc(), AuditEntry.id.desc()).limit(PAGE + 1)
    if actor:
        query = query.where(AuditEntry.actor.contains(actor, autoescape=True))
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    if target:
        query = query.where(AuditEntry.target.contains(target, autoescape=True))
    for name, bound in (("from", start_of_london_day), ("to", end_of_london_day)):
        try:
            day = date.fromisoformat(request.args.get(name, ""))
        except ValueError:
            continue
        query = query.where(AuditEntry.ts >= bound(day) if name == "from" else AuditEntry.ts < bound(day))
    after = request.args.get("after", "")
    if after.isdigit():
        with database().session(read_only=True) as db_session:
            anchor = db_session.get(AuditEntry, int(after))
        if anchor is not None:
            query = query.where(tuple_(AuditEntry.ts, AuditEntry.id) < tuple_(anchor.ts, anchor.id))
    with database().session(read_only=True) as db_session:
        entries = list(db_session.scalars(query))
    more = len(entries) > PAGE
    entries = entries[:PAGE]
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "after"}
    next_url = url_for("audit.index", **args, after=entries[-1].id) if more and entries else None
    rows = [(e, _pretty(e.before), _pretty(e.after)) for e in entries]
    return render_template("audit/index.html", rows=rows, args=args, next_url=next_url)
