"""Access logs: filter, page (keyset on ts,id), one device's timeline, CSV export; every look is audited."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, render_template, request, stream_with_context, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_web.access import LOG_READERS, database, get_or_404, roles
from rules.localtime import end_of_london_day, start_of_london_day
from rules.store import access_log
from rules.store.audit import audit
from rules.store.models import Device, Group

bp = Blueprint("logs", __name__, url_prefix="/logs")


def _int(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _filter(device_id: int | None = None) -> access_log.LogFilter:
    since, until = _day("from"), _day("to")
    action = request.args.get("action", "")
    return access_log.LogFilter(
        device_id=device_id if device_id is not None else _int("device"),
        person=request.args.get("person", "").strip()[:128], group_id=_int("group"),
        since=start_of_london_day(since) if since else None, until=end_of_london_day(until) if until else None,
        action=action if action in access_log.ACTIONS else "", category=request.args.get("category", "").strip()[:64],
        host=request.args.get("host", "").strip()[:253])


def _choices(db_session: Session) -> dict[str, object]:
    return {"devices": list(db_session.execute(select(Device.id, Device.name).order_by(Device.name))),
            "groups": list(db_session.execute(select(Group.id, Group.name).order_by(Group.name)))}


@bp.route("/")
@roles(*LOG_READERS)
def index() -> ResponseReturnValue:
    flt = _filter()
    with database().session() as db_session:
        result = access_log.page(db_session, flt, request.args.get("after"))
        audit(db_session, current_user.email, "access_log.view", "access log", after=flt.describe())
        choices = _choices(db_session)
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "after"}
    next_url = url_for("logs.index", **args, after=result.next_cursor) if result.next_cursor else None
    export_url = url_for("logs.export", **args)
    return render_template("logs/index.html", page=result, args=args, next_url=next_url, export_url=export_url,
                           actions=access_log.ACTIONS, **choices)


@bp.route("/device/<int:device_id>")
@roles(*LOG_READERS)
def device(device_id: int) -> ResponseReturnValue:
    flt = _filter(device_id)
    with database().session() as db_session:
        dev = get_or_404(db_session, Device, device_id)
        result = access_log.page(db_session, flt, request.args.get("after"))
        audit(db_session, current_user.email, "access_log.view", f"device #{device_id}", after=flt.describe())
        group_name = dev.group.name if dev.group else "—"
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "after"}
    next_url = url_for("logs.device", device_id=device_id, **args, after=result.next_cursor) \
        if result.next_cursor else None
    return render_template("logs/device.html", dev=dev, group_name=group_name, page=result, next_url=next_url)


@bp.route("/export.csv")
@roles(*LOG_READERS)
def export() -> ResponseReturnValue:
    flt = _filter()
    with database().session() as db_session:
        audit(db_session, current_user.email, "access_log.export", "access log", after=flt.describe())
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
