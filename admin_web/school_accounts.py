"""School social media accounts: the list and each account's page (every member of staff: the policy wants staff
to know which accounts are the school's), and the headteacher's changes: authorise or remove a poster, retire the
account, add hours (e.g. the school's hours) an account can be open in.

Each account is of one school: the viewer sees their schools' accounts, and another school's answers 404; its
posters are chosen from its school's staff. Hours are the trust's, shared by every school's accounts."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_web.access import ANY, database, roles
from admin_web.forms import opts
from admin_web.school_account_forms import (
    DAY_LABELS,
    ButtonForm,
    HoursChoiceForm,
    HoursForm,
    PosterAddForm,
    RetireForm,
    error_text,
)
from admin_web.site_forms import hours_choices, staff_choices
from admin_web.sites import get_visible_or_404, visible_site_ids
from rules.policy.families import FAMILIES
from rules.school_media import accounts
from rules.store.models import Schedule, SiteCreationForm, SocialAccount
from rules.workflows.access_requests import service_domains

bp = Blueprint("school_accounts", __name__, url_prefix="/school-accounts")


@bp.route("/")
@roles(*ANY)
def index() -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        rows = accounts.list_accounts(db_session, visible_site_ids())
        hours = {s.id: s for s in accounts.schedules(db_session)}
    return render_template("school_accounts/index.html", rows=rows, hours=hours, families=FAMILIES,
                           hours_form=HoursForm(), day_labels=DAY_LABELS)


@bp.route("/<int:account_id>")
@roles(*ANY)
def show(account_id: int) -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        account = get_visible_or_404(db_session, SocialAccount, account_id)
        people = accounts.members(db_session, account.id)
        schedule = db_session.get(Schedule, account.schedule_id) if account.schedule_id else None
        form_id = db_session.scalar(select(SiteCreationForm.id).where(SiteCreationForm.account_id == account.id))
        add_form = PosterAddForm()
        add_form.user_id.choices = opts([(0, "\u2014 choose a member of staff \u2014")]
                                        + staff_choices(db_session, account.site_id))
        opening, locked = service_domains(db_session, account.platform)
        hours_form = HoursChoiceForm(schedule_id=account.schedule_id or 0)
        hours_form.schedule_id.choices = hours_choices(db_session)
    return render_template("school_accounts/show.html", account=account, people=people, schedule=schedule,
                           form_id=form_id, family=FAMILIES.get(account.platform), add_form=add_form,
                           retire_form=RetireForm(), button_form=ButtonForm(), hours_form=hours_form,
                           opening=opening, locked=locked,
                           administrators=[m for m in people if m.row.role == accounts.MemberRole.ADMINISTRATOR],
                           posters=[m for m in people if m.row.role == accounts.MemberRole.POSTER])


def _back(account_id: int) -> ResponseReturnValue:
    return redirect(url_for("school_accounts.show", account_id=account_id))


def _change(account_id: int, form: FlaskForm, not_done: str, change: Callable[[Session], object],
            done: str) -> ResponseReturnValue:
    """One headteacher's change to an account: the form checked, the change in one transaction, and the page
    again with what happened ("Not removed: ..." naming why, or `done`); an account that is not there, or is of
    another school, is 404 (before the form is read)."""
    with database().session(read_only=True) as db_session:
        get_visible_or_404(db_session, SocialAccount, account_id)
    if not form.validate_on_submit():
        why = error_text(form) if set(form.errors) - {"csrf_token"} else "Reload the page and try again."
        flash(f"{not_done}. {why}", "error")
        return _back(account_id)
    try:
        with database().session() as db_session:
            change(db_session)
    except LookupError:
        abort(404)
    except accounts.AccountError as exc:
        flash(f"{not_done}: {exc}.", "error")
        return _back(account_id)
    flash(done, "success")
    return _back(account_id)


@bp.route("/<int:account_id>/posters", methods=["POST"])
@roles("headteacher")
def add_poster(account_id: int) -> ResponseReturnValue:
    form = PosterAddForm()
    return _change(account_id, form, "Nobody was added",
                   lambda db_session: accounts.add_poster(db_session, account_id, current_user.account,
                                                          form.user_id.data or 0, visible_site_ids()),
                   "Authorised to post: the platform opens on their own devices within a few seconds.")


@bp.route("/<int:account_id>/posters/<int:member_id>/remove", methods=["POST"])
@roles("headteacher")
def remove_poster(account_id: int, member_id: int) -> ResponseReturnValue:
    return _change(account_id, ButtonForm(), "Not removed",
                   lambda db_session: accounts.remove_poster(db_session, account_id, current_user.account, member_id,
                                                             site_ids=visible_site_ids()),
                   "Removed: they may no longer post, and the platform closes on their devices within a few seconds.")


@bp.route("/<int:account_id>/hours", methods=["POST"])
@roles("headteacher")
def set_hours(account_id: int) -> ResponseReturnValue:
    form = HoursChoiceForm()
    return _change(account_id, form, "The hours were not changed",
                   lambda db_session: accounts.set_hours(db_session, account_id, current_user.account,
                                                         form.schedule_id.data or None, visible_site_ids()),
                   "Hours changed: the filter follows within a few seconds.")


@bp.route("/<int:account_id>/retire", methods=["POST"])
@roles("headteacher")
def retire(account_id: int) -> ResponseReturnValue:
    form = RetireForm()
    return _change(account_id, form, "Not retired",
                   lambda db_session: accounts.retire(db_session, account_id, current_user.account,
                                                      form.reason.data or "", site_ids=visible_site_ids()),
                   "Retired: the account no longer opens its platform for anyone.")


@bp.route("/hours", methods=["POST"])
@roles("headteacher")
def add_hours() -> ResponseReturnValue:
    form = HoursForm()
    if not form.validate_on_submit():
        flash(f"The hours were not added. {error_text(form)}", "error")
        return redirect(url_for("school_accounts.index"))
    try:
        with database().session() as db_session:
            schedule = accounts.add_hours(db_session, current_user.account, name=form.name.data or "",
                                          days=list(form.days.data or []), start=form.start.data.strftime("%H:%M"),
                                          end=form.end.data.strftime("%H:%M"))
    except accounts.AccountError as exc:
        flash(f"The hours were not added: {exc}.", "error")
        return redirect(url_for("school_accounts.index"))
    flash(f"Hours {schedule.name} added: choose them when approving a site creation form.", "success")
    return redirect(url_for("school_accounts.index"))
