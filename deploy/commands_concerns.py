"""`concerns list`: the safeguarding concerns, from the DSL's or the operator's shell."""

from __future__ import annotations

import click
from sqlalchemy import select

from deploy.context import pass_app
from deploy.output import iso_utc, json_lines, london, table
from rules.safeguarding.states import ConcernState
from rules.store.audit import audit
from rules.store.models import Concern


@click.group()
def concerns() -> None:
    """Safeguarding concerns raised by monitoring or by staff."""


@concerns.command("list")
@click.option("--all", "show_all", is_flag=True, help="Every concern, closed ones too (default: open ones).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@pass_app
def concerns_list(app, show_all: bool, as_json: bool) -> None:
    """Open concerns (with --all, every one), newest first: id, opened, device, person, category, severity,
    matched, source, state, routed_to. A view of safeguarding records: audited ("concern.list")."""
    db = app.ready_database()
    with db.session() as session:
        query = (select(Concern).where(Concern.site_id == app.site_id)  # this gateway's school only
                 .order_by(Concern.opened_at.desc(), Concern.id.desc()))
        if not show_all:
            query = query.where(Concern.state == ConcernState.OPEN)
        rows = list(session.scalars(query))
        audit(session, app.actor, "concern.list", "concerns list" + (" --all" if show_all else ""),
              after={"concerns": [c.id for c in rows]}, site_id=app.site_id)
        data = [{"id": c.id, "opened": iso_utc(c.opened_at), "device": c.device_name, "person": c.person,
                 "category": c.category, "severity": c.severity, "matched": c.matched, "source": c.source,
                 "state": c.state, "routed_to": c.routed_to, "hits": c.hits, "last_seen": iso_utc(c.last_seen_at),
                 "subject": c.subject, "phrase": c.phrase} for c in rows]
    if as_json:
        json_lines(data)
        return
    if not data:
        click.echo("no open concerns" if not show_all else "no concerns")
        return
    table(("id", "opened (London)", "severity", "category", "source", "device", "person", "matched", "hits",
           "state", "routed to"),
          [(d["id"], london(c.opened_at), d["severity"], d["category"], d["source"], d["device"], d["person"],
            str(d["matched"])[:60], d["hits"], d["state"], d["routed_to"]) for d, c in zip(data, rows, strict=True)])


COMMANDS = [concerns]
