"""The social media site creation approval form: any member of staff files it, the marketing officer then the
headteacher sign it (the headteacher's approval makes the school account), either may refuse; a printable view.

Who sees a form: the member of staff who filed it, the marketing officer and the headteacher (they sign), of
the viewer's schools; another school's form answers 404. A form is filed in the school the member of staff is
working in, and its administrators and posters are chosen from that school's staff.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import SelectChoice

from admin_web.access import ANY, database, roles
from admin_web.forms import opts
from admin_web.params import ChoiceParam, Query, accepts
from admin_web.school_account_forms import (
    HeadteacherSignForm,
    MarketingSignForm,
    RefuseForm,
    SiteCreationWTForm,
    error_text,
)
from admin_web.sites import current_site_id, visible_site_ids
from rules.policy.families import FAMILIES
from rules.school_media import accounts, site_approval, site_forms
from rules.school_media.site_forms import AUDIENCE_BOXES, FormError, FormStatus, SiteProposal
from rules.store.models import SiteCreationForm, SocialAccount, User
from rules.workflows.access_requests import service_domains

bp = Blueprint("site_forms", __name__, url_prefix="/site-forms")
STATUSES = tuple(s.value for s in FormStatus)


def hours_choices(db_session: Session) -> list[SelectChoice]:
    """"Any time", then the school's hours by name (the headteacher chooses on approving, or later)."""
    return opts([(0, "Any time")] + [(s.id, f"{s.name} ({s.days}, {s.start_time}\u2013{s.end_time})")
                                     for s in accounts.schedules(db_session)])


def staff_choices(db_session: Session, site_id: int) -> list[tuple[int, str]]:
    """The school's active staff accounts, by name: who may administer its sites or post on them."""
    query = select(User).where(User.active.is_(True), User.id.in_(accounts.staff_of(site_id)))
    return [(u.id, f"{u.name} ({u.email})") for u in db_session.scalars(query.order_by(User.name, User.id))]


def _load(db_session: Session, form_id: int) -> SiteCreationForm:
    try:
        return site_forms.get_form(db_session, form_id, current_user.account, current_user.roles,
                                   visible_site_ids())
    except site_forms.NotFound:
        abort(404)


@bp.route("/")
@roles(*ANY)
@accepts(ChoiceParam("status", STATUSES))
def index(query: Query) -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        rows = site_forms.list_forms(db_session, current_user.account, current_user.roles, query["status"],
                                     visible_site_ids())
    return render_template("site_forms/index.html", rows=rows, status=query["status"], families=FAMILIES)


@bp.route("/new", methods=["GET", "POST"])
@roles(*ANY)
def new() -> ResponseReturnValue:
    form = SiteCreationWTForm()
    site_id = current_site_id()
    with database().session(read_only=True) as db_session:
        form.administrator_ids.choices = opts(staff_choices(db_session, site_id))
    problem = None
    if form.is_submitted():
        if not form.validate():
            problem = error_text(form)
        else:
            proposal = SiteProposal(
                platform=form.platform.data or "", site_name=form.site_name.data or "",
                site_url=form.site_url.data or "", department=form.department.data or "",
                moderator=form.moderator.data or "", aims=form.aims.data or "", content=form.content.data or "",
                audience=form.ticked("audience"), contributors=form.ticked("contributors"),
                administrator_ids=list(form.administrator_ids.data or []), vetter=form.vetter.data or "",
                host=form.host.data or "", go_live=form.go_live.data.isoformat() if form.go_live.data else "",
                advertise=form.advertise.data or "", parental_consent=form.parental_consent.data or "",
                security_measures=form.security_measures.data or "")
            try:
                with database().session() as db_session:
                    filed = site_forms.file_form(db_session, current_user.account, proposal, site_id)
            except FormError as exc:
                problem = str(exc)
            else:
                flash(f"Form #{filed.id} was sent to the marketing officer, then the headteacher.", "success")
                return redirect(url_for("site_forms.show", form_id=filed.id))
    return render_template("site_forms/new.html", form=form, boxes=AUDIENCE_BOXES, problem=problem), \
        (400 if problem else 200)


