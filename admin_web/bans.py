"""Bans: every member of staff sees whom to supervise; the evidence is for those who act on it.

`show` is what a teacher needs in a lesson: who is banned, until when, and the form that opens supervised
access. `evidence` (the headteacher, the DSL, the ICT technician) adds what the device did, when and its
points, each view written to the audit log; the headteacher confirms or lifts the ban there, beside it.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from admin_web.access import ANY, EVIDENCE_READERS, database, has, roles
from admin_web.forms import BanConfirmForm, BanLiftForm, SuperviseForm
from admin_web.sites import get_visible_or_404, visible_site_ids
from rules.localtime import end_of_london_day
from rules.monitoring import bans as service
from rules.monitoring.states import CURRENT_BAN_STATES
from rules.store.models import Ban

bp = Blueprint("bans", __name__, url_prefix="/bans")


@bp.route("/")
@roles(*ANY)
def index() -> ResponseReturnValue:
    """Current bans: every member of staff needs to know whom to supervise."""
    with database().session(read_only=True) as db_session:
        rows = service.current_bans(db_session, site_ids=visible_site_ids())
        sessions = service.open_sessions(db_session, [b.id for b in rows])
    return render_template("bans/index.html", rows=rows, sessions=sessions)


@bp.route("/<int:ban_id>")
@roles(*ANY)
def show(ban_id: int) -> ResponseReturnValue:
    """Who is banned, until when, and supervised access: no evidence here, so nothing to audit."""
    with database().session(read_only=True) as db_session:
        ban = get_visible_or_404(db_session, Ban, ban_id)
        if ban.state not in CURRENT_BAN_STATES and not has(*EVIDENCE_READERS):
            # A lesson needs only the bans in force; a past ban (the pupil's name, why it was lifted) is for those
            # who decide on bans, so to other staff it is as if it never was.
            abort(404)
        sessions = service.open_sessions(db_session, [ban.id])
        device_name = ban.device.name if ban.device else None
    supervise_form = SuperviseForm()
    supervise_form.staff_name.data = current_user.name
    return render_template("bans/show.html", ban=ban, device_name=device_name, session_open=sessions.get(ban.id),
                           supervise_form=supervise_form)


@bp.route("/<int:ban_id>/evidence")
@roles(*EVIDENCE_READERS)
def evidence(ban_id: int) -> ResponseReturnValue:
    """The evidence, for those who act on it; the view is in the audit log before the page is sent."""
    with database().session() as db_session:
        get_visible_or_404(db_session, Ban, ban_id)  # another school's ban is 404, and its evidence never read
        try:
            ban, columns, rows = service.read_evidence(db_session, ban_id, current_user.account)
        except LookupError:
            abort(404)
        device_name = ban.device.name if ban.device else None
    return render_template("bans/evidence.html", ban=ban, device_name=device_name, columns=columns, evidence=rows,
                           confirm_form=BanConfirmForm(), lift_form=BanLiftForm())


def _done(ban_id: int, message: str) -> ResponseReturnValue:
    flash(message, "success")
    return redirect(url_for("bans.show", ban_id=ban_id))


@bp.route("/<int:ban_id>/confirm", methods=["POST"])
@roles("headteacher")
def confirm(ban_id: int) -> ResponseReturnValue:
    form = BanConfirmForm()
    if not form.validate_on_submit() or form.ends_on.data is None:
        flash("Choose the day the ban ends.", "error")
        return redirect(url_for("bans.evidence", ban_id=ban_id))
    try:
        with database().session() as db_session:
            get_visible_or_404(db_session, Ban, ban_id)
            service.confirm_ban(db_session, ban_id, current_user.account, end_of_london_day(form.ends_on.data),
                                form.reason.data or "")
    except LookupError:
        abort(404)
    except service.BanError as exc:
        flash(f"Not saved: {exc}.", "error")
        return redirect(url_for("bans.evidence", ban_id=ban_id))
    return _done(ban_id, "Ban confirmed.")


@bp.route("/<int:ban_id>/lift", methods=["POST"])
@roles("headteacher")
def lift(ban_id: int) -> ResponseReturnValue:
    form = BanLiftForm()
    if not form.validate_on_submit():
        flash("Give the reason for lifting the ban.", "error")
        return redirect(url_for("bans.evidence", ban_id=ban_id))
    try:
        with database().session() as db_session:
            get_visible_or_404(db_session, Ban, ban_id)
            service.lift_ban(db_session, ban_id, current_user.account, form.reason.data or "",
                             bool(form.false_positive.data))
    except LookupError:
        abort(404)
    except service.BanError as exc:
        flash(f"Not saved: {exc}.", "error")
        return redirect(url_for("bans.evidence", ban_id=ban_id))
    return _done(ban_id, "Ban lifted: the device is filtered normally again within a few seconds.")


@bp.route("/<int:ban_id>/supervise", methods=["POST"])
@roles(*ANY)
def supervise(ban_id: int) -> ResponseReturnValue:
    form = SuperviseForm()
    if not form.validate_on_submit():
        flash("Name the supervising member of staff and the minutes (1 to 240).", "error")
        return redirect(url_for("bans.show", ban_id=ban_id))
    try:
        with database().session() as db_session:
            get_visible_or_404(db_session, Ban, ban_id)
            row = service.supervise(db_session, ban_id, current_user.account, form.staff_name.data or "",
                                    form.minutes.data or 0)
    except LookupError:
        abort(404)
    except service.BanError as exc:
        flash(f"Not opened: {exc}.", "error")
        return redirect(url_for("bans.show", ban_id=ban_id))
    from admin_web.formatting import london

    return _done(ban_id, f"Supervised access is open until {london(row.ends_at, '%H:%M')}.")
