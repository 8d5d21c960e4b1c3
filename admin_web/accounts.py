"""Accounts, managed by the headteacher: create, change roles and schools, reset a password, disable.

A headteacher manages the accounts of their own schools only (another school's account, and any trust admin's,
is 404), offers only their own schools and can never grant `trust_admin`; a trust admin manages every account,
chooses its schools and may make other trust admins.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from admin_web.access import database, has, roles
from admin_web.forms import AccountForm, opts
from admin_web.sites import current_site_id, site_names, visible_site_ids
from rules.workflows.accounts import (
    ROLES,
    UserError,
    account_schools,
    create_user,
    list_accounts,
    update_account,
)

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


@bp.route("/")
@roles("headteacher")
def index() -> ResponseReturnValue:
    with database().session(read_only=True) as db_session:
        rows = list_accounts(db_session, site_ids=visible_site_ids())
        schools = account_schools(db_session, [u.id for u in rows])
    return render_template("accounts/index.html", rows=rows, schools_of=schools)


def _account_form(names: dict[int, str]) -> AccountForm:
    """The form, offering the roles and schools this viewer may give: trust_admin to trust admins only."""
    form = AccountForm()
    form.roles.choices = opts([(r, r) for r in ROLES if r != "trust_admin" or has("trust_admin")])
    form.schools.choices = opts(list(names.items()))
    return form


@bp.route("/new", methods=["GET", "POST"], defaults={"user_id": None})
@bp.route("/<int:user_id>", methods=["GET", "POST"])
@roles("headteacher")
def edit(user_id: int | None) -> ResponseReturnValue:
    mine = visible_site_ids()
    existing, schools_before = None, []
    if user_id is not None:
        with database().session(read_only=True) as db_session:
            existing = next((u for u in list_accounts(db_session, site_ids=mine) if u.id == user_id), None)
            if existing is None:
                abort(404)  # not an account of the viewer's schools: as if there were none
            schools_before = account_schools(db_session, [user_id])[user_id]
    names = site_names()
    form = _account_form(names)
    if not form.is_submitted():
        if existing is not None:
            form.email.data, form.name.data = existing.email, existing.name
            form.roles.data = existing.roles.split(",")
            form.active.data = existing.active
            form.schools.data = [s for s in schools_before if s in names]
        else:
            form.schools.data = [current_site_id()]
    if form.validate_on_submit():
        # the schools the viewer does not see stay as they were: a headteacher changes only her own schools'; none
        # ticked keeps an account's schools (a new one: the school being worked in)
        ticked = set(form.schools.data or []) or (set(schools_before) if existing is not None else {current_site_id()})
        chosen = ticked | {s for s in schools_before if s not in names}
        try:
            with database().session() as db_session:
                if existing is None:
                    create_user(db_session, email=form.email.data or "", name=form.name.data or "",
                                roles=form.roles.data or [], password=form.password.data or None,
                                actor=current_user.email, site_ids=sorted(chosen))
                else:
                    update_account(db_session, existing.id, current_user.account, name=form.name.data or "",
                                   roles=form.roles.data or [], active=bool(form.active.data),
                                   password=form.password.data or None, site_ids=chosen)
        except UserError as exc:
            flash(f"Not saved: {exc}.", "error")
        except LookupError:
            abort(404)
        else:
            flash("Account saved.", "success")
            return redirect(url_for("accounts.index"))
    return render_template("accounts/edit.html", form=form, existing=existing)