def _context(db_session: Session, form: SiteCreationForm) -> dict[str, object]:
    account = db_session.get(SocialAccount, form.account_id) if form.account_id else None
    return {"req": form, "boxes": AUDIENCE_BOXES, "audience": site_forms.ticked(form.audience),
            "contributors": site_forms.ticked(form.contributors),
            "admins": site_forms.administrator_accounts(db_session, form), "family": FAMILIES.get(form.platform),
            "questions": site_forms.QUESTIONS, "account": account}


@bp.route("/<int:form_id>")
@roles(*ANY)
def show(form_id: int) -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        form = _load(db_session, form_id)
        context = _context(db_session, form)
        head_form = HeadteacherSignForm()
        head_form.poster_ids.choices = opts(staff_choices(db_session, form.site_id))
        head_form.schedule_id.choices = hours_choices(db_session)
        opening, locked = service_domains(db_session, form.platform)
    return render_template("site_forms/show.html", **context, marketing_form=MarketingSignForm(),
                           head_form=head_form, refuse_form=RefuseForm(), opening=opening, locked=locked)


@bp.route("/<int:form_id>/print")
@roles(*ANY)
def print_view(form_id: int) -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        form = _load(db_session, form_id)
        context = _context(db_session, form)
    return render_template("site_forms/print.html", **context)


def _back(form_id: int) -> ResponseReturnValue:
    return redirect(url_for("site_forms.show", form_id=form_id))


def _exists(form_id: int) -> None:
    """404 before a signing form is read, for a form not there or of another school (ids are not probeable)."""
    with database().session(read_only=True) as db_session:
        _load(db_session, form_id)


@bp.route("/<int:form_id>/marketing", methods=["POST"])
@roles("marketing")
def sign_marketing(form_id: int) -> ResponseReturnValue:
    _exists(form_id)
    form = MarketingSignForm()
    if not form.validate_on_submit():
        flash(f"Not signed. {error_text(form)}", "error")
        return _back(form_id)
    try:
        with database().session() as db_session:
            site_approval.sign_as_marketing(db_session, form_id, current_user.account, site_ids=visible_site_ids())
    except site_forms.NotFound:
        abort(404)
    except FormError as exc:
        flash(f"Not signed: {exc}.", "error")
        return _back(form_id)
    flash("Signed as the marketing officer: the form now waits for the headteacher.", "success")
    return _back(form_id)


@bp.route("/<int:form_id>/headteacher", methods=["POST"])
@roles("headteacher")
def sign_headteacher(form_id: int) -> ResponseReturnValue:
    _exists(form_id)
    form = HeadteacherSignForm()
    if not form.validate_on_submit():
        flash(f"Not signed. {error_text(form)}", "error")
        return _back(form_id)
    approval = site_approval.HeadApproval(poster_ids=list(form.poster_ids.data or []),
                                          schedule_id=form.schedule_id.data or None)
    try:
        with database().session() as db_session:
            _, account = site_approval.sign_as_headteacher(db_session, form_id, current_user.account, approval,
                                                           site_ids=visible_site_ids())
    except site_forms.NotFound:
        abort(404)
    except FormError as exc:
        flash(f"Not signed: {exc}.", "error")
        return _back(form_id)
    flash(f"Approved: the school account {account.name} is recorded, and its platform opens for the people "
          "authorised to post, on their own devices, within a few seconds.", "success")
    return redirect(url_for("school_accounts.show", account_id=account.id))


@bp.route("/<int:form_id>/refuse", methods=["POST"])
@roles("marketing", "headteacher")
def refuse(form_id: int) -> ResponseReturnValue:
    _exists(form_id)
    form = RefuseForm()
    if not form.validate_on_submit():
        flash("Not refused: give the reason for refusing.", "error")
        return _back(form_id)
    try:
        with database().session() as db_session:
            site_approval.refuse(db_session, form_id, current_user.account, set(current_user.roles),
                                 form.reason.data or "", site_ids=visible_site_ids())
    except site_forms.NotFound:
        abort(404)
    except FormError as exc:
        flash(f"Not refused: {exc}.", "error")
        return _back(form_id)
    flash("Refused: the member of staff who filed the form can see why.", "success")
    return _back(form_id)
