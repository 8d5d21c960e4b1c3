"""Raising a concern by hand: "a pupil told me something". Any member of staff may; it is routed as any other
concern (a pupil to the DSL, a member of staff to the headteacher, the headteacher to the chair of governors)
by `rules.safeguarding.service.raise_manual`, which also audits it and has a high one emailed at once.

The concern goes to the school the member of staff is working in (`current_site_id()`), and its device is
one of that school's: another school's device id in the form answers 404 and raises nothing.

The member of staff then sees only a confirmation, never the queue: what they reported is now the DSL's.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from admin_web.access import ANY, database, roles
from admin_web.concern_forms import RaiseForm
from admin_web.forms import opts
from admin_web.sites import current_site_id
from rules.safeguarding import service
from rules.safeguarding.states import Route, Subject
from rules.store.models import Device

bp = Blueprint("raise_concern", __name__, url_prefix="/concerns")

# Who the member of staff is told it went to: a role, never a person's name.
ROUTED = {Route.DSL: "the designated safeguarding lead (DSL)", Route.HEADTEACHER: "the headteacher",
          Route.CHAIR: "the chair of governors"}


def _form() -> RaiseForm:
    form = RaiseForm()
    with database().session(read_only=True) as db_session:
        devices = db_session.execute(select(Device.id, Device.name).where(Device.site_id == current_site_id())
                                     .order_by(Device.name, Device.id)).all()
    form.device_id.choices = opts([(0, "— not known —"), *[(d.id, d.name) for d in devices]])
    return form


@bp.route("/raise", methods=["GET", "POST"])
@roles(*ANY)
def new() -> ResponseReturnValue:
    form = _form()
    if form.validate_on_submit():
        if form.device_id.data:
            with database().session(read_only=True) as db_session:
                device = db_session.get(Device, form.device_id.data)
            if device is None or device.site_id != current_site_id():
                abort(404)  # another school's device answers as one that does not exist
        try:
            with database().session() as db_session:
                concern = service.raise_manual(
                    db_session, device_id=form.device_id.data or None, person=form.person.data or None,
                    subject=form.subject.data or Subject.PUPIL, category=form.category.data or "",
                    severity=form.severity.data or "", what=form.what.data or "", raised_by=current_user.account,
                    site_id=current_site_id())
                routed_to = Route(concern.routed_to)
        except ValueError as exc:
            flash(f"Not sent: {exc}.", "error")
        else:
            flash(f"Thank you. Your concern was passed to {ROUTED[routed_to]}.", "success")
            return redirect(url_for("raise_concern.raised"))  # a reload must not raise it twice
    return render_template("concerns/raise.html", form=form), 400 if form.is_submitted() else 200


@bp.route("/raised")
@roles(*ANY)
def raised() -> ResponseReturnValue:
    """The confirmation: nothing of the concern is shown back (it may be about the person reading)."""
    return render_template("concerns/raised.html")
