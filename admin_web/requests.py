"""Blocked content access requests: file, follow, review (ICT technician), decide (headteacher), print."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_web.access import ANY, database, roles
from admin_web.forms import AccessRequestForm, AuthoriserForm, TechnicalNoteForm, opts
from admin_web.params import ChoiceParam, Query, accepts
from admin_web.sites import can_see_site, current_site_id, get_visible_or_404, visible_site_ids
from rules.localtime import end_of_london_day
from rules.policy.families import FAMILIES, family_of
from rules.store.models import AccessRequest, Device, Group
from rules.workflows import access_requests as service

bp = Blueprint("requests", __name__, url_prefix="/requests")


def _load(db_session: Session, request_id: int) -> AccessRequest:
    try:
        req = service.get_request(db_session, request_id, current_user.account, current_user.roles)
    except service.NotFound:
        abort(404)
    if not can_see_site(req.site_id):
        abort(404)
    return req


def _authoriser_form(db_session: Session, site_id: int) -> AuthoriserForm:
    """The decision form; the exception can cover a group or a device of the request's own school only."""
    form = AuthoriserForm()
    form.group_id.choices = opts([(0, "— choose a group —")] + [
        (g.id, g.name) for g in db_session.scalars(select(Group).where(Group.site_id == site_id).order_by(Group.name))])
    form.device_id.choices = opts([(0, "— choose a device —")] + [
        (d.id, f"{d.name} ({d.last_ip or 'no address'})")
        for d in db_session.scalars(select(Device).where(Device.site_id == site_id).order_by(Device.name))])
    return form


@bp.route("/")
@roles(*ANY)
@accepts(ChoiceParam("status", ("open", "approved", "refused")))
def index(query: Query) -> ResponseReturnValue:
    status = query["status"]
    with database().session(read_only=True) as db_session:
        rows = service.list_requests(db_session, current_user.account, current_user.roles, status,
                                     site_ids=visible_site_ids())
    return render_template("requests/index.html", rows=rows, status=status)


@bp.route("/new", methods=["GET", "POST"])
@roles(*ANY)
def new() -> ResponseReturnValue:
    form = AccessRequestForm()
    if form.validate_on_submit():
        with database().session() as db_session:
            req = service.file_request(db_session, current_user.account, full_url=form.full_url.data or "",
                                       site_content=form.site_content.data or "",
                                       reasons=form.reasons_for_access.data or "",
                                       risks=form.risks_and_controls.data or "", site_id=current_site_id())
        flash(f"Request #{req.id} was sent to the ICT technician and the headteacher.", "success")
        return redirect(url_for("requests.show", request_id=req.id))
    return render_template("requests/new.html", form=form)


@bp.route("/<int:request_id>")
@roles(*ANY)
def show(request_id: int) -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        req = _load(db_session, request_id)
        locked = service.locked_category_of(db_session, req.host, req.site_id) if req.status == "open" else None
        decide_form = _authoriser_form(db_session, req.site_id)
        scope_label = _scope_label(req)
        whole = _whole_service(db_session, req)
    return render_template("requests/show.html", req=req, note_form=TechnicalNoteForm(), decide_form=decide_form,
                           locked=locked, scope_label=scope_label, whole=whole)


def _whole_service(db_session: Session, req: AccessRequest) -> dict[str, object] | None:
    """For a host of one of the four services: the family, and the domains "the whole service" would open (or
    opened) and those a locked category keeps closed. None for any other host."""
    found = FAMILIES.get(req.service) if req.service else family_of(req.host)
    if found is None:
        return None
    opening, locked = service.service_domains(db_session, found.key, req.site_id)
    if req.service and req.status == "approved":
        opening = service.opened_domains(db_session, req)
        locked = {d: c for d, c in locked.items() if d not in opening}
    return {"family": found, "opening": opening, "locked": locked}


def _scope_label(req: AccessRequest) -> str:
    if req.scope == "group":
        return f"the group {req.group.name}" if req.group else "a group (since removed)"
    if req.scope == "device":
        return f"the device {req.device.name}" if req.device else "a device (since removed)"
    return "everyone"


@bp.route("/<int:request_id>/print")
@roles(*ANY)
def print_view(request_id: int) -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        req = _load(db_session, request_id)
        scope_label = _scope_label(req)
        whole = _whole_service(db_session, req) if req.service else None
    return render_template("requests/print.html", req=req, scope_label=scope_label, whole=whole)


@bp.route("/<int:request_id>/review", methods=["POST"])
@roles("ict")
def review(request_id: int) -> ResponseReturnValue:
    form = TechnicalNoteForm()
    if not form.validate_on_submit():
        flash("Write the technical note before saving it.", "error")
        return redirect(url_for("requests.show", request_id=request_id))
    with database().session() as db_session:
        req = _load(db_session, request_id)
        service.add_technical_note(db_session, req, current_user.account, form.technical_note.data or "")
    flash("Technical note saved.", "success")
    return redirect(url_for("requests.show", request_id=request_id))


@bp.route("/<int:request_id>/decide", methods=["POST"])
@roles("headteacher")
def decide(request_id: int) -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        req = get_visible_or_404(db_session, AccessRequest, request_id)
        form = _authoriser_form(db_session, req.site_id)
        host = req.host
    if not form.validate_on_submit():
        errors = "; ".join(f"{form[name].label.text}: {msgs[0]}" for name, msgs in form.errors.items())
        flash(f"The decision was not saved. {errors}", "error")
        return redirect(url_for("requests.show", request_id=request_id))
    approved = form.approved.data == "yes"
    approval = None
    if approved:
        if form.until.data is None:
            flash("The decision was not saved: choose the last day the site is open.", "error")
            return redirect(url_for("requests.show", request_id=request_id))
        scope = form.scope.data or "everyone"
        found = family_of(host) if host and form.reach.data == "service" else None
        if form.reach.data == "service" and found is None:
            flash("The decision was not saved: this site is not part of one of the four services; open this site "
                  "only.", "error")
            return redirect(url_for("requests.show", request_id=request_id))
        approval = service.Approval(scope=scope, group_id=form.group_id.data if scope == "group" else None,
                                    device_id=form.device_id.data if scope == "device" else None,
                                    expires_at=end_of_london_day(form.until.data),
                                    service=found.key if found else None)
    try:
        with database().session() as db_session:
            service.decide_request(db_session, request_id, current_user.account, approved=approved,
                                   reasons=form.reasons.data or "", approval=approval)
    except service.NotFound:
        abort(404)
    except service.RequestError as exc:
        flash(f"The decision was not saved: {exc}.", "error")
        return redirect(url_for("requests.show", request_id=request_id))
    flash("Approved: the site opens within a few seconds." if approved else "Refused: the requester can see why.",
          "success")
    return redirect(url_for("requests.show", request_id=request_id))
