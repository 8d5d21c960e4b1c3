"""Inappropriate content reports: file, follow, act on (ICT technician), and print."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_web.access import ANY, database, roles
from admin_web.forms import ContentReportForm, ReportActionForm, opts
from admin_web.params import ChoiceParam, Query, accepts
from admin_web.sites import can_see_site, current_site_id, get_visible_or_404, visible_site_ids
from rules.store.models import Category, ContentReport
from rules.workflows import content_reports as service
from rules.workflows.access_requests import NotFound
from rules.workflows.form_urls import BadURL

bp = Blueprint("reports", __name__, url_prefix="/reports")


def _load(db_session: Session, report_id: int) -> ContentReport:
    try:
        rep = service.get_report(db_session, report_id, current_user.account, current_user.roles)
    except NotFound:
        abort(404)
    if not can_see_site(rep.site_id):
        abort(404)
    return rep


def _action_form(db_session: Session, site_id: int, first_url: str = "") -> ReportActionForm:
    """The ICT technician's form; the site goes into a trust-wide category or one of the report's school's own."""
    form = ReportActionForm()
    categories = select(Category).where(Category.site_id.is_(None) | (Category.site_id == site_id))
    form.category_id.choices = opts([(0, "— choose a category —")] + [
        (c.id, c.name + (" (locked)" if c.locked else ""))
        for c in db_session.scalars(categories.order_by(Category.name))])
    if not form.target.data:
        form.target.data = first_url
    return form


@bp.route("/")
@roles(*ANY)
@accepts(ChoiceParam("status", ("open", "blocked", "not_blocked")))
def index(query: Query) -> ResponseReturnValue:
    status = query["status"]
    with database().session(read_only=True) as db_session:
        rows = service.list_reports(db_session, current_user.account, current_user.roles, status,
                                    site_ids=visible_site_ids())
    return render_template("reports/index.html", rows=rows, status=status)


@bp.route("/new", methods=["GET", "POST"])
@roles(*ANY)
def new() -> ResponseReturnValue:
    form = ContentReportForm()
    if request.method == "GET" and form.incident_date.data is None:
        form.incident_date.data = date.today()
    if form.validate_on_submit():
        with database().session() as db_session:
            rep = service.file_report(db_session, current_user.account, individual=form.individual.data or "",
                                      incident_date=form.incident_date.data or date.today(),
                                      full_urls=form.full_urls.data or "", nature=form.nature.data or "",
                                      site_id=current_site_id())
        flash(f"Report #{rep.id} was sent to the ICT technician.", "success")
        return redirect(url_for("reports.show", report_id=rep.id))
    return render_template("reports/new.html", form=form)


@bp.route("/<int:report_id>")
@roles(*ANY)
def show(report_id: int) -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        rep = _load(db_session, report_id)
        form = _action_form(db_session, rep.site_id, rep.full_urls.splitlines()[0] if rep.full_urls else "")
    return render_template("reports/show.html", rep=rep, form=form)


@bp.route("/<int:report_id>/print")
@roles(*ANY)
def print_view(report_id: int) -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        rep = _load(db_session, report_id)
    return render_template("reports/print.html", rep=rep)


@bp.route("/<int:report_id>/action", methods=["POST"])
@roles("ict")
def action(report_id: int) -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        rep = get_visible_or_404(db_session, ContentReport, report_id)
        form = _action_form(db_session, rep.site_id)
    if not form.validate_on_submit():
        flash("Nothing was saved: describe the action taken.", "error")
        return redirect(url_for("reports.show", report_id=report_id))
    block = form.outcome.data == "block"
    try:
        with database().session() as db_session:
            service.act_on_report(db_session, report_id, current_user.account, block=block,
                                  action_taken=form.action_taken.data or "", target=form.target.data or "",
                                  kind=form.kind.data or "domain", category_id=form.category_id.data or None)
    except NotFound:
        abort(404)
    except (service.ReportError, BadURL) as exc:
        flash(f"Nothing was saved: {exc}.", "error")
        return redirect(url_for("reports.show", report_id=report_id))
    flash("Blocked: the filter applies it within a few seconds." if block else "Recorded: the site was not blocked.",
          "success")
    return redirect(url_for("reports.show", report_id=report_id))
