"""Access logs: filter, page (keyset on ts,id), one device's timeline, CSV export; every look is audited.

The filters are declared once (`FILTERS`) and parsed by `admin_web.params`: a bad value is 400, and the
next-page link and the export form carry the declared filters only. The export is a POST with the form's
CSRF token: it writes personal data and an audit entry, so a link on another site must not be able to start it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime

from flask import Blueprint, Response, render_template, stream_with_context, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_web.access import LOG_READERS, database, roles
from admin_web.params import ChoiceParam, CursorParam, DayParam, IntParam, Query, TextParam, accepts
from admin_web.sites import get_visible_or_404, viewer_audit_site, visible, visible_site_ids
from rules.localtime import end_of_london_day, start_of_london_day
from rules.store import access_log
from rules.store.audit import audit
from rules.store.models import Device, Group

bp = Blueprint("logs", __name__, url_prefix="/logs")

# What a person may filter the log by; one device's timeline takes the same, less the device.
DEVICE_FILTERS = (TextParam("person", 128), IntParam("group"), DayParam("from"), DayParam("to"),
                  ChoiceParam("action", access_log.ACTIONS), TextParam("category", 64), TextParam("host", 253))
FILTERS = (IntParam("device"), *DEVICE_FILTERS)
AFTER = CursorParam("after", access_log.parse_cursor)


def _filter(db_session: Session, query: Query, device_id: int | None = None) -> access_log.LogFilter:
    """The filter asked for, over the viewer's schools; a device or group of another school is 404, as a missing
    one would be."""
    for model, key in ((Device, "device"), (Group, "group")):
        if query[key] is not None:
            get_visible_or_404(db_session, model, query[key])
    since, until = query["from"], query["to"]
    return access_log.LogFilter(site_ids=visible_site_ids(),
        device_id=device_id if device_id is not None else query["device"], person=query["person"] or "",
        group_id=query["group"], since=start_of_london_day(since) if since else None,
        until=end_of_london_day(until) if until else None, action=query["action"] or "",
        category=query["category"] or "", host=query["host"] or "")


def _choices(db_session: Session) -> dict[str, object]:
    return {"devices": list(db_session.execute(visible(select(Device.id, Device.name).order_by(Device.name),
                                                       Device.site_id))),
            "groups": list(db_session.execute(visible(select(Group.id, Group.name).order_by(Group.name),
                                                      Group.site_id)))}


@bp.route("/")
@roles(*LOG_READERS)
@accepts(*FILTERS, AFTER)
def index(query: Query) -> ResponseReturnValue:
    with database().session() as db_session:
        flt = _filter(db_session, query)
        result = access_log.page(db_session, flt, query.raw.get("after"))
        audit(db_session, current_user.email, "access_log.view", "access log", after=flt.describe(),
              site_id=viewer_audit_site())
        choices = _choices(db_session)
    args = query.link_args("after")
    next_url = url_for("logs.index", **args, after=result.next_cursor) if result.next_cursor else None
    return render_template("logs/index.html", page=result, args=args, next_url=next_url, actions=access_log.ACTIONS,
                           **choices)


@bp.route("/device/<int:device_id>")
@roles(*LOG_READERS)
@accepts(*DEVICE_FILTERS, AFTER)
def device(device_id: int, query: Query) -> ResponseReturnValue:
    with database().session() as db_session:
        dev = get_visible_or_404(db_session, Device, device_id)
        flt = _filter(db_session, query, device_id)
        result = access_log.page(db_session, flt, query.raw.get("after"))
        audit(db_session, current_user.email, "access_log.view", f"device #{device_id}", after=flt.describe(),
              site_id=dev.site_id)
        group_name = dev.group.name if dev.group else "—"
    next_url = url_for("logs.device", device_id=device_id, **query.link_args("after"), after=result.next_cursor) \
        if result.next_cursor else None
    return render_template("logs/device.html", dev=dev, group_name=group_name, page=result, next_url=next_url)


@bp.route("/export.csv", methods=["POST"])
@roles(*LOG_READERS)
@accepts(*FILTERS, form=True)
def export(query: Query) -> ResponseReturnValue:
    with database().session() as db_session:
        flt = _filter(db_session, query)
        audit(db_session, current_user.email, "access_log.export", "access log", after=flt.describe(),
              site_id=viewer_audit_site())
    db = database()

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        with db.session(read_only=True) as db_session:
            for row in access_log.csv_rows(db_session, flt):
                writer.writerow(row)
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()

    name = f"access-log-{datetime.now().strftime('%Y%m%d-%H%M')}.csv"
    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
